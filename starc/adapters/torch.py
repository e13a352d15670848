r"""Tabulate a learned torch reward model on a tabular MDP.

Reward models learned by inverse RL or from preferences are usually torch modules. To
compare them with :mod:`starc`'s exact distances, :func:`tabulate` evaluates a model on
every transition :math:`(s, a, s') \in S \times A \times S` and returns the float64 array
:math:`R[s, a, s']` of shape ``(S, A, S)``.

Signatures
----------
``"imitation"`` (default)
    ``model(state, action, next_state, done) -> (batch,)``, the forward signature of
    the imitation library's reward nets [1]_ (``RewardNet.forward``). For discrete
    spaces the library's ``preprocess`` feeds one-hot float rows, which is what
    ``state_features="onehot"`` and ``action_features="onehot"`` (the defaults) pass;
    ``done`` is a float tensor of zeros and ones (``terminal[s']``).
``"sas"``
    ``model(state, action, next_state) -> (batch,)``.

Features may also be ``"index"`` (a long tensor of indices, e.g. for an
``nn.Embedding``) or a user array with one row per state or action (e.g. the
coordinates of a grid cell).

Evaluation runs under ``torch.inference_mode()`` with the module in ``eval()`` mode
(restored afterwards), in batches of ``batch_size`` transitions on ``device``. Batches
enumerate the current state slowest: when a batch holds whole blocks of :math:`A S`
transitions, the action, next-state and done inputs are identical in every batch and
are built once (so the model must not modify its inputs in place). Inputs are cast to
the model's parameter dtype; outputs are checked (one finite number per transition) and
returned as float64.

torch is an optional dependency, imported only when a function of this module runs:
``import starc`` and ``import starc.adapters`` never import it. Without torch the
functions raise :class:`~starc.MissingDependencyError` with the install line
(``pip install torch==2.13.0`` for the CPU wheel, or ``pip install "starc[torch]"``).
Checkpoints are read with ``torch.load(..., weights_only=True)`` (:func:`load_weights`),
which never unpickles arbitrary objects.

References
----------
.. [1] Gleave, Taufeeque, Rocamonde, Jenner, Wang, Toyer, Ernestus, Belrose, Emmons,
   Russell. "imitation: Clean Imitation Learning Implementations". arXiv 2211.11972
   (2022); ``imitation.rewards.reward_nets.RewardNet``.
.. [2] Skalse et al. "STARC: A General Framework for Quantifying Differences Between
   Reward Functions". ICLR 2024, Sec. 2 and Sec. 4 (comparing learned rewards).
"""

from __future__ import annotations

import os

import numpy as np

from .._validation import check_positive_int
from ..exceptions import ValidationError
from ._common import batch_size_for, check_model_output, require, row_width, tabulation_inputs

__all__ = ["tabulate", "load_weights", "require_torch"]

#: The line printed when torch is missing.
INSTALL_HINT = ('install the CPU wheel with `pip install torch==2.13.0`, or '
                '`pip install "starc[torch]"`')


def require_torch():
    """Import and return :mod:`torch`, or raise :class:`~starc.MissingDependencyError`.

    Returns
    -------
    module
        The ``torch`` module.

    Raises
    ------
    MissingDependencyError
        When torch is not installed; the message gives the ``pip install`` line.

    References
    ----------
    .. [1] PyTorch, "Get started locally" (installing the CPU wheel).

    Examples
    --------
    >>> from starc.adapters.torch import require_torch
    >>> require_torch().__name__
    'torch'
    """
    return require("torch", "starc.adapters.torch", INSTALL_HINT)


def _model_dtype(torch, model):
    params = getattr(model, "parameters", None)
    if callable(params):
        for p in params():
            if p.is_floating_point():
                return p.dtype
    return torch.get_default_dtype()


def _device(torch, device):
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError, ValueError) as err:
        raise ValidationError(f"device must name a torch device such as 'cpu' or 'cuda:0', "
                              f"got {device!r} ({err})") from None
    try:  # a valid name on a build or machine without that device (e.g. CUDA on a CPU build)
        torch.empty(0, device=dev)
    except (AssertionError, RuntimeError, TypeError, ValueError) as err:
        raise ValidationError(f"device {device!r} is not available to this torch "
                              f"{torch.__version__} ({err}); use device='cpu'") from None
    return dev


