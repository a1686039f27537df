"""Atomic output writing: every file appears whole or not at all."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from geo.errors import OutputError


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
def atomic_folder(path: str | Path, *, marker: str = "manifest.json") -> Iterator[Path]:
    """Yield a temporary folder that replaces ``path`` as a whole on success.

    An existing ``path`` is replaced only if it is empty or was written by
    this tool (it holds ``marker``), so a user's folder is never deleted.

    Parameters
    ----------
    path : str or Path
        The final folder.
    marker : str
        File name that identifies a folder written by this tool.

    Yields
    ------
    Path
        A fresh folder to fill.

    Raises
    ------
    OutputError
        If ``path`` exists and is not a folder this tool wrote, or cannot be written.
    """
    path = Path(path).resolve()
    if path.exists() and (
        not path.is_dir() or (any(path.iterdir()) and not (path / marker).exists())
    ):
        raise OutputError(
            f"{path} exists and is not an output folder of geo (no {marker}); "
            "choose another --out folder or remove it",
            file=path,
        )
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
            old = path.with_name(f".{path.name}.old")
            shutil.rmtree(old, ignore_errors=True)
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
