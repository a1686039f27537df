"""Locate bundled data (``layers/``, ``seeds/``, ``maps/``, ``geo/data``).

In a checkout (or an editable install) the folders sit at the repository root;
in a wheel the build copies them to ``geo/_bundled``. Both are searched so the
tool works from either.
"""

from __future__ import annotations

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
