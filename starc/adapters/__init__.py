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
:func:`from_minigrid`                            a MiniGrid level -> a sparse
                                                 ``(TabularMDP, reward)`` of its
                                                 reachable states
:func:`score_responses`                          a transformers reward model -> scores
                                                 ``(n_prompts, n_responses)`` + mask
:func:`dpo_implicit_reward`                      a DPO policy and its reference -> the
                                                 implicit reward, same shapes
:func:`from_dataset`                             prompts and responses (or preference
                                                 pairs) from a dataset or data frame
==============================================  ==========================================

torch, gymnasium, minigrid and transformers are optional: this package imports none of them. The
functions that need them import them when they run and raise
:class:`~starc.MissingDependencyError` with the ``pip install`` line when they are
missing.
"""

from .callables import tabulate_callable
from .gymnasium import ContinuousTask, from_toy_text, pendulum_task, terminal_states
from .minigrid import MiniGridModel, from_minigrid
from .torch import load_weights, tabulate
from .transformers import PromptResponses, dpo_implicit_reward, from_dataset, score_responses

__all__ = [
    "tabulate",
    "tabulate_callable",
    "load_weights",
    "from_toy_text",
    "terminal_states",
    "pendulum_task",
    "ContinuousTask",
    "from_minigrid",
    "MiniGridModel",
    "score_responses",
    "dpo_implicit_reward",
    "from_dataset",
    "PromptResponses",
]
