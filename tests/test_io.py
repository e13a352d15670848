"""Files: atomic writes that survive interrupts, outputs checked before computing, and
.npy/.npz reading that refuses truncated, pickled and oversized files (issue 14).

The first part drives the public writers and commands (``save_mdp``, ``SweepResult``,
``starc sweep/demo/compare/figures``, the figure and benchmark scripts); the second tests
the shared helper :mod:`starc._io` directly.
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import json
import os
import re
import signal
import stat
import subprocess
import sys
import textwrap
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

import starc
from figure_scripts import FIGURES, load_script
from starc.cli import main
from starc.sweep import SweepResult, cli_main

ROOT = Path(__file__).resolve().parents[1]
TRUNCATED = "truncated or not an .npz/.npy file"
#: Names the atomic writer gives its temporary files (``.NAME.XXXXXXXX.tmp``).
TEMP_NAME = re.compile(r"^\..+\.[0-9a-f]{8}\.tmp$")


def _one_line_error(capsys, prefix="starc: error:"):
    err = capsys.readouterr().err.strip()
    assert err.startswith(prefix), err
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    return err


def _result(n: int, tag: int) -> SweepResult:
    """A SweepResult whose every entry says which version (``tag``) it is."""
    return SweepResult(["VAL-2-2", "EPIC-2-2"], np.full((n, 2), float(tag)),
                       {"mdp": np.arange(n), "regret": np.full(n, float(tag))}, {"tag": tag})


# ----------------------------------------------------------------------------- interrupts

_CHILD = textwrap.dedent("""
    import sys
    import numpy as np
    from starc.sweep import SweepResult

    fmt, path, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    versions = [SweepResult(["VAL-2-2", "EPIC-2-2"], np.full((n, 2), float(tag)),
                            {"mdp": np.arange(n), "regret": np.full(n, float(tag))},
                            {"tag": tag}) for tag in (0, 1)]

    def write(res):
        res.save(path) if fmt == "npz" else res.to_csv(path)

    write(versions[0])
    print("ready", flush=True)
    i = 1
    while True:  # rewrite the same file, alternating two versions, until killed
        write(versions[i % 2])
        i += 1
""")


def _assert_complete(fmt: str, path: Path, n: int) -> int:
    """The file at ``path`` is one complete version (0 or 1) of the child's result."""
    if fmt == "npz":
        res = SweepResult.load(path)
        tag = res.config["tag"]
        assert tag in (0, 1) and len(res) == n
        np.testing.assert_array_equal(res["mdp"], np.arange(n))
        np.testing.assert_array_equal(res.distances, float(tag))
        np.testing.assert_array_equal(res["regret"], float(tag))
        return tag
    with open(path, encoding="utf-8") as fh:
        assert fh.readline().strip() == "mdp,regret,VAL-2-2,EPIC-2-2"
        table = np.loadtxt(fh, delimiter=",", ndmin=2)
    assert table.shape == (n, 4)
    tag = int(table[0, 1])
    assert tag in (0, 1)
    np.testing.assert_array_equal(table[:, 0], np.arange(n))
    np.testing.assert_array_equal(table[:, 1:], float(tag))
    return tag


@pytest.mark.parametrize("fmt, n", [("npz", 300_000), ("csv", 30_000)], ids=["npz", "csv"])
@pytest.mark.parametrize("sig, kills", [(signal.SIGKILL, 3), (signal.SIGINT, 2)],
                         ids=["SIGKILL", "SIGINT"])
