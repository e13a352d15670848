r"""Reward transformations that preserve the order of policies.

Two rewards :math:`R_1, R_2` induce the same ordering of policies in an MDP — for all
:math:`\pi, \pi'`, :math:`J_1(\pi) \ge J_1(\pi') \iff J_2(\pi) \ge J_2(\pi')` — exactly
when one is obtained from the other by the three transformations below [1]_ [2]_ (given
that every state is reachable; see "Unreachable states").

Potential shaping [3]_
    :math:`R'(s, a, s') = R(s, a, s') + \gamma \Phi(s') - \Phi(s)` for any potential
    :math:`\Phi: S \to \mathbb R`. Then :math:`V' = V - \Phi`,
    :math:`Q'(s, a) = Q(s, a) - \Phi(s)` and :math:`J' = J - \mathbb E_{\mu_0}[\Phi]`, for
    every policy. Adding a constant :math:`k` is shaping with :math:`\Phi = -k/(1-\gamma)`.
:math:`S'`-redistribution
    :math:`R' = R + X` with :math:`\mathbb E_{S' \sim \tau(s, a)} X(s, a, S') = 0` for every
    :math:`(s, a)`. It leaves :math:`\bar R`, hence :math:`Q`, :math:`V` and :math:`J`,
    unchanged. Rewards on impossible transitions (:math:`\tau(s'|s,a) = 0`) are arbitrary.
Positive scaling
    :math:`R' = k R` with :math:`k > 0`.

The first two span the linear subspace

.. math::

    N = \{\gamma \Phi(s') - \Phi(s) + X(s, a, s') :
          \textstyle\sum_{s'} \tau(s' \mid s, a) X(s, a, s') = 0\},

of dimension :math:`|S| + |S||A|(|S| - 1)` (the potentials meet the redistributions
only in 0 when :math:`\gamma < 1`). A canonicalization function
(:mod:`starc.canonical`) is a linear map whose kernel is exactly :math:`N`.

Unreachable states
    Rewards on states that no policy reaches from :math:`\mu_0` change no policy's return.
    :mod:`starc` does **not** quotient them out: its canonicalizations and distances
    compare rewards on *every* state, as if each state could be a start state (the STARC
    definitions are stated for all states), so two rewards that differ only on an
    unreachable state have a positive distance but equal returns. Use an initial
    distribution with full support, or restrict the MDP to the reachable states, when
    this matters.

References
----------
.. [1] Skalse, Farnik, Motwani, Jenner, Gleave, Abate. "STARC". ICLR 2024, Sec. 2 and
   Prop. 1 (via Skalse et al. 2023, "Invariance in policy optimisation and partial
   identifiability in reward learning", ICML 2023, Thm. 3.16).
.. [2] Gleave et al. "Quantifying Differences in Reward Functions". ICLR 2021.
.. [3] Ng, Harada, Russell. "Policy invariance under reward transformations". ICML 1999,
   Theorem 1.
"""

from __future__ import annotations

import numpy as np

from ._validation import as_float_array, check_gamma, check_real, check_seed
from .exceptions import ValidationError
from .mdp import TabularMDP, as_dense_mdp, broadcast_reward

__all__ = [
    "potential_shaping",
    "random_potential_shaping",
    "s_prime_redistribution",
]


def potential_shaping(reward, potential, gamma: float) -> np.ndarray:
    r"""Add potential-based shaping to a transition reward.

    .. math::

        R'(s, a, s') = R(s, a, s') + \gamma \Phi(s') - \Phi(s).

    Parameters
    ----------
    reward : array_like of shape (..., S, A, S)
        A transition reward (broadcast lower forms with :func:`starc.broadcast_reward`
        first).
    potential : array_like of shape (..., S)
        :math:`\Phi(s)`; leading axes broadcast against those of ``reward``.
    gamma : float
        Discount in ``[0, 1)``, the MDP's.

    Returns
    -------
    ndarray of shape (..., S, A, S)

    Raises
    ------
    ValidationError
        For bad shapes or ``gamma``, or when the shaped reward exceeds the float64 range
        (it is never returned with ``inf`` entries).

    References
    ----------
    .. [1] Ng, Harada, Russell 1999, Theorem 1; Skalse et al. 2024 ("STARC"), Sec. 2.

    Examples
    --------
    Shaping by a constant potential :math:`\Phi = -k/(1-\gamma)` adds :math:`k`:

    >>> import numpy as np
    >>> from starc import potential_shaping
    >>> R = np.zeros((2, 1, 2))
    >>> potential_shaping(R, np.full(2, -10.0), gamma=0.9)[0, 0]
    array([1., 1.])
    """
    r = as_float_array(reward, "reward", min_ndim=3)
    gamma = check_gamma(gamma)
    phi = as_float_array(potential, "potential", min_ndim=1)
    n = r.shape[-1]
    if r.shape[-3] != n:
        raise ValidationError(f"reward must have shape (..., S, A, S), got {r.shape}")
    if phi.shape[-1] != n:
        raise ValidationError(f"potential must have shape (..., {n}) to match reward of "
                              f"shape {r.shape}, got {phi.shape}")
    try:
        with np.errstate(over="ignore", invalid="ignore"):
            out = r + gamma * phi[..., None, None, :] - phi[..., :, None, None]
    except ValueError:
        raise ValidationError(f"potential of shape {phi.shape} does not broadcast against "
                              f"reward of shape {r.shape}") from None
    return _finite(out, "the shaped reward")


