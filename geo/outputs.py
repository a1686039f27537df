"""Atomic output writing: every file appears whole or not at all.

Every output is written beside its destination under a temporary name, flushed
to disk (fsync) and renamed into place, so the previous version is replaced
only by a complete new one: a crash, a kill or a full disk leaves the old file
as it was. Temporary names carry the writer's process id
(``.NAME.<pid>-<8 hex>.tmp[.suffix]``), so a later run can tell the debris of
a crashed run from a write still going on, and removes only the former
(:func:`remove_stale_temps`).

An output folder is replaced as a whole, but a file in it that geo did not
write (a map drawn later, the user's notes, an input file) is never deleted or
overwritten: it is carried over into the new folder, and a new output that
would replace one is refused unless the user forces it; one that would replace
an input of the run is refused even then.
"""

from __future__ import annotations

import contextlib
import errno
import fnmatch
import json
import os
import re
import secrets
import shutil
import sqlite3
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from geo.errors import OutputError

# geo's temporary files and folders: "." + name + "." + pid + "-" + 8 hex + ".tmp"
# [+ the destination's suffix, so that writers such as GDAL pick the format].
_TEMP_NAME = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)-[0-9a-f]{8}\.tmp(\.[^./]+)?$")
# A previous output folder set aside while its replacement is renamed into place.
_OLD_NAME = re.compile(r"^\.(?P<name>.+)\.old$")
# Files geo derives from an input and writes beside it ("<file>.rejects.csv"):
# the first header fields of each.
_REPORT_HEADERS = (("source_row", "reason_en"), ("source_row", "flag_en"))


def _write_errors() -> tuple[type[BaseException], ...]:
    """Errors of writing a file: the operating system's, and SQLite's and GDAL's.

    The latter two report a full disk or a read-only folder without an errno.
    GDAL's count only once pyogrio is loaded (none can occur before), so that
    importing this module stays cheap.
    """
    gdal = sys.modules.get("pyogrio.errors")
    return (OSError, sqlite3.Error, *((gdal.DataSourceError, gdal.DataLayerError) if gdal else ()))


