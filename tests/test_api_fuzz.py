"""API fuzz: bad and extreme inputs to every public callable.

The contract (DESIGN.md §4, issue 14): a public function returns finite, documented values
or raises a :class:`starc.StarcError` subclass — never a raw numpy/scipy/cvxpy/numba
exception (``ValueError`` from numpy's broadcasting, ``LinAlgError``, ``MemoryError``,
``AssertionError``, ``TypeError`` from deep inside a computation) and never a silent NaN
or infinity.

Two tests per public callable, starting from its valid call in ``api_fuzz_cases.py``:

``test_single_argument_mutations``
    Deterministic: every mutable argument is replaced, one at a time, by every value of a
    pool chosen by the argument's kind (arrays: NaN, inf, magnitudes 1e-300..1.7e308,
    subnormals, constant, empty, one-element, transposed, flattened, extra axis, complex,
    object, string and boolean dtypes; numbers: NaN, inf, negative, zero, huge, tiny, a
    discount of 1 - 1e-16, wrong types; names: unknown, empty, non-strings; files:
    missing, a folder, garbage, truncated). All failures of one callable are reported
    together.
``test_generated_extreme_arrays``
    Hypothesis: every float-array argument is replaced by an array of the same shape drawn
    with magnitudes across the whole float64 range (and NaN/inf at random places), all
    arguments at once.

Run with ``STARC_HYPOTHESIS_PROFILE=thorough`` for many more generated examples.
``python tests/test_api_fuzz.py`` prints the coverage: fuzzed callables out of all public
callables.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import warnings
from collections.abc import Mapping

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import starc
from api_fuzz_cases import EXCLUDED, UNAVAILABLE, Case, build_cases, public_callables

#: Seconds one fuzzed call may take before it counts as a failure (a refusal is instant;
#: the valid calls take well under a second).
CALL_TIMEOUT = 30

_CASES: dict[str, Case] | None = None


def cases() -> dict[str, Case]:
    global _CASES
    if _CASES is None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _CASES = build_cases()
    return _CASES


def _case_names() -> list[str]:
    return sorted(cases())


# ----------------------------------------------------------------------------------------
# Pools of bad values
# ----------------------------------------------------------------------------------------

def _array_pool(x: np.ndarray) -> list[tuple[str, object]]:
    pool: list[tuple[str, object]] = []
    if x.dtype.kind == "f" and x.size:
        for label, val in (("nan", np.nan), ("inf", np.inf), ("-inf", -np.inf)):
            y = x.copy()
            y.flat[0] = val
            pool.append((f"array with {label}", y))
        for k in (-300, -200, -160, 160, 200, 300):
            pool.append((f"array * 1e{k}", x * 10.0 ** k))
        pool.append(("array of +-1.7e308", np.where(x >= 0, 1.7e308, -1.7e308)))
        top = np.abs(x).max()
        if top > 0:
            with np.errstate(over="ignore", under="ignore"):
                for label, target in (("1.7e308", 1.7e308), ("1e-310", 1e-310)):
                    scaled = x / top * target  # divide first: no overflow for tiny top
                    if np.all(np.isfinite(scaled)):
                        pool.append((f"array scaled to max {label}", scaled))
        pool.append(("array of subnormals", np.sign(x) * 5e-324))
        pool.append(("array one entry 1e308", np.where(np.arange(x.size).reshape(x.shape) == 0,
                                                       1e308, x)))
        pool.append(("constant array", np.full_like(x, 2.0)))
        pool.append(("zero array", np.zeros_like(x)))
        pool.append(("complex array", x.astype(complex)))
    if x.dtype.kind in "iu" and x.size:
        y = x.copy()
        y.flat[0] = -1
        pool.append(("int array with -1", y))
        y = x.copy()
        y.flat[0] = 10 ** 9
        pool.append(("int array with 1e9", y))
        pool.append(("float array of ints + 0.5", x + 0.5))
    pool.append(("empty array", np.empty((0,) + x.shape[1:], dtype=x.dtype)))
    pool.append(("0-d empty", np.empty(0)))
    if x.size:
        pool.append(("one element", x.reshape(-1)[:1].copy()))
        pool.append(("flattened", x.reshape(-1).copy()))
    if x.ndim >= 2:
        pool.append(("transposed", np.ascontiguousarray(x.T)))
        pool.append(("swapped leading axes", np.ascontiguousarray(np.swapaxes(x, 0, 1))))
        pool.append(("last axis dropped", x[..., 0].copy()))
    pool.append(("extra trailing axis", x[..., None].copy()))
    pool.append(("object array", x.astype(object)))
    pool.append(("string array", x.astype(str)))
    pool.append(("bool array", x.astype(bool)))
    pool.append(("scalar", 1.5))
    pool.append(("None", None))
    pool.append(("string", "abc"))
    pool.append(("ragged list", [[1.0, 2.0], [3.0]]))
    return pool


_NUMBER_POOL = [
    ("nan", float("nan")), ("inf", float("inf")), ("-inf", float("-inf")),
    ("-1", -1), ("0", 0), ("0.0", 0.0), ("1e300", 1e300), ("-1e300", -1e300),
    ("1e-300", 1e-300), ("1 - 1e-16", 1 - 1e-16), ("1.0", 1.0), ("2**63", 2 ** 63),
    ("2.5", 2.5), ("True", True), ("string", "x"), ("None", None), ("list", [1, 2]),
    ("array", np.array([0.5, 0.5])),
]

_STRING_POOL = [
    ("unknown name", "no-such-name"), ("empty string", ""), ("None", None), ("int", 3),
    ("list", ["val"]), ("upper case", "VAL"),
]

_GENERIC_POOL = [("None", None), ("int", 3), ("string", "abc"), ("empty list", []),
                 ("float nan", float("nan")), ("dict", {"a": 1})]


def _path_pool(tmp: str) -> list[tuple[str, object]]:
    garbage = os.path.join(tmp, "garbage.npz")
    with open(garbage, "wb") as fh:
        fh.write(b"PK\x03\x04 not really a zip file" * 3)
    empty = os.path.join(tmp, "empty.npz")
    open(empty, "wb").close()
    truncated = os.path.join(tmp, "truncated.npz")
    np.savez(truncated, transition=np.full((2, 1, 2), 0.5), gamma=0.9)
    with open(truncated, "rb") as fh:
        data = fh.read()
    with open(truncated, "wb") as fh:
        fh.write(data[: len(data) // 2])
    return [("missing file", os.path.join(tmp, "missing.npz")), ("a folder", tmp),
            ("folder that does not exist", os.path.join(tmp, "no", "such", "x.npz")),
            ("garbage file", garbage), ("empty file", empty),
            ("truncated file", truncated), ("None", None), ("int", 3)]


def bad_values(value: object, tmp: str) -> list[tuple[str, object]]:
    """The pool of replacements for one argument whose valid value is ``value``."""
    if isinstance(value, str) and value.startswith("{tmp}"):
        return _path_pool(tmp)
    if isinstance(value, starc.TabularMDP):
        other = starc.random_mdp(2, 2, seed=0)
        return [("None", None), ("string", "mdp"), ("array", np.eye(2)),
                ("MDP of another size", other), ("transition array", value.transition)]
    if isinstance(value, (bool, np.bool_)):
        return [("None", None), ("string", "yes"), ("2", 2), ("nan", float("nan"))]
    if isinstance(value, np.ndarray):
        return _array_pool(value)
    if isinstance(value, (int, float, np.integer, np.floating)):
        return _NUMBER_POOL
    if isinstance(value, str):
        return _STRING_POOL
    if isinstance(value, (list, tuple)) and value and not callable(value):
        arr = None
        try:
            arr = np.asarray(value, dtype=float)
        except (TypeError, ValueError):
            pass
        pool = [("empty", type(value)()), ("None", None), ("string", "abc"),
                ("nested None", type(value)([None])), ("int", 3)]
        if arr is not None and arr.dtype.kind == "f":
            pool += [(f"as array: {label}", v) for label, v in _array_pool(arr)[:8]]
        return pool
    if isinstance(value, Mapping):
        return [("empty dict", {}), ("None", None), ("int", 3),
                ("dict of None", {k: None for k in value})]
    if callable(value):
        return [("None", None), ("int", 3), ("string", "abc")]
    return _GENERIC_POOL


# ----------------------------------------------------------------------------------------
# Calling and judging
# ----------------------------------------------------------------------------------------

class _Timeout(Exception):
    pass


def _on_alarm(signum, frame):  # pragma: no cover - only on a hang
    raise _Timeout(f"call took longer than {CALL_TIMEOUT} s")


def _nonfinite(obj: object, path: str = "", depth: int = 0) -> str | None:
    """The path of the first non-finite float in a result, or ``None``."""
    if depth > 4:
        return None
    if isinstance(obj, (float, np.floating, complex, np.complexfloating)):
        return None if np.isfinite(obj) else path or "<result>"
    if isinstance(obj, np.ndarray):
        if obj.dtype.kind in "fc" and obj.size and not np.all(np.isfinite(obj)):
            return path or "<result>"
        return None
    if isinstance(obj, (list, tuple)) and not hasattr(obj, "_fields"):
        for i, item in enumerate(obj[:1000]):
            bad = _nonfinite(item, f"{path}[{i}]", depth + 1)
            if bad:
                return bad
        return None
    if hasattr(obj, "_fields"):  # named tuple
        for name in obj._fields:
            bad = _nonfinite(getattr(obj, name), f"{path}.{name}", depth + 1)
            if bad:
                return bad
        return None
    if isinstance(obj, Mapping):
        for key, item in list(obj.items())[:1000]:
            bad = _nonfinite(item, f"{path}[{key!r}]", depth + 1)
            if bad:
                return bad
        return None
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        for field in dataclasses.fields(obj):
            bad = _nonfinite(getattr(obj, field.name), f"{path}.{field.name}", depth + 1)
            if bad:
                return bad
    return None


def judge(case: Case, args: tuple, kwargs: dict) -> str | None:
    """Call and return a description of a contract violation, or ``None`` if it held."""
    old = signal.signal(signal.SIGALRM, _on_alarm)
    signal.alarm(CALL_TIMEOUT)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)
            warnings.filterwarnings("ignore", category=DeprecationWarning)
            result = case.function(*args, **kwargs)
    except starc.StarcError:
        return None
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # noqa: BLE001 - that is what is being judged
        return f"raised {type(exc).__module__}.{type(exc).__name__}: {str(exc)[:160]}"
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    if "*" in case.nonfinite:
        return None
    bad = _nonfinite(result)
    if bad and bad.lstrip(".") not in case.nonfinite:
        return f"returned a non-finite value at {bad}"
    return None


def _resolve(value: object, tmp: str) -> object:
    if isinstance(value, str) and value.startswith("{tmp}"):
        return value.replace("{tmp}", tmp)
    return value


def _arguments(case: Case, tmp: str) -> tuple[tuple, dict]:
    return (tuple(_resolve(a, tmp) for a in case.args),
            {k: _resolve(v, tmp) for k, v in case.kwargs.items()})


def _slots(case: Case) -> list[str]:
    slots = [str(i) for i in range(len(case.args))] + list(case.kwargs)
    if case.mutate is not None:
        slots = [s for s in slots if s in case.mutate]
    return slots


def _replace(args: tuple, kwargs: dict, slot: str, value: object) -> tuple[tuple, dict]:
    if slot.isdigit():
        i = int(slot)
        return args[:i] + (value,) + args[i + 1:], kwargs
    return args, {**kwargs, slot: value}


def _prepare_files(case: Case, tmp: str) -> None:
    """Files a valid call reads (load_mdp, load_weights) exist before it runs."""
    from api_fuzz_cases import _small_mdp

    starc.save_mdp(os.path.join(tmp, "m.npz"), _small_mdp())
    try:
        import torch

        mdp = _small_mdp()
        net = torch.nn.Linear(2 * mdp.n_states + mdp.n_actions, 1)
        torch.save(net.state_dict(), os.path.join(tmp, "w.pt"))
    except ImportError:
        pass


@pytest.mark.parametrize("name", _case_names())
def test_single_argument_mutations(name, tmp_path):
    case = cases()[name]
    tmp = str(tmp_path)
    _prepare_files(case, tmp)
    args, kwargs = _arguments(case, tmp)
    valid = judge(case, args, kwargs)
    assert valid is None, f"the valid call of {name} violates the contract: {valid}"
    failures = []
    for slot in _slots(case):
        value = case.args[int(slot)] if slot.isdigit() else case.kwargs[slot]
        for label, bad in bad_values(value, tmp):
            _prepare_files(case, tmp)
            new_args, new_kwargs = _replace(args, kwargs, slot, bad)
            problem = judge(case, new_args, new_kwargs)
            if problem:
                failures.append(f"  argument {slot} = {label}: {problem}")
    assert not failures, f"{name}:\n" + "\n".join(failures)


def _float_slots(case: Case) -> list[str]:
    out = []
    for slot in _slots(case):
        value = case.args[int(slot)] if slot.isdigit() else case.kwargs[slot]
        if isinstance(value, np.ndarray) and value.dtype.kind == "f" and value.size:
            out.append(slot)
    return out


_ARRAY_CASES = [n for n in _case_names() if _float_slots(cases()[n])]

_extreme_floats = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False, width=64),
    st.sampled_from([0.0, -0.0, 5e-324, -5e-324, 1.7e308, -1.7e308, 1e-300, 1e300]),
    st.floats(min_value=-1e3, max_value=1e3),
)


@pytest.mark.parametrize("name", _ARRAY_CASES)
@settings(max_examples=int(os.environ.get("STARC_FUZZ_EXAMPLES", "10")))
@given(data=st.data())
def test_generated_extreme_arrays(name, data, tmp_path_factory):
    case = cases()[name]
    tmp = str(tmp_path_factory.mktemp("fuzz"))
    _prepare_files(case, tmp)
    args, kwargs = _arguments(case, tmp)
    for slot in _float_slots(case):
        value = case.args[int(slot)] if slot.isdigit() else case.kwargs[slot]
        scale = 10.0 ** data.draw(st.integers(-300, 300), label=f"log10 scale of {slot}")
        mode = data.draw(st.sampled_from(["scaled", "elementwise", "with nan"]),
                         label=f"mode of {slot}")
        if mode == "scaled":
            new = value * scale
        else:
            flat = data.draw(st.lists(_extreme_floats, min_size=value.size,
                                      max_size=value.size), label=f"entries of {slot}")
            new = np.array(flat, dtype=float).reshape(value.shape)
            if mode == "with nan":
                idx = data.draw(st.integers(0, value.size - 1), label=f"nan index of {slot}")
                new.flat[idx] = np.nan
        args, kwargs = _replace(args, kwargs, slot, new)
    problem = judge(case, args, kwargs)
    assert problem is None, f"{name}: {problem}"


def test_every_public_callable_is_fuzzed_or_excluded():
    public = public_callables()
    unavailable = {name for name in public
                   if any(name.startswith(module + ".") for module in UNAVAILABLE)}
    missing = sorted(set(public) - set(cases()) - set(EXCLUDED) - unavailable)
    assert not missing, ("public callables without a fuzz case in tests/api_fuzz_cases.py "
                         "(add a valid call, or an entry in EXCLUDED with the reason): "
                         + ", ".join(missing))


def coverage() -> tuple[int, int]:
    """(fuzzed, public) callable counts."""
    public = public_callables()
    return len(set(public) & set(cases())), len(public)


if __name__ == "__main__":  # pragma: no cover - a report for people
    fuzzed, total = coverage()
    print(f"API fuzz covers {fuzzed} of {total} public callables "
          f"({len(EXCLUDED)} excluded with a reason: {', '.join(sorted(EXCLUDED))})")
    if UNAVAILABLE:
        print("not fuzzed here, optional dependency missing: "
              + ", ".join(f"{m} ({dep})" for m, dep in sorted(UNAVAILABLE.items())))