def tabulate(model, mdp, *, signature: str = "imitation", state_features="onehot",
             action_features="onehot", terminal=None, batch_size: int | None = None,
             device="cpu", num_threads: int | None = None) -> np.ndarray:
    r"""Evaluate a torch reward model on every transition of a tabular MDP.

    .. math::

        R[s, a, s'] = \mathrm{model}\big(\phi_S(s), \phi_A(a), \phi_S(s')
        \,[, d(s')]\big), \qquad (s, a, s') \in S \times A \times S,

    with :math:`\phi_S, \phi_A` the state and action features and :math:`d` the done
    flag.

    Parameters
    ----------
    model : torch.nn.Module or callable on tensors
        ``model(state, action, next_state, done) -> (batch,)`` (``"imitation"``) or
        ``model(state, action, next_state) -> (batch,)`` (``"sas"``).
    mdp : TabularMDP or (int, int)
        The MDP, or just ``(n_states, n_actions)``.
    signature : {"imitation", "sas"}, default "imitation"
        See the module documentation.
    state_features : {"onehot", "index"} or array_like of shape (S, ...), default "onehot"
        Model input for each state: a one-hot row ``(batch, S)`` (what imitation's
        ``preprocess`` produces for a ``Discrete`` space), a long index ``(batch,)``, or
        row ``s`` of a user array (``(batch, ...)``).
    action_features : {"onehot", "index"} or array_like of shape (A, ...), default "onehot"
        The same for actions.
    terminal : array_like of bool, shape (S,), optional
        ``done = terminal[s']``; all zeros by default.
    batch_size : int, optional
        Transitions per forward pass; by default about :math:`2^{21}` input numbers
        (8 MiB of float32) per pass, rounded to whole blocks of :math:`A S` transitions
        when a block fits. Small batches stay in cache: on CPU, batches of tens of MiB
        are several times slower per transition.
    device : str or torch.device, default "cpu"
        Where the inputs are placed (the model must already live there).
    num_threads : int, optional
        CPU threads for this call (``torch.set_num_threads``, restored afterwards); by
        default torch's setting is left alone. On a busy machine one thread can be
        several times faster than an oversubscribed pool.

    Returns
    -------
    ndarray of shape (S, A, S)
        float64 rewards.

    Raises
    ------
    MissingDependencyError
        When torch is not installed.
    ValidationError
        When the model returns the wrong shape (e.g. ``(batch, 1)``), something other
        than a tensor, or NaN/inf (the message names ``model`` and the first bad
        transition); when an option is invalid or ``device`` is not available (CUDA on a
        CPU build); before allocating, when the table would not fit in memory.

    See Also
    --------
    starc.adapters.callables.tabulate_callable : the same for numpy callables.

    References
    ----------
    .. [1] Gleave et al. 2022, "imitation", ``RewardNet.forward``.
    .. [2] Skalse et al. 2024 ("STARC"), Sec. 2 (rewards :math:`R(s, a, s')`).

    Examples
    --------
    >>> import torch
    >>> from starc import random_mdp
    >>> from starc.adapters.torch import tabulate
    >>> class Net(torch.nn.Module):
    ...     def __init__(self, n_states, n_actions):
    ...         super().__init__()
    ...         self.lin = torch.nn.Linear(2 * n_states + n_actions + 1, 1)
    ...     def forward(self, state, action, next_state, done):
    ...         x = torch.cat([state, action, next_state, done[:, None]], dim=1)
    ...         return self.lin(x).squeeze(-1)
    >>> mdp = random_mdp(5, 2, seed=0)
    >>> R = tabulate(Net(5, 2), mdp)
    >>> R.shape, R.dtype
    ((5, 2, 5), dtype('float64'))
    """
    torch = require_torch()
    if not callable(model):
        raise ValidationError(f"model must be a torch module or callable, got "
                              f"{type(model).__name__}")
    n_states, n_actions, fs, fa, done = tabulation_inputs(
        mdp, signature, state_features, action_features, terminal, "tabulate")
    dev = _device(torch, device)
    total = n_states * n_actions * n_states
    step = batch_size_for(batch_size, total, row_width(fs, fs, fa))
    dtype = _model_dtype(torch, model)
    threads = None if num_threads is None else check_positive_int(num_threads, "num_threads")

    def to_tensor(x):
        if x.dtype.kind in "iu":
            return torch.as_tensor(x, dtype=torch.long, device=dev)
        return torch.as_tensor(x, dtype=dtype, device=dev)

    ts, ta, tdone = to_tensor(fs), to_tensor(fa), torch.as_tensor(done, dtype=dtype, device=dev)
    out = np.empty(total)
    was_training = getattr(model, "training", None)
    if was_training is not None and hasattr(model, "eval"):
        model.eval()
    old_threads = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        with torch.inference_mode():
            for start, stop, args in _batches(torch, ts, ta, tdone, n_states, n_actions, step,
                                              dev, signature):
                try:
                    val = model(*args)
                except (RuntimeError, TypeError, ValueError, IndexError) as err:
                    shapes = ", ".join(str(tuple(a.shape)) for a in args)
                    raise ValidationError(
                        f"model failed on a batch of inputs of shapes {shapes} (signature "
                        f"{signature!r}, an MDP with {n_states} states and {n_actions} "
                        f"actions): {type(err).__name__}: {err}. Check that the model's "
                        "input sizes fit the MDP and the state/action features") from err
                if not isinstance(val, torch.Tensor):
                    raise ValidationError(f"model must return a torch.Tensor of shape "
                                          f"({stop - start},), got {type(val).__name__}")
                if val.is_complex():
                    raise ValidationError(f"model returned complex dtype {val.dtype}; it "
                                          "must return real numbers")
                arr = val.detach().to(device="cpu", dtype=torch.float64).numpy()
                out[start:stop] = check_model_output(arr, stop - start, start, n_states,
                                                     n_actions, name="model")
    finally:
        if was_training:
            model.train(True)
        if threads is not None:
            torch.set_num_threads(old_threads)
    return out.reshape(n_states, n_actions, n_states)