def _process_start(pid: int) -> float | None:
    """When process ``pid`` started (seconds since the epoch); None where unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
        ticks = int(stat.rsplit(")", 1)[1].split()[19])  # field 22, starttime
        boot = next(int(line.split()[1]) for line in
                    Path("/proc/stat").read_text(encoding="ascii").splitlines()
                    if line.startswith("btime "))
        return boot + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return None


# This process's start: temporary files newer than it may belong to a run that
# started alongside and are never touched.
_STARTED = _process_start(os.getpid()) or time.time()


def _temp_name(name: str, suffix: str = "") -> str:
    return f".{name}.{os.getpid()}-{secrets.token_hex(4)}.tmp{suffix}"


def _writer_alive(pid: int, modified: float) -> bool:
    """Whether process ``pid`` may still be writing a file last modified at ``modified``."""
    if pid == os.getpid():
        return True
    if os.name != "posix":
        # os.kill would end the process on Windows: only old files count as stale
        return time.time() - modified < 86400
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # alive, another user's
    started = _process_start(pid)
    # a process started after the file was last written reuses the id of its writer
    return started is None or started <= modified + 1


def remove_stale_temps(folder: str | Path) -> list[str]:
    """Remove the temporary files and folders that crashed geo runs left in ``folder``.

    Only names of geo's own pattern (``.NAME.<pid>-<8 hex>.tmp[.suffix]``)
    count, and only those older than this process and whose writing process
    is gone (on Windows: older than a day). Nothing else is touched, and a
    failure to remove (a read-only folder) is left for a later run.

    Parameters
    ----------
    folder : str or Path
        The folder to clean (missing: nothing to do).

    Returns
    -------
    list of str
        Names removed.

    Examples
    --------
    >>> remove_stale_temps(".")  # doctest: +SKIP
    ['.layers.gpkg.4242-0f3a9c1e.tmp.gpkg']
    """
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return []
    removed = []
    for entry in entries:
        match = _TEMP_NAME.match(entry.name)
        if match is None or entry.is_symlink():
            continue
        try:
            modified = entry.stat(follow_symlinks=False).st_mtime
        except OSError:
            continue
        if modified >= _STARTED or _writer_alive(int(match["pid"]), modified):
            continue
        try:
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path)
            else:
                os.unlink(entry.path)
        except OSError:
            continue  # e.g. a read-only folder: a later run tries again
        removed.append(entry.name)
    return removed


def explain_error(exc: BaseException, folder: Path | None = None) -> tuple[str, str]:
    """Say what went wrong in a write, in English and Chinese, with the usual fix.

    Parameters
    ----------
    exc : BaseException
        An :class:`OSError`, or a GDAL or SQLite error.
    folder : Path, optional
        Where the write went: for errors without an errno (GDAL's "Failed to
        commit transaction"), a nearly full device there is mentioned.

    Returns
    -------
    tuple of str
        The English and the Chinese text.
    """
    code = getattr(exc, "errno", None)
    text = str(exc)
    if code in (errno.ENOSPC, errno.EDQUOT) or "disk is full" in text:
        return ("no space left on the device (disk full or quota reached): free some space "
                "or write elsewhere",
                "磁盘空间不足（或超出配额）：请清理空间或换一个输出位置")
    if code == errno.EROFS:
        return ("the file system is read-only: write elsewhere", "文件系统只读：请换一个输出位置")
    if code in (errno.EACCES, errno.EPERM):
        return ("permission denied: write to a folder you may write to, or close the file if "
                "another program (Excel, QGIS) holds it open",
                "没有写入权限：请换一个可写的文件夹，或先在其他程序（Excel、QGIS）中关闭该文件")
    detail = getattr(exc, "strerror", None) or text or type(exc).__name__
    if "previous exception" in detail and exc.__cause__ is not None:
        detail = f"{detail.split('.')[0]}: {exc.__cause__}"  # rasterio's "see previous"
    if code is None and folder is not None:
        # GDAL, rasterio and SQLite report a full disk without an errno ("Failed to
        # commit transaction", "Write failed"): look at the space left
        with contextlib.suppress(OSError):
            free = shutil.disk_usage(folder).free
            if free < 16 << 20:
                return (f"{detail} ({free // 1024:,} kB free on the device: it is probably "
                        "full; free some space or write elsewhere)",
                        f"写入失败：{detail}（设备仅剩 {free // 1024:,} kB，磁盘可能已满："
                        "请清理空间或换一个输出位置）")
    return detail, f"写入失败：{detail}"


def output_error(path: str | Path, exc: BaseException, *, folder: bool = False) -> OutputError:
    """Return a clear :class:`~geo.errors.OutputError` for a failed write of ``path``.

    Parameters
    ----------
    path : str or Path
        The output that could not be written.
    exc : BaseException
        The error: an :class:`OSError`, or a GDAL or SQLite error.
    folder : bool
        Whether the failure was creating a file in ``path``'s folder (before
        any writing) rather than writing ``path``.

    Returns
    -------
    OutputError
        Its message says what went wrong and that the previous output is intact.
    """
    path = Path(path)
    en, zh = explain_error(exc, path.parent)
    if folder:
        return OutputError(f"cannot write to {path.parent}: {en}",
                           zh=f"无法写入 {path.parent}：{zh}")
    return OutputError(f"cannot write {path}: {en}; any previous version was left as it was",
                       zh=f"无法写出 {path}：{zh}；原有文件保持不变")


def _at_destination(exc: OutputError, tmp: Path, path: Path) -> OutputError | None:
    """Return the error naming the destination, not the temporary name the writer had.

    None if the error does not name the temporary name.
    """
    def named(text: str | None) -> str | None:
        return text.replace(str(tmp), str(path)) if text else text

    if str(tmp) not in f"{exc.message} {exc.message_zh} {exc.file}":
        return None
    return OutputError(named(exc.message), zh=named(exc.message_zh), file=named(exc.file),
                       row=exc.row, column=exc.column)


def _fsync(path: Path) -> None:
    """Flush a file written by another handle (a library) to the disk."""
    try:
        fd = os.open(path, os.O_RDWR)  # Windows flushes only handles open for writing
    except PermissionError:
        fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_folder(folder: Path) -> None:
    """Flush a folder's entries (a rename into it) to the disk; POSIX only."""
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError as exc:
        # some network and FUSE file systems cannot sync a folder: nothing to do there
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EBADF):
            raise
    finally:
        os.close(fd)


