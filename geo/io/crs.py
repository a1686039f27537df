"""Coordinate systems: WGS84, CGCS2000, projected analysis CRS, GCJ-02 and BD-09.

Storage and exchange use WGS84 (EPSG:4326); distances and areas are computed in a
projected CRS in metres (default CGCS2000 / 3-degree Gauss-Kruger CM 120E,
EPSG:4549). GCJ-02 (Amap, Tencent) and BD-09 (Baidu) are not EPSG systems: they
are obfuscations of WGS84 defined by published formulas, converted here with
vectorised numpy. pyproj does not implement them, so they are written by hand.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pyproj
import shapely
from numpy.typing import ArrayLike, NDArray

from geo.errors import ConfigError, CoordinateError

if TYPE_CHECKING:
    import geopandas as gpd
    import pandas as pd

WGS84 = "EPSG:4326"
CGCS2000 = "EPSG:4490"
DEFAULT_ANALYSIS_CRS = "EPSG:4549"

# Krasovsky 1940 ellipsoid, as used by the GCJ-02 formulas.
_A = 6378245.0
_EE = 0.00669342162296594323
_X_PI = np.pi * 3000.0 / 180.0

# GCJ-02 leaves points outside this rough box of China unchanged.
_CHINA_BOX = (72.004, 0.8293, 137.8347, 55.8271)

FloatArray = NDArray[np.float64]


def _as_arrays(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray]:
    lon_a = np.asarray(lon, dtype=np.float64)
    lat_a = np.asarray(lat, dtype=np.float64)
    if lon_a.shape != lat_a.shape:
        raise ValueError(f"lon and lat differ in shape: {lon_a.shape} vs {lat_a.shape}")
    return lon_a, lat_a


def out_of_china(lon: ArrayLike, lat: ArrayLike) -> NDArray[np.bool_]:
    """Return True where a point lies outside the box in which GCJ-02 applies.

    Parameters
    ----------
    lon, lat : array_like
        Longitudes and latitudes in degrees.

    Returns
    -------
    ndarray of bool
    """
    lon_a, lat_a = _as_arrays(lon, lat)
    west, south, east, north = _CHINA_BOX
    with np.errstate(invalid="ignore"):
        return ~((lon_a >= west) & (lon_a <= east) & (lat_a >= south) & (lat_a <= north))


def _gcj_offset(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    """GCJ-02 offset (degrees) to add to a WGS84 position."""
    x = lon - 105.0
    y = lat - 35.0
    sqrt_abs_x = np.sqrt(np.abs(x))
    common = (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    d_lat = (
        -100.0
        + 2.0 * x
        + 3.0 * y
        + 0.2 * y * y
        + 0.1 * x * y
        + 0.2 * sqrt_abs_x
        + common
        + (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
        + (160.0 * np.sin(y / 12.0 * np.pi) + 320.0 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0
    )
    d_lon = (
        300.0
        + x
        + 2.0 * y
        + 0.1 * x * x
        + 0.1 * x * y
        + 0.1 * sqrt_abs_x
        + common
        + (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
        + (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0
    )
    rad_lat = lat / 180.0 * np.pi
    magic = 1.0 - _EE * np.sin(rad_lat) ** 2
    sqrt_magic = np.sqrt(magic)
    d_lat = (d_lat * 180.0) / ((_A * (1.0 - _EE)) / (magic * sqrt_magic) * np.pi)
    d_lon = (d_lon * 180.0) / (_A / sqrt_magic * np.cos(rad_lat) * np.pi)
    return d_lon, d_lat


def wgs84_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Convert WGS84 longitude/latitude to GCJ-02.

    Parameters
    ----------
    lon, lat : array_like
        WGS84 degrees. Points outside China are returned unchanged.

    Returns
    -------
    tuple of ndarray
        GCJ-02 longitude and latitude.

    Examples
    --------
    >>> lon, lat = wgs84_to_gcj02(120.0, 30.0)
    >>> round(float(lon), 4), round(float(lat), 4)
    (120.0047, 29.9975)
    """
    lon_a, lat_a = _as_arrays(lon, lat)
    d_lon, d_lat = _gcj_offset(lon_a, lat_a)
    outside = out_of_china(lon_a, lat_a)
    return np.where(outside, lon_a, lon_a + d_lon), np.where(outside, lat_a, lat_a + d_lat)


