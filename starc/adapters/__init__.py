"""Adapters: learned reward models and gymnasium environments as :mod:`starc` inputs.

==============================================  ==========================================
:func:`tabulate`                                 a torch reward model (e.g. an imitation
                                                 ``RewardNet``) -> ``R[s, a, s']``
:func:`tabulate_callable`                        a numpy callable -> ``R[s, a, s']``
:func:`load_weights`                             a ``state_dict`` checkpoint, read with
                                                 ``weights_only=True``
:func:`from_toy_text`                            FrozenLake / Taxi / CliffWalking ->
                                                 ``(TabularMDP, reward)``
:func:`terminal_states`                          the terminal states of a toy-text env
:func:`pendulum_task`                            gymnasium's Pendulum as numpy samplers
                                                 for :mod:`starc.sampled`
==============================================  ==========================================

torch and gymnasium are optional: this package imports neither. The functions that
need them import them when they run and raise :class:`~starc.MissingDependencyError`
with the ``pip install`` line when they are missing.
"""

from .callables import tabulate_callable
from .gymnasium import ContinuousTask, from_toy_text, pendulum_task, terminal_states
from .torch import load_weights, tabulate

__all__ = [
    "tabulate",
    "tabulate_callable",
    "load_weights",
    "from_toy_text",
    "terminal_states",
    "pendulum_task",
    "ContinuousTask",
]