def _fsync_tree(folder: Path, *, files: bool = True) -> None:
    for root, _, names in os.walk(folder):
        if files:
            for name in names:
                if not os.path.islink(os.path.join(root, name)):
                    _fsync(Path(root, name))
        _fsync_folder(Path(root))


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; move it into place once complete.

    The temporary file lives in the destination folder so the final rename is
    atomic on the same file system; it is flushed to the disk first, and the
    folder after, so that ``path`` holds either the old or the complete new
    file even after a crash or a power cut. On any error the temporary file
    is removed and ``path`` is left as it was. Stale temporary files of
    crashed runs in the folder are removed first (:func:`remove_stale_temps`).

    Parameters
    ----------
    path : str or Path
        The final destination.

    Yields
    ------
    Path
        Where to write (missing: the writer creates it).

    Raises
    ------
    OutputError
        If the destination folder cannot be created or written, or the
        writer fails for lack of space or permission.
    """
    path = Path(path)
    folder = path.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        remove_stale_temps(folder)
        tmp = folder / _temp_name(path.name, path.suffix)
        # create and remove: a clear error now if the folder is not writable; writers
        # such as GDAL refuse to open an existing empty file
        os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        tmp.unlink()
    except OSError as exc:
        raise output_error(path, exc, folder=True) from exc
    try:
        yield tmp
        _fsync(tmp)
        os.replace(tmp, path)
        _fsync_folder(folder)
    except OutputError as exc:  # of a nested atomic write
        renamed = _at_destination(exc, tmp, path)
        if renamed is None:
            raise
        raise renamed from exc
    except _write_errors() as exc:
        raise output_error(path, exc) from exc
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()


def _probe(path: Path) -> None:
    """Fail now, not after the work, if no file can be made where ``path`` goes."""
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent  # the output creates the missing folders: probe their parent
    probe = folder / _temp_name(path.name)
    try:
        os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        os.unlink(probe)
    except OSError as exc:
        raise output_error(path, exc, folder=True) from exc


def _inside(folder: Path, inputs: Iterable[str | Path | None]) -> list[str]:
    """Relative paths of the ``inputs`` that lie in ``folder`` ("." for the folder itself)."""
    found = []
    for item in inputs:
        if item is None:
            continue
        # as given (a link in the folder) and where it leads (a link to the folder)
        for candidate in {Path(os.path.abspath(item)), Path(item).resolve()}:
            with contextlib.suppress(ValueError):
                found.append(candidate.relative_to(folder).as_posix())
    return sorted(set(found))


def _refuse_input(path: Path, inputs: list[str]) -> OutputError:
    shown = ", ".join(str(path / rel) if rel != "." else str(path) for rel in inputs)
    return OutputError(
        f"{shown}: an input of this run, in the output folder {path} where an output would "
        "replace it; move the input out of the folder or choose another --out folder "
        "(geo never replaces its inputs, not even with --force)",
        zh=f"{shown} 是本次运行的输入文件，位于输出目录 {path} 中且会被输出覆盖；"
        "请把输入文件移出该目录或换一个 --out 目录（即使加 --force，geo 也不会覆盖输入文件）",
    )


@contextlib.contextmanager
def atomic_folder(
    path: str | Path,
    *,
    marker: str = "manifest.json",
    planned: Iterable[str] = (),
    force: bool = False,
    legacy_outputs: Iterable[str] | None = None,
    inputs: Iterable[str | Path | None] = (),
) -> Iterator[Path]:
    """Yield a temporary folder that replaces ``path`` as a whole on success.

    An existing ``path`` is replaced only if it is empty or was written by
    this tool (it holds ``marker``). Files in it that the tool did not write
    (see :func:`user_files`) and ``inputs`` that lie in it are carried over
    into the new folder once it is complete, so a user's file is never
    deleted; one that a new output of the same name would replace stops the
    replacement unless ``force``, and an input stops it even then. The new
    folder is flushed to the disk before it replaces the old one.

    Parameters
    ----------
    path : str or Path
        The final folder.
    marker : str
        File name that identifies a folder written by this tool; a JSON file
        whose ``outputs`` lists what it wrote (names relative to the folder).
    planned : iterable of str
        Glob patterns of what the new folder may hold, checked on entry (see
        :func:`check_output_folder`).
    force : bool
        Replace the user's files that a new output of the same name clashes with.
    legacy_outputs : iterable of str, optional
        See :func:`user_files`.
    inputs : iterable of str or Path
        Files the work reads (None entries are skipped): never replaced nor
        deleted, even if the previous output wrote them.

    Yields
    ------
    Path
        A fresh folder to fill.

    Raises
    ------
    OutputError
        If ``path`` exists and is not a folder this tool wrote, if a user's
        file would be overwritten without ``force``, if an input would be
        replaced, or if it cannot be written.
    """
    path = Path(path).resolve()
    inputs = list(inputs)
    options = dict(marker=marker, force=force, legacy_outputs=legacy_outputs, inputs=inputs)
    check_output_folder(path, planned=planned, **options)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.parent / _temp_name(path.name)
        tmp.mkdir(0o777)  # follows the umask, like any new folder
    except OSError as exc:
        raise output_error(path, exc, folder=True) from exc
    try:
        yield tmp
        _fsync_tree(tmp)
        if path.exists():
            # listed again now: the user may have added files while the work ran
            files = check_output_folder(path, **options)
            kept = _inside(path, inputs)
            replaced = [rel for rel in kept if rel == "." or _occupied(tmp, rel, False)]
            if replaced:
                raise _refuse_input(path, replaced)
            clashes = [rel for rel in files if _occupied(tmp, rel, _is_folder(path / rel))]
            if clashes and not force:
                raise _refuse(path, clashes)
            for rel in sorted({*files, *kept} - set(clashes)):
                if os.path.lexists(path / rel):
                    _carry(path / rel, tmp / rel)
            _fsync_tree(tmp, files=False)
            old = _old(path)
            shutil.rmtree(old, ignore_errors=True)  # superseded by a crash after the swap
            os.replace(path, old)
            os.replace(tmp, path)
            _fsync_folder(path.parent)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
            _fsync_folder(path.parent)
    except OutputError as exc:  # of an atomic write inside
        renamed = _at_destination(exc, tmp, path)
        if renamed is None:
            raise
        raise renamed from exc
    except _write_errors() as exc:
        raise output_error(path, exc) from exc
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _old(path: Path) -> Path:
    return path.with_name(f".{path.name}.old")


def _recover(path: Path, marker: str) -> None:
    """Tidy up after a crash while an output folder was being replaced.

    The previous output, left as ``.NAME.old`` with no ``NAME``, is put back;
    one whose replacement is in place (perhaps half removed) goes: the files
    carried over are in the new folder.
    """
    old = _old(path)
    if not _is_folder(old):
        return
    if (path / marker).is_file():
        shutil.rmtree(old, ignore_errors=True)
    elif not path.exists() and (old / marker).is_file():
        try:
            os.replace(old, path)
        except OSError as exc:
            raise OutputError(f"cannot restore {path} from {old}: {explain_error(exc)[0]}",
                              file=path) from exc


def _recorded_outputs(folder: Path, marker: str) -> set[str] | None:
    """Relative paths the marker lists under ``outputs``; None if it lists none."""
    try:
        data = json.loads((folder / marker).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    outputs = data.get("outputs") if isinstance(data, dict) else None
    if not isinstance(outputs, dict | list):
        return None
    return {str(name).strip("/") for name in outputs}


def _is_debris(entry: os.DirEntry, siblings: set[str]) -> bool:
    """Whether an entry is a leftover of geo's atomic writes, not a user's file.

    A ``.NAME.old`` folder whose ``NAME`` is missing may be the only copy of an
    output and is kept.
    """
    old = _OLD_NAME.match(entry.name)
    if old:
        return old.group("name") in siblings and entry.is_dir(follow_symlinks=False)
    return bool(_TEMP_NAME.match(entry.name))


def user_files(
    path: str | Path, *, marker: str = "manifest.json",
    legacy_outputs: Iterable[str] | None = None,
) -> list[str]:
    """Files in an output folder that geo did not write there, e.g. a map made later.

    A file belongs to geo when the folder's ``marker`` (JSON) lists it, or a
    folder above it, under ``outputs``; the marker itself too. Leftovers of
    interrupted atomic writes (``.NAME.<pid>-<8 hex>.tmp[.suffix]``, a
    ``.NAME.old`` folder beside ``NAME``) are geo's.

    Parameters
    ----------
    path : str or Path
        An output folder (missing: no files).
    marker : str
        The file that identifies the folder and lists its outputs.
    legacy_outputs : iterable of str, optional
        What a folder whose marker lists no outputs (written by an older
        version) holds; None: all of it is geo's.

    Returns
    -------
    list of str
        Relative POSIX paths of the user's files, symbolic links and empty
        folders, sorted.

    Examples
    --------
    >>> user_files("geo-out")  # doctest: +SKIP
    ['map_amap.html', 'notes/meeting.docx']
    """
    path = Path(path)
    if not path.is_dir():
        return []
    owned = _recorded_outputs(path, marker)
    if owned is None:
        if legacy_outputs is None:
            return []
        owned = {str(name).strip("/") for name in legacy_outputs}
    owned.add(marker)
    found: list[str] = []

    def walk(folder: Path, prefix: str) -> None:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
        names = {e.name for e in entries}
        for entry in entries:
            rel = prefix + entry.name
            if rel in owned or _is_debris(entry, names):
                continue
            if entry.is_dir(follow_symlinks=False) and (
                any(name.startswith(rel + "/") for name in owned) or any(os.scandir(entry))
            ):
                walk(Path(entry.path), rel + "/")
            else:
                found.append(rel)

    walk(path, "")
    return found


def _clashes(files: list[str], planned: Iterable[str]) -> list[str]:
    """User files that an output matching a ``planned`` glob pattern could replace."""
    patterns = [p.strip("/") for p in planned]
    return [
        rel for rel in files
        if any(fnmatch.fnmatchcase(rel, p) or rel.startswith(p + "/") or p.startswith(rel + "/")
               for p in patterns)
    ]


def _refuse(path: Path, clashes: list[str]) -> OutputError:
    shown = ", ".join(clashes[:5]) + (f" and {len(clashes) - 5} more" if len(clashes) > 5 else "")
    return OutputError(
        f"{path} holds file(s) that geo did not write and that this run may replace: "
        f"{shown}; move them away, choose another --out folder, or pass --force to let "
        "the run replace them",
        file=path,
    )


def check_output_folder(
    path: str | Path,
    *,
    marker: str = "manifest.json",
    planned: Iterable[str] = (),
    force: bool = False,
    legacy_outputs: Iterable[str] | None = None,
    inputs: Iterable[str | Path | None] = (),
) -> list[str]:
    """Check, before any work, that an output folder may be (re)written.

    Call it before a long analysis: :func:`atomic_folder` checks the same on
    entry, but only once the results are ready. Debris of crashed runs beside
    the folder is removed (:func:`remove_stale_temps`).

    Parameters
    ----------
    path : str or Path
        The output folder.
    marker : str
        File that identifies a folder written by geo and lists its outputs.
    planned : iterable of str
        Glob patterns (relative POSIX paths) of what the new output may write.
    force : bool
        Allow replacing the user's files that clash with ``planned``.
    legacy_outputs : iterable of str, optional
        See :func:`user_files`.
    inputs : iterable of str or Path
        Files the work reads; one in the folder that matches ``planned`` is
        refused even with ``force``.

    Returns
    -------
    list of str
        The user's files, which the new output will carry over.

    Raises
    ------
    OutputError
        If ``path`` is a file or a non-empty folder geo did not write, if an
        input there matches ``planned``, if, without ``force``, a user's file
        there matches ``planned``, or if its parent folder cannot be written.
    """
    path = Path(path).resolve()
    remove_stale_temps(path.parent)
    _recover(path, marker)
    kept = _inside(path, inputs)
    replaced = [rel for rel in kept if rel == "." or _clashes([rel], planned)]
    if replaced:
        raise _refuse_input(path, replaced)
    if path.exists() and (
        not path.is_dir() or (any(path.iterdir()) and not (path / marker).exists())
    ):
        raise OutputError(
            f"{path} exists and is not an output folder of geo (no {marker}); choose another "
            "--out folder: a new or empty one, or one geo wrote",
            zh=f"{path} 已存在且不是 geo 的输出目录（没有 {marker}）；请换一个 --out 目录："
            "新建的、空的或 geo 写过的目录",
            file=path,
        )
    files = user_files(path, marker=marker, legacy_outputs=legacy_outputs)
    clashes = _clashes(files, planned)
    if clashes and not force:
        raise _refuse(path, clashes)
    _probe(path)
    return files


def looks_like_report(path: str | Path) -> bool:
    """Whether ``path`` is a rejects or flagged-rows file as geo writes them.

    Such a file (``<file>.rejects.csv``, ``<file>.flagged.csv``) is derived
    from an input and refreshed when the input is checked again. It is
    recognised by its header: first field ``source_row``, with a
    ``reason_en`` (rejects) or ``flag_en`` (flagged rows) column.

    Parameters
    ----------
    path : str or Path
        A file (missing or unreadable: False).

    Returns
    -------
    bool
    """
    try:
        with open(path, "rb") as handle:
            head = handle.read(4096)
    except OSError:
        return False
    fields = head.removeprefix(b"\xef\xbb\xbf").split(b"\n", 1)[0].decode("utf-8", "replace")
    names = [name.strip().strip('"') for name in fields.strip().split(",")]
    return any(names[:1] == [first] and column in names for first, column in _REPORT_HEADERS)


def _same_file(path: Path, inputs: Iterable[str | Path | None]) -> str | None:
    """Return the input that ``path`` is (by name or by link), if any."""
    for item in inputs:
        if item is None:
            continue
        if Path(os.path.abspath(item)) == Path(os.path.abspath(path)) or (
            Path(item).resolve() == path.resolve()
        ):
            return str(item)
        with contextlib.suppress(OSError):
            if os.path.samefile(item, path):
                return str(item)
    return None


def check_output_files(
    paths: Iterable[str | Path | None],
    *,
    force: bool = False,
    inputs: Iterable[str | Path | None] = (),
    reports: Iterable[str | Path | None] = (),
) -> None:
    """Check, before any work, that output files may be written.

    An existing file is replaced only with ``force``, except a rejects or
    flagged-rows file of geo among ``reports`` (:func:`looks_like_report`),
    which is refreshed; an input is never replaced.

    Parameters
    ----------
    paths : iterable of str or Path
        The files the command will write (None entries are skipped).
    force : bool
        Allow replacing existing files.
    inputs : iterable of str or Path
        Files the command reads.
    reports : iterable of str or Path
        Those of ``paths`` that are geo's derived reports.

    Raises
    ------
    OutputError
        If a path is an input, a folder, (without ``force``) an existing file
        that is not one of geo's reports, or in a folder that cannot be written.

    Examples
    --------
    >>> check_output_files(["out.csv"], inputs=["firms.csv"])  # doctest: +SKIP
    """
    inputs = list(inputs)
    refreshable = {Path(os.path.abspath(p)) for p in reports if p is not None}
    for item in paths:
        if item is None:
            continue
        path = Path(item)
        source = _same_file(path, inputs)
        if source is not None:
            raise OutputError(
                f"the output {path} is the input {source}; choose another output name "
                "(geo never replaces its inputs, not even with --force)",
                zh=f"输出 {path} 就是输入文件 {source}；请换一个输出文件名"
                "（即使加 --force，geo 也不会覆盖输入文件）",
            )
        if _is_folder(path):
            raise OutputError(f"{path} is a folder; give a file name",
                              zh=f"{path} 是文件夹；请给出文件名")
        if not force and os.path.lexists(path) and not (
            Path(os.path.abspath(path)) in refreshable and looks_like_report(path)
        ):
            raise OutputError(f"{path} exists; pass --force to replace it or choose another "
                              "name", zh=f"{path} 已存在；加 --force 可替换，或换一个文件名")
        _probe(path)


def _occupied(folder: Path, rel: str, empty_folder: bool) -> bool:
    """Whether the new folder has ``rel`` (or a file where a parent of it goes).

    A user's empty folder merges with a new folder of the same name.
    """
    target = folder
    for part in rel.split("/"):
        if target.is_file() or target.is_symlink():
            return True
        target = target / part
    if empty_folder and target.is_dir() and not target.is_symlink():
        return False
    return os.path.lexists(target)


def _is_folder(path: Path) -> bool:
    return path.is_dir() and not path.is_symlink()


def _carry(source: Path, target: Path) -> None:
    """Give ``target`` the file (or folder) at ``source``, leaving ``source`` in place.

    A hard link is atomic and costs nothing, and until the old folder is
    removed the file is still where the user left it, so a crash loses nothing;
    a copy where links are not supported.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    if _is_folder(source):  # an input folder; user_files lists a folder only when empty
        shutil.copytree(source, target, symlinks=True, copy_function=_link, dirs_exist_ok=True)
    else:
        _link(source, target)


def _link(source: str | Path, target: str | Path) -> None:
    try:
        os.link(source, target, follow_symlinks=False)
    except OSError:
        shutil.copy2(source, target, follow_symlinks=False)