def test_interrupted_writes_leave_the_old_or_the_new_file(tmp_path, fmt, n, sig, kills):
    """A child rewrites a large result to one path in a loop; killed at random moments,
    the path must always hold one complete version, never a truncated one."""
    script = tmp_path / "child.py"
    script.write_text(_CHILD)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get(
        "PYTHONPATH", "")]), OPENBLAS_NUM_THREADS="1")
    rng = np.random.default_rng([fmt == "npz", sig])
    path = tmp_path / f"result.{fmt}"
    for _ in range(kills):
        child = subprocess.Popen([sys.executable, str(script), fmt, str(path), str(n)],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                                 text=True)
        try:
            ready = child.stdout.readline()
            assert ready.strip() == "ready", child.stderr.read()
            time.sleep(rng.uniform(0.0, 0.3))
            child.send_signal(sig)
            child.wait(timeout=60)
        finally:
            if child.poll() is None:  # pragma: no cover - only if the test itself failed
                child.kill()
                child.wait()
            child.stdout.close()
            child.stderr.close()
        assert child.returncode != 0
        _assert_complete(fmt, path, n)
        leftovers = [p.name for p in tmp_path.iterdir() if p.name not in
                     ("child.py", path.name)]
        if sig == signal.SIGINT:
            assert leftovers == []  # KeyboardInterrupt removes the temporary file
        else:  # SIGKILL cannot be caught: at most a hidden temporary file stays behind
            assert all(TEMP_NAME.match(name) for name in leftovers), leftovers
            for name in leftovers:
                (tmp_path / name).unlink()


def _partial_then_interrupt(target, data: bytes):
    """Write ``data`` to ``target`` (a path or an open file) as a serializer would, then
    fail the way Ctrl-C does."""
    if isinstance(target, (str, os.PathLike)):
        with open(target, "wb") as fh:
            fh.write(data)
    else:
        target.write(data if "b" in getattr(target, "mode", "b") else data.decode())
        target.flush()
    raise KeyboardInterrupt


