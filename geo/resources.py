"""Locate bundled data (``layers/``, ``seeds/``, ``maps/``, ``geo/data``) and geo's cache.

In a checkout (or an editable install) the folders sit at the repository root;
in a wheel the build copies them to ``geo/_bundled``. Both are searched so the
tool works from either.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Literal

from geo.errors import GeoError

_PACKAGE_DIR = Path(__file__).resolve().parent

BundledFolder = Literal["layers", "seeds", "maps"]


def bundled_dir(name: BundledFolder) -> Path:
    """Return the directory holding a bundled data folder.

    Parameters
    ----------
    name : {"layers", "seeds", "maps"}
        The top-level data folder.

    Returns
    -------
    Path
        An existing directory.

    Raises
    ------
    GeoError
        If the folder is in neither the installed package nor the checkout.
    """
    for candidate in (_PACKAGE_DIR / "_bundled" / name, _PACKAGE_DIR.parent / name):
        if candidate.is_dir():
            return candidate
    raise GeoError(
        f"bundled folder '{name}' not found next to the geo package ({_PACKAGE_DIR}); "
        "reinstall the package (pip install .) or run from a complete checkout"
    )


def package_data(relative: str) -> Path:
    """Return the path of a data file shipped inside the ``geo`` package.

    Parameters
    ----------
    relative : str
        Path below ``geo/data``, e.g. ``"industry/divisions.csv"``.

    Returns
    -------
    Path
        Path to the file (not checked for existence).
    """
    return _PACKAGE_DIR / "data" / relative


def cache_dir(name: str) -> Path | None:
    """Return the folder of geo's on-disk cache ``name`` (not created), or None when disabled.

    The cache holds what is slow to rebuild and safe to lose, such as the font
    subsets of the PDF maps. It lives in ``$GEO_CACHE_DIR`` when that is set
    (an empty value turns caching off), else in the user's cache folder:
    ``$XDG_CACHE_HOME/geo`` or ``~/.cache/geo`` on Linux, ``~/Library/Caches/geo``
    on macOS, ``%LOCALAPPDATA%/geo/Cache`` on Windows.

    Parameters
    ----------
    name : str
        Sub-folder of one kind of cached item, e.g. ``"font-subsets"``.

    Returns
    -------
    Path or None
        The folder, or None when caching is off or no home folder is known.
    """
    root = os.environ.get("GEO_CACHE_DIR")
    if root is not None:
        return Path(root).expanduser() / name if root.strip() else None
    if sys.platform == "win32":
        local = os.environ.get("LOCALAPPDATA")
        return Path(local) / "geo" / "Cache" / name if local else None
    try:
        home = Path.home()
    except RuntimeError:  # no home folder (a service account)
        return None
    if sys.platform == "darwin":
        return home / "Library" / "Caches" / "geo" / name
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    base = Path(xdg) if os.path.isabs(xdg) else home / ".cache"  # relative: ignored (XDG spec)
    return base / "geo" / name
