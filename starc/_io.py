r"""Writing and reading files safely; every file starc writes goes through this module.

Atomic writes
-------------
A writer never opens its destination :math:`p` for writing. It writes a temporary file
:math:`t` in the same folder (a hidden ``.NAME.XXXXXXXX.tmp``), flushes it and calls
``fsync`` on it, renames it over the destination with :func:`os.replace`, and then
``fsync``\ s the folder, so that the rename itself is on disk:

.. math::

    \text{write}(t) \;\to\; \text{fsync}(t) \;\to\; \text{rename}(t, p)
    \;\to\; \text{fsync}(\operatorname{dir} p).

A rename within one file system is atomic (POSIX ``rename(2)`` [1]_): whoever opens
:math:`p` — a reader at the same moment, or the next run after an interrupt, a
``SIGKILL`` or a power cut — finds either the complete previous file or the complete new
one, never a truncated mix. On any exception inside the write (``KeyboardInterrupt``
included) the temporary file is removed; only an uncatchable end (``SIGKILL``, a power
cut) can leave it behind, beside an intact destination, and no starc reader ever opens
it. The temporary file is created with mode ``0o666`` filtered by the process umask, as
:func:`open` would create the destination; when the destination exists already, its
permission bits are kept. A symbolic link as destination is followed: the file it points
to is replaced, as writing through :func:`open` would. A destination that exists but is
not a regular file (``/dev/stdout``, a pipe) is refused, since renaming over it would
replace the device instead of writing to it.

Problems with the destination itself — its folder does not exist, it is a folder, the
folder is not writable — raise :class:`~starc.exceptions.ValidationError` naming the
path, and :func:`check_writable` finds them *before* a long computation (the ``starc``
commands call it first). A failure while writing (a full disk) raises :class:`OSError`
and leaves the destination as it was.

Reading ``.npy`` and ``.npz`` files
-----------------------------------
:func:`load_arrays` reads the header of every ``.npy`` array (a ``.npz`` file is a zip
archive of them [2]_) before it reads any data, and refuses

* a dtype that holds Python objects (its data would be unpickled: never done);
* a shape whose :math:`\prod_i n_i \cdot \text{itemsize}` bytes would not fit in memory
  (the guard :func:`~starc._validation.check_memory` of every allocation in starc), so a
  crafted header claiming :math:`10^{11}` floats is refused instead of allocated;
* a file holding fewer data bytes than its header promises — a truncated file —, a zip
  archive that does not open or whose checksums fail, and anything that is neither a
  ``.npy`` nor a ``.npz`` file, all with the message "truncated or not an .npz/.npy file".

Nothing in this module is public API.

References
----------
.. [1] The Open Group Base Specifications, ``rename()``: "If the link named by the new
   argument exists, it shall be removed and old renamed to new. In this case, a link
   named new shall remain visible to other threads throughout the renaming operation".
.. [2] NumPy Enhancement Proposal 1, "A simple file format for NumPy arrays" (NEP 1),
   and :mod:`numpy.lib.format`.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
import zipfile
import zlib

import numpy as np

from ._validation import check_memory
from .exceptions import ValidationError

__all__ = ["atomic_write", "check_writable", "check_output_folder", "npz_path", "save_npz", "write_text",
           "figure_path", "save_figure", "load_arrays", "check_path", "TRUNCATED"]

#: The words every "this file cannot be read" message carries.
TRUNCATED = "truncated or not an .npz/.npy file"

_NPY_MAGIC = b"\x93NUMPY"
_ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")


# ----------------------------------------------------------------------------- writing


def check_path(path, name: str = "path") -> str:
    """``path`` as a non-empty ``str`` (``os.PathLike`` and bytes decoded); a
    ValidationError naming ``name`` for anything else."""
    if not isinstance(path, (str, os.PathLike)):
        raise ValidationError(f"{name} must be a str or os.PathLike, got {type(path).__name__}")
    path = os.fspath(path)
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    if not path:
        raise ValidationError(f"{name} must name a file, got an empty string")
    return path


def _destination(path, name: str = "path") -> str:
    """The file a write to ``path`` replaces: links followed; its folder must exist."""
    path = check_path(path, name)
    if os.path.islink(path):
        path = os.path.realpath(path)
    if os.path.isdir(path):
        raise ValidationError(f"{name} {path!r} is a folder; give a file name")
    if os.path.exists(path) and not os.path.isfile(path):  # a device, a pipe, a socket
        raise ValidationError(f"{name} {path!r} is not a regular file; starc replaces the "
                              "file it writes, so give the path of a (new or existing) file")
    folder = os.path.dirname(path) or os.curdir
    if not os.path.isdir(folder):
        what = "is not a folder" if os.path.exists(folder) else "does not exist"
        raise ValidationError(f"{name} {path!r} cannot be written: its folder {folder!r} "
                              f"{what}")
    return path


def _open_temp(folder: str, base: str, label: str) -> tuple[int, str]:
    """Create a new hidden temporary file ``folder/.BASE.XXXXXXXX.tmp``; return its
    descriptor and path. ``label`` names the destination in errors."""
    base = base[:200]  # stay under NAME_MAX (255) with the prefix and suffix
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0) \
        | getattr(os, "O_CLOEXEC", 0)
    for _ in range(100):
        tmp = os.path.join(folder, f".{base}.{secrets.token_hex(4)}.tmp")
        try:
            return os.open(tmp, flags, 0o666), tmp  # the umask applies, as for open()
        except FileExistsError:
            continue
        except OSError as err:  # permission denied, read-only file system, ...
            raise ValidationError(f"{label} cannot be written: {err.strerror or err} "
                                  f"(creating a file in {folder!r})") from None
    raise ValidationError(f"{label} cannot be written: no free temporary file name in "
                          f"{folder!r}")  # pragma: no cover - 100 collisions of 32 bits


def _fsync_folder(folder: str) -> None:
    """Make a rename in ``folder`` durable (a no-op where folders cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:  # pragma: no cover - Windows
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - file systems without directory fsync
        pass
    finally:
        os.close(fd)


def _probe(folder: str, base: str, label: str) -> None:
    fd, tmp = _open_temp(folder, base, label)
    os.close(fd)
    os.unlink(tmp)


def check_writable(path, name: str = "output") -> str:
    """Check, before any work, that a file can be written at ``path``; return the path.

    The folder must exist and accept a new file (a temporary file is created there and
    removed), and ``path`` must not be a folder. Raises
    :class:`~starc.exceptions.ValidationError` naming ``name`` and the path otherwise.
    """
    target = _destination(path, name)
    _probe(os.path.dirname(target) or os.curdir, os.path.basename(target),
           f"{name} {target!r}")
    return target


def check_output_folder(folder, name: str = "output") -> str:
    """Create the folder ``folder`` (with its parents) and check that files can be written
    in it, before any work; return it. Raises :class:`~starc.exceptions.ValidationError`
    naming ``name`` when it is a file or cannot be created or written."""
    folder = check_path(folder, name)
    label = f"{name} {folder!r}"
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise ValidationError(f"{label} is a file, not a folder")
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as err:
        raise ValidationError(f"{label}: cannot create the folder "
                              f"({err.strerror or err})") from None
    _probe(folder, "write-check", label)
    return folder


@contextlib.contextmanager
def atomic_write(path, mode: str = "w", *, encoding: str | None = "utf-8",
                 newline: str | None = None):
    """Open a temporary file for writing; on success it atomically becomes ``path``.

    Parameters
    ----------
    path : str or os.PathLike
    mode : {"w", "wb"}
        Text (with ``encoding`` and ``newline`` as for :func:`open`) or binary.

    Yields
    ------
    file object
        Write to it inside the ``with`` block. When the block ends normally the file is
        flushed, fsync'ed and renamed over ``path``; when it raises (``KeyboardInterrupt``
        included), the temporary file is removed and ``path`` is untouched.

    Examples
    --------
    >>> import os, tempfile
    >>> from starc._io import atomic_write
    >>> path = os.path.join(tempfile.mkdtemp(), "a.txt")
    >>> with atomic_write(path) as fh:
    ...     _ = fh.write("hello")
    >>> open(path).read()
    'hello'
    """
    if mode not in ("w", "wb"):
        raise ValidationError(f"mode must be 'w' or 'wb', got {mode!r}")
    target = _destination(path)
    folder = os.path.dirname(target) or os.curdir
    fd, tmp = _open_temp(folder, os.path.basename(target), f"path {target!r}")
    try:
        try:
            if os.path.exists(target):  # keep the permissions of the file we replace
                os.chmod(tmp, stat.S_IMODE(os.stat(target).st_mode))
            if mode == "wb":
                fh = os.fdopen(fd, "wb")
            else:
                fh = os.fdopen(fd, "w", encoding=encoding, newline=newline)
        except BaseException:
            os.close(fd)
            raise
        with fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_folder(folder)


def write_text(path, text: str, *, encoding: str = "utf-8", newline: str | None = None) -> str:
    """Write ``text`` to ``path`` atomically; return the path."""
    with atomic_write(path, "w", encoding=encoding, newline=newline) as fh:
        fh.write(text)
    return os.fspath(path)


def npz_path(path, name: str = "path") -> str:
    """``path`` with ``.npz`` appended when missing, as :func:`numpy.savez` names its file."""
    path = check_path(path, name)
    return path if path.endswith(".npz") else path + ".npz"


def save_npz(path, arrays: dict, *, name: str = "path") -> str:
    """Write ``arrays`` as an ``.npz`` file atomically (``.npz`` appended when missing).

    Returns the path written. Object arrays are refused (they would need pickling).
    """
    target = npz_path(path, name)
    for key, value in arrays.items():
        if np.asarray(value).dtype.hasobject:
            raise ValidationError(f"array {key!r} has dtype object, which an .npz file can "
                                  "only hold pickled; pass numeric or string arrays")
    with atomic_write(target, "wb") as fh:
        np.savez(fh, **arrays)
    return target


def figure_path(path, name: str = "output") -> tuple[str, str]:
    """The file and the format a figure saved to ``path`` gets, checked before drawing.

    The format is the file's extension; without one it is matplotlib's default
    (``savefig.format``, normally ``png``) and the extension is appended, as
    :meth:`matplotlib.figure.Figure.savefig` does. Unknown formats raise
    :class:`~starc.exceptions.ValidationError` listing the supported ones.
    """
    import matplotlib
    from matplotlib.backend_bases import FigureCanvasBase

    path = check_path(path, name)
    fmt = os.path.splitext(path)[1][1:].lower()
    if not fmt:
        fmt = str(matplotlib.rcParams["savefig.format"]).lower()
        stem = path.rstrip(".")
        if not os.path.basename(stem):
            raise ValidationError(f"{name} {path!r} names no file; give a file name such "
                                  f"as 'figure.png'")
        path = f"{stem}.{fmt}"
    supported = FigureCanvasBase.get_supported_filetypes()
    if fmt not in supported:
        raise ValidationError(f"{name} {path!r}: unknown figure format {fmt!r}; use one of "
                              f"{', '.join(sorted(supported))}")
    return path, fmt


def save_figure(fig, path, **kwargs) -> str:
    """Save the matplotlib figure ``fig`` to ``path`` atomically; return the path written.

    ``kwargs`` go to :meth:`matplotlib.figure.Figure.savefig` (``dpi``, ...); the format
    comes from :func:`figure_path`.
    """
    target, fmt = figure_path(path, "path")
    with atomic_write(target, "wb") as fh:
        fig.savefig(fh, format=fmt, **kwargs)
    return target


# ----------------------------------------------------------------------------- reading


def _not_readable(label: str, detail, member: str | None = None) -> ValidationError:
    where = f"member {member!r}: " if member else ""
    return ValidationError(f"{label} is {TRUNCATED} ({where}{detail})")


def _pickled(label: str, detail: str, member: str | None = None) -> ValidationError:
    where = f"member {member!r}: " if member else ""
    return ValidationError(f"{label} holds pickled data, which starc never loads "
                           f"({where}{detail}); save plain numeric arrays")


_READ_ERRORS = (ValueError, EOFError, OSError, zipfile.BadZipFile, zlib.error,
                NotImplementedError, RuntimeError)


def _read_header(fh, label: str, member: str | None = None):
    """Parse an ``.npy`` header from ``fh``: ``(shape, dtype)``, checked, data not read."""
    try:
        version = np.lib.format.read_magic(fh)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(fh)
        elif version == (2, 0):
            shape, _, dtype = np.lib.format.read_array_header_2_0(fh)
        else:
            raise ValueError(f"unsupported .npy format version {version}")
    except _READ_ERRORS as err:
        raise _not_readable(label, f"bad .npy header: {err}", member) from None
    if any(int(d) < 0 for d in shape):
        raise _not_readable(label, f"bad .npy header: negative shape {shape}", member)
    if dtype.hasobject:
        raise _pickled(label, f"an array of dtype {dtype}", member)
    where = f" (member {member!r})" if member else ""
    check_memory(shape, f"reading {label}{where}", itemsize=max(dtype.itemsize, 1))
    return shape, dtype


def _read_npy(fh, size: int, label: str, member: str | None = None) -> np.ndarray:
    """Read one ``.npy`` array of ``size`` bytes from the start of ``fh``."""
    start = fh.tell()
    shape, dtype = _read_header(fh, label, member)
    need = int(np.prod(shape, dtype=object)) * dtype.itemsize
    have = size - (fh.tell() - start)
    if have < need:
        raise _not_readable(label, f"its header promises {need:,} data bytes for an array "
                                   f"of shape {shape}, the file holds {max(have, 0):,}",
                            member)
    fh.seek(start)
    try:
        return np.lib.format.read_array(fh, allow_pickle=False)
    except _READ_ERRORS as err:
        raise _not_readable(label, err, member) from None


def _read_npz(path: str, label: str) -> dict[str, np.ndarray]:
    try:
        archive = zipfile.ZipFile(path)
    except _READ_ERRORS as err:
        raise _not_readable(label, f"not a readable zip archive: {err}") from None
    out = {}
    with archive:
        infos = archive.infolist()
        # every header first: refuse an archive whose arrays together would not fit
        total = 0
        for info in infos:
            if not info.filename.endswith(".npy"):
                raise ValidationError(f"{label} holds the member {info.filename!r}, which is "
                                      "not an .npy array; an .npz file holds only arrays")
            try:
                with archive.open(info) as member:
                    shape, dtype = _read_header(member, label, info.filename)
            except ValidationError:
                raise
            except _READ_ERRORS as err:
                raise _not_readable(label, err, info.filename) from None
            total += int(np.prod(shape, dtype=object)) * max(dtype.itemsize, 1)
        check_memory((total,), f"reading {label}", itemsize=1)
        for info in infos:
            try:
                with archive.open(info) as member:
                    out[info.filename[:-4]] = _read_npy(member, info.file_size, label,
                                                        info.filename)
            except ValidationError:
                raise
            except _READ_ERRORS as err:  # a failed CRC check, a broken deflate stream, ...
                raise _not_readable(label, err, info.filename) from None
    return out


def load_arrays(path, what: str = "path") -> np.ndarray | dict[str, np.ndarray]:
    """Read an ``.npy`` file (an array) or an ``.npz`` file (a dict of arrays); never unpickles.

    Headers are checked before any data is read (see the module docstring); every problem
    raises :class:`~starc.exceptions.ValidationError` whose message starts with
    ``what`` and the path.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from starc._io import load_arrays, save_npz
    >>> path = save_npz(os.path.join(tempfile.mkdtemp(), "x"), {"a": np.arange(3.0)})
    >>> load_arrays(path)["a"]
    array([0., 1., 2.])
    """
    path = check_path(path, what)
    label = f"{what} {path!r}"
    if not os.path.exists(path):
        raise ValidationError(f"{label} does not exist")
    if os.path.isdir(path):
        raise ValidationError(f"{label} is a folder, not an .npz/.npy file")
    try:
        with open(path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            head = fh.read(len(_NPY_MAGIC))
            if head.startswith(_ZIP_MAGICS):
                pass  # read below through zipfile
            elif head == _NPY_MAGIC:
                fh.seek(0)
                return _read_npy(fh, size, label)
            elif not head:
                raise _not_readable(label, "the file is empty")
            elif head[:1] == b"\x80" and len(head) > 1 and 2 <= head[1] <= 5:
                raise _pickled(label, "a Python pickle")
            else:
                raise _not_readable(label, f"it starts with {head!r}")
    except OSError as err:
        raise ValidationError(f"{label} cannot be read: {err.strerror or err}") from None
    return _read_npz(path, label)
