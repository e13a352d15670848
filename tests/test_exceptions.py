"""starc.exceptions: one base class, each error also the standard exception callers expect."""

from __future__ import annotations

import pytest

import starc
from starc import exceptions


@pytest.mark.parametrize("cls, builtin", [
    (exceptions.ValidationError, ValueError),
    (exceptions.SolverError, RuntimeError),
    (exceptions.ConvergenceError, RuntimeError),
    (exceptions.MissingDependencyError, ImportError),
])
def test_every_error_is_a_starc_error_and_its_standard_kind(cls, builtin):
    assert issubclass(cls, exceptions.StarcError) and issubclass(cls, builtin)
    with pytest.raises(exceptions.StarcError):
        raise cls("x")
    with pytest.raises(builtin):
        raise cls("x")


def test_the_public_names_are_the_classes_of_this_module():
    assert set(exceptions.__all__) == {
        name for name, obj in vars(exceptions).items()
        if isinstance(obj, type) and issubclass(obj, exceptions.StarcError)}
    for name in exceptions.__all__:
        assert getattr(starc, name) is getattr(exceptions, name)


def test_a_library_check_raises_the_starc_error_naming_the_argument():
    with pytest.raises(starc.ValidationError, match="gamma"):
        starc.TabularMDP([[[1.0]]], gamma=1.5)
