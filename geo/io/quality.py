"""Geocode quality and study-area boundaries of a register's positions.

Registers are geocoded from addresses, and a geocoder that resolves an
address only to the city or district puts the firm on that division's centre.
Dozens of firms then share one point, which makes a spike in every
distance-based statistic. This module flags such positions (they stay in the
firms layer with a reason) and measures how far rejected positions lie
outside the study area, so near-boundary points can be kept
(``boundary_tolerance``) rather than lost.

All functions are vectorised: a million firms take a few seconds.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS, Geod
from scipy.spatial import cKDTree

from geo.io.crs import WGS84, parse_coord_system, to_wgs84
from geo.resources import package_data

SHARED_MIN = 5  # firms on one point before it is flagged as a shared (fallback) point
CENTRE_TOLERANCE = 50.0  # metres from a geocoder's division centre
DISTRICT_TOLERANCE = 200.0  # metres a point may lie outside the district its row names
_EARTH = 6_371_008.8
# Province and city prefixes that district columns often carry (浙江省杭州市西湖区).
_PREFIX = re.compile(r"^(.{2,8}?(省|自治区))?(.{2,8}?市)?")
_SUFFIX = re.compile(r"(区|县|市|自治县|新区)$")


@dataclass
class PositionFlags:
    """Per-row flags on positions.

    Attributes
    ----------
    flag_en, flag_zh : numpy.ndarray
        The reason in English and Chinese (None where the position is fine).
    category : numpy.ndarray
        A short English category per flagged row (for counts).
    notes : list of str
        Whole-file remarks (district names the layer does not have).
    """

    flag_en: np.ndarray
    flag_zh: np.ndarray
    category: np.ndarray
    notes: list[str]

    @classmethod
    def empty(cls, n: int) -> PositionFlags:
        """Return flags for ``n`` rows, none set."""
        return cls(
            np.full(n, None, dtype=object), np.full(n, None, dtype=object),
            np.full(n, None, dtype=object), [],
        )

    def add(self, mask: np.ndarray, en: np.ndarray | str, zh: np.ndarray | str,
            category: str) -> None:
        """Add a reason to the rows in ``mask`` (one text, or one per row)."""
        for i in np.flatnonzero(mask).tolist():
            text_en = en if isinstance(en, str) else en[i]
            text_zh = zh if isinstance(zh, str) else zh[i]
            if self.flag_en[i] is None:
                self.flag_en[i], self.flag_zh[i], self.category[i] = text_en, text_zh, category
            else:
                self.flag_en[i] = f"{self.flag_en[i]}; {text_en}"
                self.flag_zh[i] = f"{self.flag_zh[i]}；{text_zh}"


def metric_crs(area: shapely.Geometry) -> CRS:
    """Return a transverse Mercator CRS in metres centred on a WGS84 study area.

    Centred on the area (scale 1 on its central meridian), distances within a
    city are true to about 1e-4; any city works.

    Parameters
    ----------
    area : shapely.Geometry
        The study area in WGS84.

    Returns
    -------
    pyproj.CRS
    """
    centre = area.centroid
    return CRS.from_proj4(
        f"+proj=tmerc +lat_0=0 +lon_0={centre.x:.6f} +k=1 +x_0=500000 +y_0=0 "
        "+ellps=WGS84 +units=m +no_defs"
    )


def _local_xy(lon: np.ndarray, lat: np.ndarray, lat0: float) -> np.ndarray:
    """Equirectangular metres: exact enough for tens of metres within a city."""
    scale = np.pi / 180.0 * _EARTH
    return np.column_stack([lon * scale * np.cos(np.radians(lat0)), lat * scale])


@lru_cache(maxsize=1)
def geocoder_centres() -> pd.DataFrame:
    """Return the bundled division centres of the common geocoders, in WGS84.

    Returns
    -------
    pandas.DataFrame
        ``adcode``, ``name_zh``, ``level``, ``lon``, ``lat`` (WGS84) and the
        ``source`` (see ``geo/data/geocoder/README.md``). Empty when the
        table is not bundled.
    """
    path = package_data("geocoder/centres.csv")
    if not path.exists():
        return pd.DataFrame(columns=["adcode", "name_zh", "level", "lon", "lat", "source"])
    table = pd.read_csv(path, dtype={"adcode": str}, encoding="utf-8")
    parts = []
    for datum, rows in table.groupby("datum"):
        lon, lat = to_wgs84(rows["lon"].to_numpy(float), rows["lat"].to_numpy(float),
                            parse_coord_system(str(datum)))
        parts.append(rows.assign(lon=lon, lat=lat))
    return pd.concat(parts).drop(columns="datum").reset_index(drop=True)


def flag_positions(
    lon: np.ndarray,
    lat: np.ndarray,
    usable: np.ndarray,
    *,
    districts: gpd.GeoDataFrame | None = None,
    district_names: pd.Series | None = None,
    district_column: str | None = None,
    shared_min: int = SHARED_MIN,
) -> PositionFlags:
    """Flag positions that are probably not where the firm is.

    Three checks, each with its reason in both languages:

    - **shared point**: ``shared_min`` or more firms at one coordinate (to
      1e-6 degrees), the signature of a geocoder's fallback;
    - **geocoder centre**: within :data:`CENTRE_TOLERANCE` metres of a city,
      district or province centre that Amap returns for addresses it resolves
      only to that division (``geo/data/geocoder/centres.csv``);
    - **district mismatch**: the point lies more than
      :data:`DISTRICT_TOLERANCE` metres outside the district the row's own
      district column names.

    Parameters
    ----------
    lon, lat : numpy.ndarray
        WGS84 positions (NaN where unusable).
    usable : numpy.ndarray
        Rows to check (the others are already rejected).
    districts : GeoDataFrame, optional
        District polygons in WGS84 with ``name_zh`` (and ``name_en``).
    district_names : pandas.Series, optional
        The row's own district (所属区县), as text.
    district_column : str, optional
        Its column name, for the messages.
    shared_min : int
        Firms on one point before it is flagged; 0 turns the check off.

    Returns
    -------
    PositionFlags
    """
    n = len(lon)
    flags = PositionFlags.empty(n)
    rows = np.flatnonzero(usable & np.isfinite(lon) & np.isfinite(lat))
    if rows.size == 0:
        return flags
    if shared_min > 0:
        keys = np.round(lon[rows] * 1e6).astype(np.int64) * 1_000_000_000 + np.round(
            lat[rows] * 1e6
        ).astype(np.int64)
        _, inverse, counts = np.unique(keys, return_inverse=True, return_counts=True)
        per_row = counts[inverse]
        shared = np.zeros(n, dtype=bool)
        shared[rows[per_row >= shared_min]] = True
        count = np.zeros(n, dtype=np.int64)
        count[rows] = per_row
        en = np.full(n, None, dtype=object)
        zh = np.full(n, None, dtype=object)
        for i in np.flatnonzero(shared):
            en[i] = f"{count[i]} firms share this exact point (a geocoder fallback?)"
            zh[i] = f"{count[i]} 家企业坐标完全相同（疑为地理编码的默认点）"
        flags.add(shared, en, zh, "shared point")
    centres = geocoder_centres()
    if not centres.empty:
        lat0 = float(np.nanmean(lat[rows]))
        tree = cKDTree(_local_xy(centres["lon"].to_numpy(), centres["lat"].to_numpy(), lat0))
        distance, nearest = tree.query(_local_xy(lon[rows], lat[rows], lat0),
                                       distance_upper_bound=CENTRE_TOLERANCE)
        hit = np.isfinite(distance)
        if hit.any():
            names = centres["name_zh"].to_numpy(dtype=object)
            levels = centres["level"].to_numpy(dtype=object)
            mask = np.zeros(n, dtype=bool)
            mask[rows[hit]] = True
            en = np.full(n, None, dtype=object)
            zh = np.full(n, None, dtype=object)
            for i, j, d in zip(rows[hit], nearest[hit], distance[hit], strict=True):
                en[i] = (f"{d:.0f} m from the geocoder's {levels[j]} centre of {names[j]} "
                         "(where addresses resolved only to that division are put)")
                zh[i] = (f"距地理编码的{names[j]}中心点 {d:.0f} 米"
                         "（仅解析到该行政区的地址会落在此点）")
            flags.add(mask, en, zh, "geocoder centre")
    if districts is not None and district_names is not None:
        _check_districts(lon, lat, rows, districts, district_names,
                         district_column or "district", flags)
    return flags


def district_key(name: object) -> str:
    """Compare district names without province/city prefix or 区/县/市 suffix.

    Parameters
    ----------
    name : object
        A district name as written (``浙江省杭州市西湖区``, ``西湖区``, ``西湖``).

    Returns
    -------
    str
    """
    text = re.sub(r"\s+", "", unicodedata.normalize("NFKC", str(name)))
    stripped = _PREFIX.sub("", text, count=1) or text
    return _SUFFIX.sub("", stripped) or stripped


def _check_districts(
    lon: np.ndarray,
    lat: np.ndarray,
    rows: np.ndarray,
    districts: gpd.GeoDataFrame,
    stated: pd.Series,
    column: str,
    flags: PositionFlags,
) -> None:
    """Flag rows whose point lies outside the district their own column names."""
    lookup: dict[str, int] = {}
    for i, row in enumerate(districts.itertuples(index=False)):
        for value in (getattr(row, "name_zh", None), getattr(row, "name_en", None),
                      getattr(row, "adcode", None), getattr(row, "zone_id", None)):
            if value is not None and str(value).strip():
                lookup.setdefault(district_key(value).lower(), i)
    text = stated.to_numpy(dtype=object)[rows]
    present = np.array([t is not None and str(t).strip() != "" for t in text], dtype=bool)
    keys = np.array([district_key(t).lower() if p else "" for t, p in zip(text, present,
                                                                          strict=True)])
    index = np.array([lookup.get(k, -1) for k in keys], dtype=np.int64)
    unknown = sorted({str(t) for t, k in zip(text, index, strict=True) if k < 0 and t})
    unknown = [u for u in unknown if u.strip()]
    if unknown:
        flags.notes.append(
            f"{len(unknown)} district name(s) in '{column}' are not in the district layer and "
            f"were not checked: {', '.join(unknown[:10])}" + (" …" if len(unknown) > 10 else "")
        )
    check = index >= 0
    if not check.any():
        return
    crs = metric_crs(shapely.union_all(districts.geometry.to_numpy()))
    polygons = districts.to_crs(crs).geometry.to_numpy()
    shapely.prepare(polygons)
    points = gpd.GeoSeries(gpd.points_from_xy(lon[rows[check]], lat[rows[check]]), crs=WGS84)
    points = points.to_crs(crs).to_numpy()
    own = polygons[index[check]]
    inside = shapely.intersects(own, points)
    far = np.flatnonzero(~inside)
    distance = np.zeros(check.sum())
    distance[far] = shapely.distance(own[far], points[far])
    bad = distance > DISTRICT_TOLERANCE
    if not bad.any():
        return
    # the district each misplaced point is really in, for the message
    tree = shapely.STRtree(polygons)
    point_at, zone_at = tree.query(points[bad], predicate="intersects")
    actual = np.full(bad.sum(), -1)
    actual[point_at] = zone_at
    names = districts["name_zh"].to_numpy(dtype=object) if "name_zh" in districts else (
        districts.index.to_numpy(dtype=object))
    target = rows[check][bad]
    mask = np.zeros(len(lon), dtype=bool)
    mask[target] = True
    en = np.full(len(lon), None, dtype=object)
    zh = np.full(len(lon), None, dtype=object)
    for i, a, d, s in zip(target, actual, distance[bad], text[check][bad], strict=True):
        where_en = f"lies in {names[a]}" if a >= 0 else "lies outside every district"
        where_zh = f"位于{names[a]}" if a >= 0 else "不在任何区县内"
        en[i] = f"point {where_en}, {d / 1000:.1f} km outside {s} given in '{column}'"
        zh[i] = f"坐标{where_zh}，距“{column}”列所填的{s} {d / 1000:.1f} 公里"
    flags.add(mask, en, zh, "district mismatch")


def distance_outside(
    lon: np.ndarray, lat: np.ndarray, area: shapely.Geometry, crs: CRS | None = None
) -> np.ndarray:
    """Return metres from each WGS84 point to a WGS84 study area (0 inside).

    The nearest boundary point is found in a metric projection and the
    distance to it is measured on the ellipsoid (geodesic), so it is exact to
    centimetres whatever the projection's scale.

    Parameters
    ----------
    lon, lat : numpy.ndarray
        Positions in WGS84.
    area : shapely.Geometry
        Study area in WGS84.
    crs : pyproj.CRS, optional
        Metric CRS to search in (default: :func:`metric_crs` of the area).

    Returns
    -------
    numpy.ndarray
    """
    crs = crs or metric_crs(area)
    projected = gpd.GeoSeries([area], crs=WGS84).to_crs(crs).iloc[0]
    points = gpd.GeoSeries(gpd.points_from_xy(lon, lat), crs=WGS84).to_crs(crs).to_numpy()
    shapely.prepare(projected)
    nearest = shapely.get_point(shapely.shortest_line(points, projected), 1)
    back = gpd.GeoSeries(nearest, crs=crs).to_crs(WGS84)
    _, _, metres = Geod(ellps="WGS84").inv(lon, lat, back.x.to_numpy(), back.y.to_numpy())
    inside = shapely.intersects(projected, points)
    return np.where(inside, 0.0, np.abs(metres))


def snap_inside(
    lon: np.ndarray, lat: np.ndarray, area: shapely.Geometry, crs: CRS | None = None,
    inset: float = 1.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Move points outside a study area to its nearest point, ``inset`` metres inside.

    Parameters
    ----------
    lon, lat : numpy.ndarray
        Positions in WGS84 (outside the area).
    area : shapely.Geometry
        Study area in WGS84.
    crs : pyproj.CRS, optional
        Metric CRS (default: :func:`metric_crs` of the area).
    inset : float
        Metres inside the boundary, so the point is inside after rounding.

    Returns
    -------
    tuple of numpy.ndarray
        New lon, lat (WGS84) and the distance moved in metres.
    """
    crs = crs or metric_crs(area)
    projected = gpd.GeoSeries([area], crs=WGS84).to_crs(crs).iloc[0]
    # nearest point on a slightly shrunk area; the full area where it is too thin
    target = projected.buffer(-inset) if inset > 0 else projected
    if target.is_empty:
        target = projected
    points = gpd.GeoSeries(gpd.points_from_xy(lon, lat), crs=WGS84).to_crs(crs).to_numpy()
    lines = shapely.shortest_line(points, target)
    snapped = shapely.get_point(lines, 1)
    moved = shapely.length(lines)
    back = gpd.GeoSeries(snapped, crs=crs).to_crs(WGS84)
    return back.x.to_numpy(), back.y.to_numpy(), moved