def _load_bench():
    spec = importlib.util.spec_from_file_location("_bench_for_tests",
                                                  ROOT / "benchmarks" / "_bench.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _writers():
    """(name, write(path), the serializer to break) for every kind of writer."""
    mdp, reward = starc.chain(4)
    res = _result(5, 1)

    def demo(path):
        assert main(["demo", "--output", str(path)]) == 0

    def figure(path):
        import matplotlib.pyplot as plt

        sys.path.insert(0, str(FIGURES))
        try:
            from _figures import save_figure
        finally:
            sys.path.remove(str(FIGURES))
        fig, _ = plt.subplots()
        save_figure(fig, str(path.parent), path.name, dpi=50)

    return [
        ("save_mdp", "m.npz", lambda p: starc.save_mdp(p, mdp, reward), "numpy.savez"),
        ("SweepResult.save", "r.npz", res.save, "numpy.savez"),
        ("SweepResult.to_csv", "r.csv", res.to_csv, "numpy.savetxt"),
        ("starc demo", "d.png", demo, "matplotlib.figure.Figure.savefig"),
        ("paper_figures", "f.png", figure, "matplotlib.figure.Figure.savefig"),
        ("benchmarks", "b.json", lambda p: _load_bench().write_json(str(p), {"a": 1}),
         "json.dump"),
    ]


@pytest.mark.parametrize("name, filename, write, serializer", _writers(),
                         ids=[w[0] for w in _writers()])
def test_a_write_interrupted_midway_keeps_the_previous_file(tmp_path, monkeypatch, capsys,
                                                            name, filename, write,
                                                            serializer):
    path = tmp_path / filename
    write(path)
    before = path.read_bytes()
    assert before

    def broken(*args, **kwargs):
        target = args[1] if serializer.endswith("savefig") or serializer == "json.dump" \
            else args[0]
        _partial_then_interrupt(target, b"PK\x03\x04 cut off")

    module, attr = serializer.rsplit(".", 1)
    if module == "matplotlib.figure.Figure":
        import matplotlib.figure

        monkeypatch.setattr(matplotlib.figure.Figure, attr, broken)
    else:
        monkeypatch.setattr(importlib.import_module(module), attr, broken)
    with pytest.raises(KeyboardInterrupt):
        write(path)
    assert path.read_bytes() == before  # the old file, whole
    assert sorted(p.name for p in tmp_path.iterdir()) == [filename]  # no temporary left


#: Calls that write a file. Only starc/_io.py may make them on a path; elsewhere they may
#: only write to the open handle ``fh`` that ``atomic_write`` yields.
_WRITE_CALLS = re.compile(
    r"\b(?:np|numpy)\.(?:save|savez|savez_compressed|savetxt)\((?!fh\b)"
    r"|\.savefig\((?!fh\b)|\bjson\.dump\((?!.*,\s*fh\b)|\.write_(?:text|bytes)\("
    r"|\.tofile\(|\bopen\([^)]*[\"'][wax]b?\+?[\"']")


def test_every_writer_goes_through_the_atomic_helper():
    offenders = []
    for folder in ("starc", "paper_figures", "benchmarks"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            if path == ROOT / "starc" / "_io.py":
                continue
            for number, line in enumerate(path.read_text().splitlines(), 1):
                code = line.split("#")[0]
                if "os.devnull" in code or code.lstrip().startswith(">>>"):
                    continue
                if _WRITE_CALLS.search(code):
                    offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert offenders == [], "writers that bypass starc._io.atomic_write:\n" + \
        "\n".join(offenders)


# ------------------------------------------------------------------ outputs checked first


@pytest.fixture
def no_sweep(monkeypatch):
    def refuse(*args, **kwargs):
        pytest.fail("the sweep ran although its --output cannot be written")

    monkeypatch.setattr(starc.sweep.Sweep, "run", refuse)


def test_sweep_cli_checks_the_output_before_computing(tmp_path, capsys, no_sweep):
    (tmp_path / "afile").write_text("x")
    (tmp_path / "folder.npz").mkdir()
    for output, message in [(tmp_path / "nowhere" / "x.npz", "does not exist"),
                            (tmp_path / "afile" / "x.csv", "is not a folder"),
                            (tmp_path / "folder", "is a folder")]:
        assert cli_main(["--preset", "quick", "--output", str(output)]) == 1
        err = _one_line_error(capsys, "starc sweep: error:")
        assert "--output" in err and message in err, err
    # through the starc command too
    assert main(["sweep", "--preset", "quick", "--output",
                 str(tmp_path / "nowhere" / "x.npz")]) == 1
    assert "does not exist" in _one_line_error(capsys, "starc sweep: error:")


def test_demo_checks_the_output_before_computing(tmp_path, capsys, monkeypatch):
    def refuse(*args, **kwargs):
        pytest.fail("the demo computed although its --output cannot be written")

    monkeypatch.setattr("starc.demo.demo_table", refuse)
    assert main(["demo", "--output", str(tmp_path / "nowhere" / "d.png")]) == 1
    assert "does not exist" in _one_line_error(capsys)
    assert main(["demo", "--output", str(tmp_path / "d.xyz")]) == 1
    assert "unknown figure format 'xyz'" in _one_line_error(capsys)
    assert list(tmp_path.iterdir()) == []


def test_demo_output_folder_gets_the_default_file_name(tmp_path, capsys, monkeypatch):
    """``starc demo --output .`` wrote a hidden ``.png``; a folder now gets starc_demo.png."""
    monkeypatch.chdir(tmp_path)
    assert main(["demo", "--output", "."]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["starc_demo.png"]
    assert (tmp_path / "starc_demo.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"wrote {os.path.join('.', 'starc_demo.png')}" in capsys.readouterr().out


def test_figures_checks_the_output_before_running_scripts(tmp_path, capsys, monkeypatch):
    (tmp_path / "afile").write_text("x")

    def refuse(*args, **kwargs):
        pytest.fail("a figure script ran although --output cannot be written")

    monkeypatch.setattr(importlib.util, "spec_from_file_location", refuse)
    assert main(["figures", "regret_vs_distance", "--output", str(tmp_path / "afile")]) == 1
    assert "is a file, not a folder" in _one_line_error(capsys)
    assert main(["figures", "regret_vs_distance", "--output",
                 str(tmp_path / "afile" / "sub")]) == 1
    assert "cannot create the folder" in _one_line_error(capsys)


def test_a_figure_script_refuses_an_unwritable_output_before_computing(tmp_path, capsys):
    (tmp_path / "afile").write_text("x")
    module = load_script(FIGURES / "regret_vs_distance.py")
    start = time.perf_counter()
    with pytest.raises(SystemExit) as exc:
        module.main(["--quick", "--output", str(tmp_path / "afile" / "sub")])
    assert exc.value.code == 2 and time.perf_counter() - start < 5
    assert "argument --output" in capsys.readouterr().err


def test_benchmark_output_is_checked_before_timing(tmp_path, capsys):
    bench = _load_bench()
    parser = argparse.ArgumentParser()
    parser.add_argument("--output", type=bench.output_file)
    (tmp_path / "afile").write_text("x")
    with pytest.raises(SystemExit):
        parser.parse_args(["--output", str(tmp_path / "afile" / "b.json")])
    assert "argument --output" in capsys.readouterr().err
    good = tmp_path / "new" / "b.json"
    assert parser.parse_args(["--output", str(good)]).output == str(good)
    bench.write_json(str(good), {"x": [1, 2]})
    assert json.loads(good.read_text()) == {"x": [1, 2]}


# ----------------------------------------------------------------------------- reading


def _rewrite(path: Path, **changes):
    """Rewrite the .npz at ``path`` with some keys replaced (None deletes a key)."""
    with np.load(path, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    for key, value in changes.items():
        if value is None:
            arrays.pop(key)
        else:
            arrays[key] = value
    np.savez(path, **arrays)


@pytest.mark.parametrize("changes, message", [
    ({"config_json": np.array("{not json")}, r"'config_json' is not valid JSON"),
    ({"config_json": np.array("[1, 2]")}, r"'config_json' must hold a JSON object, got a list"),
    ({"config_json": np.array([1.0, 2.0])}, r"'config_json' must be one string"),
    ({"elapsed": np.array([1.0, 2.0])}, r"'elapsed' must be a 0-d numeric array"),
    ({"variants": np.array([1, 2])}, r"'variants' must be a 1-d array of strings"),
    ({"distances": np.array([["a", "b"]])}, r"'distances' must be a 2-d numeric array"),
    ({"distances": np.zeros((5, 3))}, r"distances must have shape \(n_rows, 2\)"),
    ({"col_mdp": np.zeros(4)}, r"column 'mdp' must have shape \(5,\)"),
])
def test_sweep_load_names_the_file_and_the_bad_metadata(tmp_path, changes, message):
    path = tmp_path / "r.npz"
    _result(5, 0).save(path)
    _rewrite(path, **changes)
    with pytest.raises(starc.ValidationError,
                       match=r"path '.*r\.npz' is not a valid saved SweepResult: " + message):
        SweepResult.load(path)


def _npy_header(shape, descr="<f8") -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": descr, "fortran_order": False,
                                               "shape": shape})
    return buf.getvalue()


def test_compare_refuses_a_huge_npy_header(tmp_path, capsys):
    """A header claiming 1e11 floats (745 GiB) is refused from the header, in one line."""
    mdp, reward = starc.chain(4)
    starc.save_mdp(tmp_path / "mdp.npz", mdp)
    np.save(tmp_path / "r.npy", reward)
    (tmp_path / "huge.npy").write_bytes(_npy_header((10**11,)) + bytes(64))
    assert main(["compare", str(tmp_path / "huge.npy"), str(tmp_path / "r.npy"), "--mdp",
                 str(tmp_path / "mdp.npz")]) == 1
    err = _one_line_error(capsys)
    assert "huge.npy" in err and "would need 800,000,000,000 bytes" in err


def test_load_mdp_refuses_a_huge_npz_member(tmp_path):
    path = tmp_path / "huge.npz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("transition.npy", _npy_header((10**5, 10**3, 10**5)) + bytes(8))
        archive.writestr("gamma.npy", _npy_header(()) + np.float64(0.5).tobytes())
    with pytest.raises(starc.ValidationError, match=r"huge\.npz' \(member 'transition\.npy'\) "
                                                    r"would need 80,000,000,000,000 bytes"):
        starc.load_mdp(path)


def test_truncated_files_say_truncated(tmp_path, capsys):
    mdp, reward = starc.chain(4)
    starc.save_mdp(tmp_path / "mdp.npz", mdp)
    np.save(tmp_path / "r.npy", reward)
    full = (tmp_path / "r.npy").read_bytes()
    for cut in (0, 5, 40, len(full) // 2, len(full) - 1):
        (tmp_path / "cut.npy").write_bytes(full[:cut])
        assert main(["compare", str(tmp_path / "cut.npy"), str(tmp_path / "r.npy"), "--mdp",
                     str(tmp_path / "mdp.npz")]) == 1
        err = _one_line_error(capsys)
        assert TRUNCATED in err and "pickled" not in err, (cut, err)
    _result(50, 0).save(tmp_path / "res.npz")
    for name, load in (("mdp.npz", starc.load_mdp), ("res.npz", SweepResult.load)):
        full = (tmp_path / name).read_bytes()
        for cut in (0, 3, 100, len(full) - 1):
            (tmp_path / "cut.npz").write_bytes(full[:cut])
            with pytest.raises(starc.ValidationError, match=re.escape(TRUNCATED)) as exc:
                load(tmp_path / "cut.npz")
            assert "pickled" not in str(exc.value)


# ----------------------------------------------------------------------------- starc._io


@pytest.fixture
def sio():
    """The shared file helper :mod:`starc._io`."""
    from starc import _io

    return _io


def test_atomic_write_creates_files_with_the_umask(sio, tmp_path):
    old = os.umask(0o027)
    try:
        sio.write_text(tmp_path / "a.txt", "x")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "a.txt").stat().st_mode) == 0o640


def test_atomic_write_keeps_the_permissions_of_the_file_it_replaces(sio, tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("old")
    path.chmod(0o604)
    sio.write_text(path, "new")
    assert path.read_text() == "new"
    assert stat.S_IMODE(path.stat().st_mode) == 0o604


def test_atomic_write_follows_a_symlink(sio, tmp_path):
    real = tmp_path / "real.txt"
    real.write_text("old")
    link = tmp_path / "link.txt"
    link.symlink_to(real)
    sio.write_text(link, "new")
    assert link.is_symlink() and real.read_text() == "new"


def test_atomic_write_fsyncs_the_file_and_then_the_folder(sio, tmp_path, monkeypatch):
    synced = []
    real_fsync = os.fsync

    def spy(fd):
        synced.append(stat.S_ISDIR(os.fstat(fd).st_mode))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", spy)
    sio.write_text(tmp_path / "a.txt", "x")
    assert synced == [False, True]


def test_atomic_write_cleans_up_on_any_exception(sio, tmp_path):
    path = tmp_path / "a.bin"
    path.write_bytes(b"old")
    for exc in (ValueError, KeyboardInterrupt):
        with pytest.raises(exc), sio.atomic_write(path, "wb") as fh:
            fh.write(b"partial")
            raise exc
        assert path.read_bytes() == b"old"
        assert [p.name for p in tmp_path.iterdir()] == ["a.bin"]


def test_atomic_write_arguments(sio, tmp_path):
    with pytest.raises(starc.ValidationError, match="mode must be 'w' or 'wb'"):
        with sio.atomic_write(tmp_path / "a", "a"):
            pass
    with pytest.raises(starc.ValidationError, match="is a folder; give a file name"):
        sio.write_text(tmp_path, "x")
    with pytest.raises(starc.ValidationError, match="its folder .* does not exist"):
        sio.write_text(tmp_path / "no" / "a.txt", "x")
    with pytest.raises(starc.ValidationError, match="path must be a str or os.PathLike"):
        sio.write_text(None, "x")
    with pytest.raises(starc.ValidationError, match="must name a file"):
        sio.write_text("", "x")
    if hasattr(os, "mkfifo"):
        os.mkfifo(tmp_path / "pipe")
        with pytest.raises(starc.ValidationError, match="is not a regular file"):
            sio.write_text(tmp_path / "pipe", "x")
        assert stat.S_ISFIFO((tmp_path / "pipe").stat().st_mode)
        (tmp_path / "pipe").unlink()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0,
                    reason="root writes into read-only folders")
def test_check_writable_refuses_a_read_only_folder(sio, tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(starc.ValidationError, match="cannot be written"):
            sio.check_writable(folder / "x.npz")
    finally:
        folder.chmod(0o700)


def test_save_npz_appends_the_suffix_like_numpy(sio, tmp_path):
    assert sio.save_npz(tmp_path / "a", {"x": np.arange(3)}) == str(tmp_path / "a.npz")
    np.savez(tmp_path / "b", x=np.arange(3))  # numpy's own naming, for comparison
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.npz", "b.npz"]
    with pytest.raises(starc.ValidationError, match="dtype object"):
        sio.save_npz(tmp_path / "c.npz", {"x": np.array([{}], dtype=object)})
    assert not (tmp_path / "c.npz").exists()


def test_save_figure_formats(sio, tmp_path):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.plot([0, 1])
    try:
        assert sio.save_figure(fig, tmp_path / "a") == str(tmp_path / "a.png")
        assert (tmp_path / "a.png").read_bytes()[:4] == b"\x89PNG"
        sio.save_figure(fig, tmp_path / "b.pdf")
        assert (tmp_path / "b.pdf").read_bytes()[:5] == b"%PDF-"
        with pytest.raises(starc.ValidationError, match="unknown figure format 'xyz'"):
            sio.save_figure(fig, tmp_path / "c.xyz")
    finally:
        plt.close(fig)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png", "b.pdf"]


@pytest.mark.parametrize("compressed", [False, True])
def test_load_arrays_round_trip_and_every_truncation(sio, tmp_path, compressed):
    """Proper prefixes of a saved file (every 7th of the .npz and its last 64, every one
    of the .npy) are refused as truncated; the whole file loads."""
    arrays = {"a": np.arange(12.0).reshape(3, 4), "b": np.array([1, 2], dtype=np.int32),
              "s": np.array(["x", "yz"])}
    path = tmp_path / "x.npz"
    (np.savez_compressed if compressed else np.savez)(path, **arrays)
    back = sio.load_arrays(path)
    assert sorted(back) == sorted(arrays)
    for k, v in arrays.items():
        np.testing.assert_array_equal(back[k], v)
        assert back[k].dtype == v.dtype
    full = path.read_bytes()
    cut = tmp_path / "cut.npz"
    for n in [*range(0, len(full) - 64, 7), *range(len(full) - 64, len(full))]:
        cut.write_bytes(full[:n])
        with pytest.raises(starc.ValidationError, match=re.escape(TRUNCATED)):
            sio.load_arrays(cut)
    np.save(tmp_path / "y.npy", arrays["a"])
    np.testing.assert_array_equal(sio.load_arrays(tmp_path / "y.npy"), arrays["a"])
    full = (tmp_path / "y.npy").read_bytes()
    for n in range(len(full)):
        cut.write_bytes(full[:n])
        with pytest.raises(starc.ValidationError, match=re.escape(TRUNCATED)):
            sio.load_arrays(cut)


def test_load_arrays_refuses_corrupt_and_foreign_files(sio, tmp_path):
    path = tmp_path / "x.npz"
    np.savez(path, a=np.arange(100.0))
    data = bytearray(path.read_bytes())
    data[300] ^= 0xFF  # inside the array's data: the zip checksum fails
    path.write_bytes(bytes(data))
    with pytest.raises(starc.ValidationError, match=r"member 'a\.npy': .*CRC"):
        sio.load_arrays(path)
    with zipfile.ZipFile(tmp_path / "other.npz", "w") as archive:
        archive.writestr("readme.txt", "hello")
    with pytest.raises(starc.ValidationError, match="'readme.txt', which is not an .npy"):
        sio.load_arrays(tmp_path / "other.npz")
    (tmp_path / "p.pkl").write_bytes(b"\x80\x04K\x01.")
    with pytest.raises(starc.ValidationError, match="holds pickled data"):
        sio.load_arrays(tmp_path / "p.pkl")
    np.save(tmp_path / "o.npy", np.array([None]), allow_pickle=True)
    with pytest.raises(starc.ValidationError, match="holds pickled data"):
        sio.load_arrays(tmp_path / "o.npy")
    (tmp_path / "neg.npy").write_bytes(_npy_header((-5,)))
    with pytest.raises(starc.ValidationError, match="negative shape"):
        sio.load_arrays(tmp_path / "neg.npy")
    with pytest.raises(starc.ValidationError, match="is a folder"):
        sio.load_arrays(tmp_path)
    with pytest.raises(starc.ValidationError, match="does not exist"):
        sio.load_arrays(tmp_path / "none.npy")