def _invert(
    forward, lon: FloatArray, lat: FloatArray, tolerance: float = 1e-10, max_iter: int = 30
) -> tuple[FloatArray, FloatArray]:
    """Invert ``forward`` by fixed-point iteration, starting from the target."""
    x, y = lon.copy(), lat.copy()
    for _ in range(max_iter):
        fx, fy = forward(x, y)
        dx, dy = fx - lon, fy - lat
        x -= dx
        y -= dy
        if np.nanmax(np.abs(np.concatenate([np.ravel(dx), np.ravel(dy)])), initial=0.0) < tolerance:
            break
    return x, y


def gcj02_to_wgs84(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Convert GCJ-02 longitude/latitude to WGS84 by iterating the forward formula.

    The iteration converges to well under a millimetre inside China. Points
    outside China are returned unchanged.

    Parameters
    ----------
    lon, lat : array_like
        GCJ-02 degrees.

    Returns
    -------
    tuple of ndarray
        WGS84 longitude and latitude.
    """
    lon_a, lat_a = _as_arrays(lon, lat)
    return _invert(wgs84_to_gcj02, lon_a, lat_a)


def gcj02_to_bd09(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Convert GCJ-02 to BD-09 (Baidu), leaving points outside China unchanged.

    Parameters
    ----------
    lon, lat : array_like
        GCJ-02 degrees.

    Returns
    -------
    tuple of ndarray
        BD-09 longitude and latitude.
    """
    lon_a, lat_a = _as_arrays(lon, lat)
    z = np.hypot(lon_a, lat_a) + 0.00002 * np.sin(lat_a * _X_PI)
    theta = np.arctan2(lat_a, lon_a) + 0.000003 * np.cos(lon_a * _X_PI)
    outside = out_of_china(lon_a, lat_a)
    bd_lon = z * np.cos(theta) + 0.0065
    bd_lat = z * np.sin(theta) + 0.006
    return np.where(outside, lon_a, bd_lon), np.where(outside, lat_a, bd_lat)


def bd09_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Convert BD-09 to GCJ-02 by iterating the forward formula.

    Parameters
    ----------
    lon, lat : array_like
        BD-09 degrees.

    Returns
    -------
    tuple of ndarray
        GCJ-02 longitude and latitude.
    """
    lon_a, lat_a = _as_arrays(lon, lat)
    return _invert(gcj02_to_bd09, lon_a, lat_a)


def wgs84_to_bd09(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Convert WGS84 to BD-09 (through GCJ-02).

    Parameters
    ----------
    lon, lat : array_like
        WGS84 degrees.

    Returns
    -------
    tuple of ndarray
        BD-09 longitude and latitude.
    """
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


def bd09_to_wgs84(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Convert BD-09 to WGS84 (through GCJ-02).

    Parameters
    ----------
    lon, lat : array_like
        BD-09 degrees.

    Returns
    -------
    tuple of ndarray
        WGS84 longitude and latitude.
    """
    return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))


@dataclass(frozen=True)
class CoordSystem:
    """A coordinate system a file can be in.

    Attributes
    ----------
    name : str
        ``"wgs84"``, ``"gcj02"``, ``"bd09"``, ``"cgcs2000"`` or ``"EPSG:<code>"``.
    crs : pyproj.CRS or None
        The EPSG CRS, or None for GCJ-02 / BD-09 (which are not EPSG systems).
    """

    name: str
    crs: pyproj.CRS | None

    @property
    def is_geographic(self) -> bool:
        """Whether coordinates are longitude/latitude degrees."""
        return self.crs is None or self.crs.is_geographic

    def label(self) -> str:
        """Human-readable name for messages and metadata."""
        if self.crs is None:
            return {"gcj02": "GCJ-02 (Amap/Tencent)", "bd09": "BD-09 (Baidu)"}[self.name]
        return f"{self.name} ({self.crs.name})"


_ALIASES = {
    "wgs84": "wgs84",
    "wgs-84": "wgs84",
    "epsg:4326": "wgs84",
    "4326": "wgs84",
    "gcj02": "gcj02",
    "gcj-02": "gcj02",
    "gcj": "gcj02",
    "amap": "gcj02",
    "mars": "gcj02",
    "bd09": "bd09",
    "bd-09": "bd09",
    "baidu": "bd09",
    "cgcs2000": "cgcs2000",
    "epsg:4490": "cgcs2000",
    "4490": "cgcs2000",
}


def parse_coord_system(spec: str | int) -> CoordSystem:
    """Parse a ``--coords`` value.

    Parameters
    ----------
    spec : str or int
        ``wgs84``, ``gcj02``, ``bd09``, ``cgcs2000``, an EPSG code (``4549``,
        ``"EPSG:4549"``) or any CRS string pyproj understands.

    Returns
    -------
    CoordSystem

    Raises
    ------
    ConfigError
        If the value names no known coordinate system.
    """
    text = str(spec).strip()
    key = _ALIASES.get(text.lower())
    if key == "wgs84":
        return CoordSystem("wgs84", pyproj.CRS.from_epsg(4326))
    if key == "cgcs2000":
        return CoordSystem("cgcs2000", pyproj.CRS.from_epsg(4490))
    if key in ("gcj02", "bd09"):
        return CoordSystem(key, None)
    if re.fullmatch(r"\d{4,6}", text):
        text = f"EPSG:{text}"
    try:
        crs = pyproj.CRS.from_user_input(text)
    except pyproj.exceptions.CRSError as exc:
        raise ConfigError(
            f"unknown coordinate system '{spec}': use wgs84, gcj02, bd09, cgcs2000 "
            "or an EPSG code such as 4549",
            zh=f"无法识别的坐标系“{spec}”：请用 wgs84、gcj02、bd09、cgcs2000 "
            "或 EPSG 代码（如 4549）",
        ) from exc
    kind = non_horizontal_kind(crs)
    if kind is not None:
        raise ConfigError(
            f"'{spec}' ({crs.name}) is {kind[0]}, not a system of positions; use wgs84, "
            "gcj02, bd09, cgcs2000 or a geographic or projected EPSG code such as 4549",
            zh=f"“{spec}”（{crs.name}）是{kind[1]}，不是平面位置的坐标系；请用 wgs84、gcj02、"
            "bd09、cgcs2000 或地理/投影坐标系的 EPSG 代码（如 4549）",
        )
    epsg = crs.to_epsg()
    return CoordSystem(f"EPSG:{epsg}" if epsg else crs.name, crs)


def non_horizontal_kind(crs: pyproj.CRS) -> tuple[str, str] | None:
    """Say what kind of CRS cannot place points on a map, or None when it can.

    Positions need a horizontal system: geographic (degrees) or projected
    (metres), alone or as the horizontal part of a compound CRS. Vertical
    (heights), geocentric (earth-centred X/Y/Z) and local engineering
    (``LOCAL_CS``, tied to no place on earth) systems have no conversion to
    longitude/latitude.

    Parameters
    ----------
    crs : pyproj.CRS
        The coordinate system.

    Returns
    -------
    tuple of str or None
        The kind in English and Chinese (``("a vertical CRS (heights)",
        "高程坐标系")``), or None for a horizontal CRS.

    Examples
    --------
    >>> non_horizontal_kind(pyproj.CRS.from_epsg(5773))
    ('a vertical CRS (heights)', '高程坐标系')
    >>> non_horizontal_kind(pyproj.CRS.from_epsg(4549)) is None
    True
    """
    if crs.is_geographic or crs.is_projected:
        return None
    if crs.is_vertical:
        return "a vertical CRS (heights)", "高程坐标系"
    if crs.is_geocentric:
        return "a geocentric CRS (earth-centred X/Y/Z)", "地心坐标系（X/Y/Z）"
    if crs.is_engineering:
        return ("a local engineering CRS (LOCAL_CS), tied to no place on earth",
                "局部工程坐标系（LOCAL_CS），与地球上的位置无关")
    return f"a {crs.type_name}", crs.type_name


def to_wgs84(x: ArrayLike, y: ArrayLike, system: CoordSystem) -> tuple[FloatArray, FloatArray]:
    """Convert coordinates in ``system`` to WGS84 longitude/latitude.

    Parameters
    ----------
    x, y : array_like
        Longitude/latitude (geographic systems) or easting/northing (projected).
    system : CoordSystem
        The system the coordinates are in.

    Returns
    -------
    tuple of ndarray
        WGS84 longitude and latitude.
    """
    x_a, y_a = _as_arrays(x, y)
    if system.name == "gcj02":
        return gcj02_to_wgs84(x_a, y_a)
    if system.name == "bd09":
        return bd09_to_wgs84(x_a, y_a)
    if system.name == "wgs84":
        return x_a.copy(), y_a.copy()
    transformer = pyproj.Transformer.from_crs(system.crs, WGS84, always_xy=True)
    lon, lat = transformer.transform(x_a, y_a)
    return np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64)


def from_wgs84(
    lon: ArrayLike, lat: ArrayLike, system: CoordSystem
) -> tuple[FloatArray, FloatArray]:
    """Convert WGS84 longitude/latitude to ``system``.

    Parameters
    ----------
    lon, lat : array_like
        WGS84 degrees.
    system : CoordSystem
        Target system.

    Returns
    -------
    tuple of ndarray
        Coordinates in the target system.
    """
    lon_a, lat_a = _as_arrays(lon, lat)
    if system.name == "gcj02":
        return wgs84_to_gcj02(lon_a, lat_a)
    if system.name == "bd09":
        return wgs84_to_bd09(lon_a, lat_a)
    if system.name == "wgs84":
        return lon_a.copy(), lat_a.copy()
    transformer = pyproj.Transformer.from_crs(WGS84, system.crs, always_xy=True)
    x, y = transformer.transform(lon_a, lat_a)
    return np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)


def transform_geometries(geometries: ArrayLike, func) -> NDArray[np.object_]:
    """Apply a coordinate function to every vertex of shapely geometries.

    Parameters
    ----------
    geometries : array_like of shapely.Geometry
        Points, lines or polygons (any mix).
    func : callable
        ``func(lon, lat) -> (lon, lat)`` on numpy arrays, e.g. :func:`gcj02_to_wgs84`.

    Returns
    -------
    ndarray of shapely.Geometry
        New geometries; the inputs are not modified.
    """

    def _apply(coords: FloatArray) -> FloatArray:
        x, y = func(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(np.asarray(geometries, dtype=object), _apply)


def frame_to_gcj02(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Copy of a layer with every vertex shifted from WGS84 to GCJ-02.

    For overlaying on Amap/Tencent tiles, which are drawn in GCJ-02.

    Parameters
    ----------
    frame : GeoDataFrame
        Any layer with a CRS (reprojected to WGS84 first).

    Returns
    -------
    GeoDataFrame
        The same rows in GCJ-02 degrees. GCJ-02 has no EPSG code, so the
        result is labelled EPSG:4326, as GIS tools and web maps treat it.
    """
    wgs = frame.to_crs(WGS84)
    out = wgs.copy()
    out[wgs.geometry.name] = transform_geometries(wgs.geometry.to_numpy(), wgs84_to_gcj02)
    return out.set_crs(WGS84, allow_override=True)


def centre_columns(frame: gpd.GeoDataFrame, analysis_crs: str) -> pd.DataFrame:
    """Longitude and latitude of each feature's centre, in WGS84 and in GCJ-02.

    The centre is the centroid in ``analysis_crs`` (a proposed zone's circle:
    its centre), or a point inside the feature where the centroid falls
    outside it (a crescent-shaped cluster area).

    Parameters
    ----------
    frame : GeoDataFrame
        Any layer with a CRS.
    analysis_crs : str
        Projected CRS in which the centroid is taken.

    Returns
    -------
    DataFrame
        ``centre_lon``, ``centre_lat`` (WGS84, for GIS and GPS) and
        ``centre_lon_gcj02``, ``centre_lat_gcj02`` (Amap, Tencent), 6 decimals
        (about 0.1 m), on the index of ``frame``.
    """
    import pandas as pd

    projected = frame.geometry.to_crs(analysis_crs)
    centroid = projected.centroid
    inside = centroid.within(projected) | projected.geom_type.isin(["Point", "MultiPoint"])
    centre = centroid.where(inside, projected.representative_point()).to_crs(WGS84)
    lon, lat = centre.x.to_numpy(), centre.y.to_numpy()
    glon, glat = wgs84_to_gcj02(lon, lat)
    return pd.DataFrame({"centre_lon": lon, "centre_lat": lat, "centre_lon_gcj02": glon,
                         "centre_lat_gcj02": glat}, index=frame.index).round(6)


def attribute_table(frame: gpd.GeoDataFrame, analysis_crs: str) -> pd.DataFrame:
    """Return a layer's attributes without the geometry, plus its centres (:func:`centre_columns`).

    Parameters
    ----------
    frame : GeoDataFrame
        Areas such as cluster areas or proposed zones.
    analysis_crs : str
        Projected CRS in which the centroids are taken.

    Returns
    -------
    DataFrame
        For spreadsheets: every attribute column, then the four centre columns.
    """
    import pandas as pd

    return pd.concat([pd.DataFrame(frame.drop(columns=frame.geometry.name)),
                      centre_columns(frame, analysis_crs)], axis=1)


# Position diagnoses, in the order they are tested.
POSITION_OK = "ok"
POSITION_MISSING = "missing coordinates"
POSITION_SWAPPED = "longitude and latitude swapped"
POSITION_PROJECTED = "coordinates look like projected metres, not degrees"
POSITION_OUTSIDE = "outside the study area"


_CAUSE_ZH = {
    POSITION_SWAPPED: "经纬度颠倒",
    POSITION_PROJECTED: "像是投影坐标（米），不是经纬度",
    POSITION_OUTSIDE: "不在研究区内",
}
_ADVICE_ZH = {
    POSITION_SWAPPED: "请交换经度、纬度两列",
    POSITION_PROJECTED: "请用 --coords 给出投影坐标系，如 --coords 4549",
    POSITION_OUTSIDE: "请检查 --coords（wgs84、gcj02、bd09、cgcs2000 或 EPSG 代码）"
    "以及文件是否覆盖研究区",
}


def diagnose_positions(
    x: ArrayLike,
    y: ArrayLike,
    bbox: tuple[float, float, float, float],
) -> NDArray[np.object_]:
    """Say, for each position, whether it is plausible for the study area.

    Parameters
    ----------
    x, y : array_like
        WGS84 longitude and latitude (NaN for missing).
    bbox : tuple of float
        Study-area bounds ``(west, south, east, north)`` in WGS84 degrees,
        usually with a margin.

    Returns
    -------
    ndarray of str
        One of the ``POSITION_*`` constants per point.
    """
    x_a, y_a = _as_arrays(x, y)
    west, south, east, north = bbox
    with np.errstate(invalid="ignore"):
        inside = (x_a >= west) & (x_a <= east) & (y_a >= south) & (y_a <= north)
        swapped = (y_a >= west) & (y_a <= east) & (x_a >= south) & (x_a <= north)
        projected = (np.abs(x_a) > 180.0) | (np.abs(y_a) > 90.0)
    out = np.full(x_a.shape, POSITION_OUTSIDE, dtype=object)
    out[projected] = POSITION_PROJECTED
    out[swapped & ~inside] = POSITION_SWAPPED
    out[inside] = POSITION_OK
    out[np.isnan(x_a) | np.isnan(y_a)] = POSITION_MISSING
    return out


def check_plausible(
    diagnoses: NDArray[np.object_],
    *,
    file: str,
    system: CoordSystem,
    columns: tuple[str, str],
    threshold: float = 0.5,
) -> None:
    """Raise when most positions of a file are implausible, with the likely cause.

    Isolated bad rows are rejected one by one elsewhere; this catches the whole
    file being in the wrong order or system, which is a user setting to fix.

    Parameters
    ----------
    diagnoses : ndarray of str
        Output of :func:`diagnose_positions`.
    file : str
        File name for the message.
    system : CoordSystem
        The coordinate system the user declared.
    columns : tuple of str
        The x and y column names.
    threshold : float
        Share of non-missing positions that must be implausible to raise.

    Raises
    ------
    CoordinateError
        If more than ``threshold`` of the positions share one problem.
    """
    present = diagnoses[diagnoses != POSITION_MISSING]
    if present.size == 0:
        return
    values, counts = np.unique(present, return_counts=True)
    worst = int(np.argmax(np.where(values == POSITION_OK, -1, counts)))
    cause, share = values[worst], counts[worst] / present.size
    if cause == POSITION_OK or share <= threshold:
        return
    advice = {
        POSITION_SWAPPED: f"swap the columns (x = '{columns[1]}', y = '{columns[0]}')",
        POSITION_PROJECTED: "pass the projected system, e.g. --coords 4549",
        POSITION_OUTSIDE: "check --coords (wgs84, gcj02, bd09, cgcs2000 or an EPSG code) "
        "and that the file covers the study area",
    }[cause]
    raise CoordinateError(
        f"{share:.0%} of positions read as {system.label()} are implausible: {cause}; {advice}",
        zh=f"按 {system.label()} 读取的坐标有 {share:.0%} 不合理：{_CAUSE_ZH[cause]}；"
        f"{_ADVICE_ZH[cause]}",
        file=file,
        column=f"{columns[0]}/{columns[1]}",
    )
