"""Reward models on prompts and responses (contextual bandits): the STARC stack (THEORY §10)."""

from .overoptimization import OVEROPTIMIZATION_COLUMNS, overoptimization, plot_overoptimization

__all__ = ["overoptimization", "plot_overoptimization", "OVEROPTIMIZATION_COLUMNS"]
