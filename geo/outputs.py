"""Atomic output writing: every file appears whole or not at all.

An output folder is replaced as a whole, but a file in it that geo did not
write (a map drawn later, the user's notes) is never deleted or overwritten:
it is carried over into the new folder, and a new output that would replace
one is refused unless the user forces it.
"""

from __future__ import annotations

import contextlib
import fnmatch
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from geo.errors import OutputError

# Names of geo's own temporary files and folders (tempfile: "." + stem + "." +
# 8 random characters [+ suffix]) and of a replaced folder (".NAME.old"): debris
# of a crash, not a user's file.
_TEMP_NAME = re.compile(r"^\..+\.[a-z0-9_]{8}(\.[A-Za-z0-9]+)?$")
_OLD_NAME = re.compile(r"^\.(?P<name>.+)\.old$")


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it into place on success.

    The temporary file lives in the destination folder so the final rename is
    atomic on the same file system; on any error it is removed and ``path`` is
    left as it was.

    Parameters
    ----------
    path : str or Path
        The final destination.

    Yields
    ------
    Path
        Where to write.

    Raises
    ------
    OutputError
        If the destination folder cannot be created or written.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=path.suffix, dir=path.parent)
    except OSError as exc:
        raise OutputError(f"cannot write to {path.parent}: {exc.strerror}", file=path) from exc
    os.close(fd)
    tmp = Path(name)
    tmp.unlink()  # writers such as GDAL refuse to open an existing empty file
    try:
        yield tmp
        os.replace(tmp, path)
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}", file=path) from exc
    finally:
        if tmp.exists():
            tmp.unlink()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_folder(
    path: str | Path,
    *,
    marker: str = "manifest.json",
    planned: Iterable[str] = (),
    force: bool = False,
    legacy_outputs: Iterable[str] | None = None,
) -> Iterator[Path]:
    """Yield a temporary folder that replaces ``path`` as a whole on success.

    An existing ``path`` is replaced only if it is empty or was written by
    this tool (it holds ``marker``). Files in it that the tool did not write
    (see :func:`user_files`) are carried over into the new folder once it is
    complete, so a user's file is never deleted; one that a new output of the
    same name would replace stops the replacement unless ``force``.

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

    Yields
    ------
    Path
        A fresh folder to fill.

    Raises
    ------
    OutputError
        If ``path`` exists and is not a folder this tool wrote, if a user's
        file would be overwritten without ``force``, or if it cannot be written.
    """
    path = Path(path).resolve()
    options = dict(marker=marker, force=force, legacy_outputs=legacy_outputs)
    check_output_folder(path, planned=planned, **options)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
        # mkdtemp makes the folder private (0700); the output should follow the umask.
        os.chmod(tmp, 0o777 & ~_umask())
    except OSError as exc:
        raise OutputError(f"cannot write to {path.parent}: {exc.strerror}", file=path) from exc
    try:
        yield tmp
        if path.exists():
            # listed again now: the user may have added files while the work ran
            files = check_output_folder(path, **options)
            clashes = [rel for rel in files if _occupied(tmp, rel, _is_folder(path / rel))]
            if clashes and not force:
                raise _refuse(path, clashes)
            for rel in files:
                if rel not in clashes:
                    _carry(path / rel, tmp / rel)
            old = _old(path)
            shutil.rmtree(old, ignore_errors=True)  # superseded by a crash after the swap
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}", file=path) from exc
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _old(path: Path) -> Path:
    return path.with_name(f".{path.name}.old")


def _recover(path: Path, marker: str) -> None:
    """Put back a previous output left as ``.NAME.old`` by a crash between two renames."""
    old = _old(path)
    if not path.exists() and (old / marker).is_file():
        try:
            os.replace(old, path)
        except OSError as exc:
            raise OutputError(f"cannot restore {path} from {old}: {exc.strerror}",
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


def _is_debris(name: str, siblings: set[str]) -> bool:
    """Whether an entry is a leftover of geo's atomic writes, not a user's file.

    A ``.NAME.old`` whose ``NAME`` is missing may be the only copy of an output
    and is kept.
    """
    old = _OLD_NAME.match(name)
    if old:
        return old.group("name") in siblings
    return bool(_TEMP_NAME.match(name))


def user_files(
    path: str | Path, *, marker: str = "manifest.json",
    legacy_outputs: Iterable[str] | None = None,
) -> list[str]:
    """Files in an output folder that geo did not write there, e.g. a map made later.

    A file belongs to geo when the folder's ``marker`` (JSON) lists it, or a
    folder above it, under ``outputs``; the marker itself too. Leftovers of
    interrupted atomic writes (``.NAME.xxxxxxxx``, ``.NAME.old``) are geo's.

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
            if rel in owned or _is_debris(entry.name, names):
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
) -> list[str]:
    """Check, before any work, that an output folder may be (re)written.

    Call it before a long analysis: :func:`atomic_folder` checks the same on
    entry, but only once the results are ready.

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

    Returns
    -------
    list of str
        The user's files, which the new output will carry over.

    Raises
    ------
    OutputError
        If ``path`` is a file or a non-empty folder geo did not write, or,
        without ``force``, if a user's file there matches ``planned``.
    """
    path = Path(path).resolve()
    _recover(path, marker)
    if path.exists() and (
        not path.is_dir() or (any(path.iterdir()) and not (path / marker).exists())
    ):
        raise OutputError(
            f"{path} exists and is not an output folder of geo (no {marker}); "
            "choose another --out folder or remove it",
            file=path,
        )
    files = user_files(path, marker=marker, legacy_outputs=legacy_outputs)
    clashes = _clashes(files, planned)
    if clashes and not force:
        raise _refuse(path, clashes)
    return files


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
    """Give ``target`` the file at ``source``, leaving ``source`` in place.

    A hard link is atomic and costs nothing, and until the old folder is
    removed the file is still where the user left it, so a crash loses nothing;
    a copy where links are not supported.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    if _is_folder(source):  # user_files lists a folder only when it is empty
        target.mkdir(exist_ok=True)
        return
    try:
        os.link(source, target, follow_symlinks=False)
    except OSError:
        shutil.copy2(source, target, follow_symlinks=False)
