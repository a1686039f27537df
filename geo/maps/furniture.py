"""Map furniture of the static maps: north arrow, scale bar and inset, in the emptiest corners.

The scale bar is measured on the ellipsoid, so it is right in any projection;
the arrow points to true north (grid north differs by the convergence).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import pyproj

from geo.io.crs import WGS84

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from geo.maps.static import _Frame

_INSET_WIDTH = 0.26  # axes fraction
_CORNERS = ("lower left", "lower right", "upper left", "upper right")


def _north_arrow(axes: Axes, corner: str, to_geographic: pyproj.Transformer,
                 from_geographic: pyproj.Transformer) -> None:
    """Arrow to true north (grid north differs by the convergence), in ``corner``.

    In a lower corner it stands above the scale bar, in an upper one below the
    map's edge with the scale bar under it (:func:`_scale_bar`).
    """
    from matplotlib import patheffects
    from matplotlib.transforms import offset_copy

    x0, x1 = axes.get_xlim()
    y0, y1 = axes.get_ylim()
    lon, lat = to_geographic.transform((x0 + x1) / 2, (y0 + y1) / 2)
    north = from_geographic.transform(lon, lat + 0.01)
    angle = math.atan2(north[0] - (x0 + x1) / 2, north[1] - (y0 + y1) / 2)
    length = 22  # points
    left, lower = corner.endswith("left"), corner.startswith("lower")
    # tip: 18 pt in from the side, 62 pt above the bottom or 16 pt below the top
    tip = offset_copy(axes.transAxes, fig=axes.figure, x=18 if left else -18,
                      y=62 if lower else -16, units="points")
    xy = (0.0 if left else 1.0, 0.0 if lower else 1.0)
    axes.annotate(
        "", xy=xy, xycoords=tip,
        xytext=(-length * math.sin(angle), -length * math.cos(angle)), textcoords="offset points",
        arrowprops={"arrowstyle": "-|>,head_length=0.6,head_width=0.3", "color": "black",
                    "linewidth": 1.5},
        zorder=11,
    )
    axes.annotate("N", xy=xy, xycoords=tip, xytext=(0, 3), textcoords="offset points",
                  ha="center", va="bottom", fontsize=9, fontweight="bold", zorder=11,
                  gid="north", path_effects=[patheffects.withStroke(linewidth=2,
                                                                    foreground="white")])


def _scale_bar(axes: Axes, corner: str, to_geographic: pyproj.Transformer) -> None:
    """Scale bar of a round length, about a quarter of the map wide, in ``corner``."""
    from matplotlib.font_manager import FontProperties
    from matplotlib.transforms import offset_copy
    from mpl_toolkits.axes_grid1.anchored_artists import AnchoredSizeBar

    x0, x1 = axes.get_xlim()
    y0, y1 = axes.get_ylim()
    span = (x1 - x0) / 4
    left, lower = corner.endswith("left"), corner.startswith("lower")
    # Measure the span on the ellipsoid next to the bar, so the bar is true in any
    # projection (web mercator stretches 15 % at 30° N, and 1 % per degree of latitude).
    start = x0 if left else x1 - span
    row = y0 + 0.03 * (y1 - y0) if lower else y1 - 0.12 * (y1 - y0)
    lon, lat = to_geographic.transform([start, start + span], [row, row])
    ground = pyproj.Geod(ellps="WGS84").inv(lon[0], lat[0], lon[1], lat[1])[2]
    step = 10 ** math.floor(math.log10(ground))
    metres = max(m * step for m in (1, 2, 5) if m * step <= ground)
    label = f"{metres / 1000:g} km" if metres >= 1000 else f"{metres:g} m"
    # in an upper corner the north arrow is above the bar: anchor the bar 44 pt lower
    anchor = {} if lower else {
        "bbox_to_anchor": (0.0 if left else 1.0, 1.0),
        "bbox_transform": offset_copy(axes.transAxes, fig=axes.figure, y=-44, units="points"),
    }
    bar = AnchoredSizeBar(
        axes.transData, metres * span / ground, label, loc=corner, pad=0.4,
        borderpad=0.8, sep=3, frameon=True, size_vertical=(y1 - y0) / 180, color="black",
        fontproperties=FontProperties(size=7), **anchor,
    )
    bar.patch.set_alpha(0.8)
    bar.patch.set_edgecolor("none")
    bar.set_gid("scale_bar")
    bar.set_zorder(11)
    axes.add_artist(bar)


def _corner_box(corner: str, width: float, height: float) -> tuple[float, float, float, float]:
    """``(x0, y0, x1, y1)`` in axes fraction of a ``width`` x ``height`` box in ``corner``."""
    x0 = 0.0 if corner.endswith("left") else 1.0 - width
    y0 = 0.0 if corner.startswith("lower") else 1.0 - height
    return x0, y0, x0 + width, y0 + height


def corner_ink(axes: Axes, width: float, height: float) -> dict[str, float]:
    """How much is drawn in each corner of the axes: mean darkness, 0 (white) to 1 (black).

    Renders the figure as it is and reads the pixels of a ``width`` x
    ``height`` box (axes fraction) in each corner. Pale fills count little,
    lines, points and labels much.

    Parameters
    ----------
    axes : matplotlib.axes.Axes
        The map axes, with everything but the scale bar, north arrow and inset drawn.
    width, height : float
        Size of the box, in axes fraction.

    Returns
    -------
    dict of str to float
        Darkness by corner (``lower left``, ``lower right``, ``upper left``,
        ``upper right``).
    """
    from matplotlib.transforms import Bbox

    figure = axes.figure
    figure.canvas.draw()
    pixels = np.asarray(figure.canvas.buffer_rgba())[..., :3]
    rows = pixels.shape[0]
    ink = {}
    for corner in _CORNERS:
        box = Bbox.from_extents(*_corner_box(corner, width, height)).transformed(axes.transAxes)
        top, bottom = int(rows - box.y1), int(math.ceil(rows - box.y0))
        part = pixels[max(top, 0):bottom, max(int(box.x0), 0):int(math.ceil(box.x1))]
        ink[corner] = float(1 - part.mean() / 255) if part.size else 1.0
    return ink


def _inset(axes: Axes, frame: _Frame, corner: str, width: float, height: float) -> None:
    """Small map of the whole city in ``corner``, with the shown part as a red rectangle."""
    from matplotlib.collections import PatchCollection
    from matplotlib.patches import Rectangle
    from shapely.plotting import patch_from_polygon

    inset = axes.inset_axes(_corner_box_inside(corner, width, height), zorder=12)
    inset.set_gid("inset")
    inset.set_xticks([])
    inset.set_yticks([])
    inset.set_facecolor("white")
    for spine in inset.spines.values():
        spine.set_edgecolor("#616161")
        spine.set_linewidth(0.6)
    x0, y0, x1, y1 = frame.city
    if frame.outline is not None:
        patches = [patch_from_polygon(g) for g in frame.outline
                   if g is not None and g.geom_type in ("Polygon", "MultiPolygon")]
        inset.add_collection(PatchCollection(patches, facecolors="#eeeeee",
                                             edgecolors="#9e9e9e", linewidths=0.3))
    else:
        inset.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, facecolor="#eeeeee",
                                  edgecolor="#9e9e9e", linewidth=0.3))
    sx0, sx1 = axes.get_xlim()
    sy0, sy1 = axes.get_ylim()
    inset.add_patch(Rectangle((sx0, sy0), sx1 - sx0, sy1 - sy0, facecolor="none",
                              edgecolor="#c62828", linewidth=1.2, gid="inset_extent"))
    pad = 0.04 * max(x1 - x0, y1 - y0)
    inset.set_xlim(x0 - pad, x1 + pad)
    inset.set_ylim(y0 - pad, y1 + pad)
    inset.set_aspect("equal", adjustable="datalim")


def _corner_box_inside(corner: str, width: float, height: float) -> list[float]:
    """``[x, y, width, height]`` of a box in ``corner``, 1.5 % in from the edges."""
    x0, y0, _, _ = _corner_box(corner, width + 0.03, height + 0.03)
    return [x0 + 0.015, y0 + 0.015, width, height]


def add_furniture(axes: Axes, crs: pyproj.CRS, frame: _Frame) -> None:
    """Add the scale bar and north arrow, and the inset, in the corners with least data."""
    to_geographic = pyproj.Transformer.from_crs(crs, WGS84, always_xy=True)
    from_geographic = pyproj.Transformer.from_crs(WGS84, crs, always_xy=True)
    size = axes.get_window_extent()  # pixels
    points = (size.width / axes.figure.dpi * 72, size.height / axes.figure.dpi * 72)
    # scale bar (a quarter of the width plus its frame) and north arrow: ~80 pt high
    ink = corner_ink(axes, 0.3, min(80 / points[1], 1.0))
    corner = min(_CORNERS, key=ink.get)
    if frame.inset:
        x0, y0, x1, y1 = frame.city
        width = _INSET_WIDTH
        height = min(0.45, width * points[0] / points[1] * (y1 - y0) / max(x1 - x0, 1e-9))
        ink = corner_ink(axes, width + 0.03, height + 0.03)
        # any other corner: the two fit side by side or one above the other
        free = [c for c in _CORNERS if c != corner]
        _inset(axes, frame, min(free, key=ink.get), width, height)
    _north_arrow(axes, corner, to_geographic, from_geographic)
    _scale_bar(axes, corner, to_geographic)