def _finite(out: np.ndarray, what: str) -> np.ndarray:
    """``out``, or a ValidationError when a sum of finite numbers left the float64 range."""
    if not np.all(np.isfinite(out)):
        raise ValidationError(f"{what} exceeds the float64 range (about 1.8e308): the "
                              "reward and the added terms are too large to add; scale them "
                              "down")
    return out


def random_potential_shaping(reward, mdp: TabularMDP, *, scale: float = 1.0,
                             seed=None) -> tuple[np.ndarray, np.ndarray]:
    r"""Shape a reward with a random Gaussian potential.

    Parameters
    ----------
    reward : array_like of shape (..., S, A, S), (..., S, A) or (..., S)
    mdp : TabularMDP
    scale : float, default 1.0
        Standard deviation of :math:`\Phi(s) \sim \mathcal N(0, \text{scale}^2)`.
    seed : int, numpy.random.Generator or None

    Returns
    -------
    shaped : ndarray of shape (..., S, A, S)
        :math:`R + \gamma\Phi(s') - \Phi(s)`; a ValidationError when it exceeds the
        float64 range.
    potential : ndarray of shape (..., S)
        One potential per reward of the batch.

    References
    ----------
    .. [1] Ng, Harada, Russell 1999, Theorem 1.

    Examples
    --------
    >>> import numpy as np
    >>> from starc import random_mdp, random_potential_shaping, policy_evaluation
    >>> mdp = random_mdp(5, 2, seed=0)
    >>> R = np.zeros(mdp.shape)
    >>> shaped, phi = random_potential_shaping(R, mdp, seed=1)
    >>> bool(np.allclose(policy_evaluation(shaped, mdp), -phi))
    True
    """
    as_dense_mdp(mdp, "random_potential_shaping", instead="shape the (S, A) expected reward instead: "
                 "R(s, a) + gamma * (T @ phi)(s, a) - phi(s) with T = mdp.transition")
    r = broadcast_reward(reward, mdp)
    scale = check_real(scale, "scale", low=0.0)
    rng = check_seed(seed)
    phi = scale * rng.standard_normal(r.shape[:-3] + (mdp.n_states,))
    return potential_shaping(r, phi, mdp.gamma), phi


def s_prime_redistribution(reward, mdp: TabularMDP, *, scale: float = 1.0,
                           seed=None) -> np.ndarray:
    r"""Add a random :math:`S'`-redistribution: a reward change that keeps every expectation.

    Draws :math:`Z(s, a, s') \sim \mathcal N(0, \text{scale}^2)` and returns
    :math:`R + X` with

    .. math::

        X(s, a, s') = Z(s, a, s') - \sum_{t} \tau(t \mid s, a) Z(s, a, t),

    so that :math:`\sum_{s'} \tau(s' \mid s, a) X(s, a, s') = 0`. ``X`` is nonzero on
    impossible transitions too, where any value is allowed.

    Parameters
    ----------
    reward : array_like of shape (..., S, A, S), (..., S, A) or (..., S)
    mdp : TabularMDP
    scale : float, default 1.0
    seed : int, numpy.random.Generator or None

    Returns
    -------
    ndarray of shape (..., S, A, S)
        A reward with the same :math:`\bar R(s, a)`, hence the same :math:`Q^\pi`,
        :math:`V^\pi` and :math:`J(\pi)` for every policy.

    References
    ----------
    .. [1] Skalse et al. 2024 ("STARC"), Sec. 2 (:math:`S'`-redistribution).

    Examples
    --------
    >>> import numpy as np
    >>> from starc import random_mdp, random_reward, s_prime_redistribution, expected_reward
    >>> mdp = random_mdp(5, 2, seed=0)
    >>> R = random_reward(mdp, seed=1)
    >>> R2 = s_prime_redistribution(R, mdp, seed=2)
    >>> bool(np.allclose(expected_reward(R2, mdp), expected_reward(R, mdp), atol=1e-12))
    True
    """
    as_dense_mdp(mdp, "s_prime_redistribution", instead="shape the (S, A) expected reward instead: "
                 "R(s, a) + gamma * (T @ phi)(s, a) - phi(s) with T = mdp.transition")
    r = broadcast_reward(reward, mdp)
    scale = check_real(scale, "scale", low=0.0)
    rng = check_seed(seed)
    with np.errstate(over="ignore", invalid="ignore"):
        z = scale * rng.standard_normal(r.shape)
        mean = np.einsum("...sat,sat->...sa", z, mdp.transition)
        out = r + (z - mean[..., None])
    return _finite(out, "the redistributed reward")