def _batches(torch, ts, ta, tdone, n_states, n_actions, step, dev, signature):
    """Yield ``(start, stop, model_args)`` covering all transitions in order.

    When a batch holds whole blocks of ``A * S`` transitions (one current state each),
    the action, next-state and done inputs are the same tiled block in every batch:
    they are built once, and only the current-state rows are gathered per batch.
    """
    block = n_actions * n_states
    total = n_states * block
    if step >= block:
        n_per = step // block
        k = torch.arange(n_per * block, device=dev)
        a_idx = torch.remainder(torch.div(k, n_states, rounding_mode="floor"), n_actions)
        s2_idx = torch.remainder(k, n_states)
        fixed = (ta[a_idx], ts[s2_idx], tdone[s2_idx])
        for s0 in range(0, n_states, n_per):
            s1 = min(n_states, s0 + n_per)
            rows = (s1 - s0) * block
            state = ts[torch.arange(s0, s1, device=dev)].repeat_interleave(block, dim=0)
            args = (state, fixed[0][:rows], fixed[1][:rows])
            if signature == "imitation":
                args = args + (fixed[2][:rows],)
            yield s0 * block, s1 * block, args
        return
    for start in range(0, total, step):
        stop = min(total, start + step)
        k = torch.arange(start, stop, device=dev)
        s = torch.div(k, block, rounding_mode="floor")
        a = torch.remainder(torch.div(k, n_states, rounding_mode="floor"), n_actions)
        s2 = torch.remainder(k, n_states)
        args = (ts[s], ta[a], ts[s2])
        if signature == "imitation":
            args = args + (tdone[s2],)
        yield start, stop, args


def load_weights(model, path, *, device="cpu", strict: bool = True):
    """Load a ``state_dict`` checkpoint into ``model`` with ``weights_only=True``.

    Parameters
    ----------
    model : torch.nn.Module
        The module whose parameters are replaced.
    path : str or os.PathLike
        A file written by ``torch.save(model.state_dict(), path)``.
    device : str or torch.device, default "cpu"
        ``map_location`` of :func:`torch.load`.
    strict : bool, default True
        Passed to ``model.load_state_dict``.

    Returns
    -------
    torch.nn.Module
        ``model``, for chaining.

    Raises
    ------
    MissingDependencyError
        When torch is not installed.
    ValidationError
        When ``path`` does not exist, holds something other than tensors (pickled
        objects are refused by ``weights_only=True``), or does not fit ``model``.

    References
    ----------
    .. [1] PyTorch documentation, ``torch.load(weights_only=True)``: loading restricted
       to tensors and primitive types.

    Examples
    --------
    >>> import os, tempfile, torch
    >>> from starc.adapters.torch import load_weights
    >>> net = torch.nn.Linear(3, 1)
    >>> path = os.path.join(tempfile.mkdtemp(), "net.pt")
    >>> torch.save(net.state_dict(), path)
    >>> load_weights(torch.nn.Linear(3, 1), path).weight.shape
    torch.Size([1, 3])
    """
    torch = require_torch()
    if not isinstance(model, torch.nn.Module):
        raise ValidationError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not isinstance(path, (str, os.PathLike)):
        raise ValidationError(f"path must be a str or os.PathLike, got {type(path).__name__}")
    if not os.path.exists(path):
        raise ValidationError(f"path {os.fspath(path)!r} does not exist")
    dev = _device(torch, device)
    try:
        state = torch.load(path, map_location=dev, weights_only=True)
    except Exception as err:  # unpickling refused, corrupt file
        raise ValidationError(f"path {os.fspath(path)!r} could not be loaded with "
                              f"weights_only=True: {err}") from None
    if not isinstance(state, dict):
        raise ValidationError(f"path {os.fspath(path)!r} holds a {type(state).__name__}, not "
                              "a state_dict; save with torch.save(model.state_dict(), path)")
    try:
        model.load_state_dict(state, strict=strict)
    except (RuntimeError, KeyError) as err:
        raise ValidationError(f"the checkpoint at path {os.fspath(path)!r} does not fit "
                              f"model: {err}") from None
    return model
