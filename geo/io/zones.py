"""Zone layers: the bundled layers (districts, platforms, towns) and users' own files.

Every layer comes back as a WGS84 GeoDataFrame with at least the columns
``zone_id`` (unique string), ``name_zh``, ``name_en``, ``source``, ``accuracy``
and ``geometry``, whatever file it was read from. The bundled layers and their
provenance are listed in ``layers/catalog.toml``.

Examples
--------
>>> from geo.io.zones import load_layer, study_area
>>> districts = load_layer("districts")
>>> len(districts)
13
>>> area = study_area(districts)
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from pyarrow import ArrowException

from geo.errors import GeoError, InputError
from geo.io.crs import (
    WGS84,
    CoordSystem,
    parse_coord_system,
    to_wgs84,
    transform_geometries,
)
from geo.io.vector import read_vector, repair_geometries, require_horizontal
from geo.resources import bundled_dir

REQUIRED_COLUMNS = ("zone_id", "name_zh", "name_en", "source", "accuracy")
USER_ACCURACY = "user supplied"

# Column names taken as an id or a name when the caller does not say (compared
# case-insensitively, first match wins).
_ID_COLUMNS = ("zone_id", "id", "code", "adcode", "编号", "代码", "fid")
_NAME_COLUMNS = ("name", "名称", "名字", "zone_name", "title")
_PARQUET_SUFFIXES = (".parquet", ".geoparquet")
_READ_ERRORS = (
    pyogrio.errors.DataSourceError,
    pyogrio.errors.DataLayerError,
    pyogrio.errors.CRSError,
    pyogrio.errors.FeatureError,
    pyogrio.errors.FieldError,
    pyogrio.errors.GeometryError,
    ArrowException,
    OSError,
    ValueError,
)
_MAX_LISTED = 10  # ids or rows quoted in one error message
_POLYGONAL = (shapely.GeometryType.POLYGON, shapely.GeometryType.MULTIPOLYGON)


def load_catalog() -> dict[str, dict]:
    """Return the catalog of bundled layers.

    Returns
    -------
    dict of str to dict
        One entry per layer name, with its ``file``, titles, geometry type,
        ``crs``, ``source``, ``licence``, ``accuracy``, ``built_by`` and ``date``.
    """
    with open(bundled_dir("layers") / "catalog.toml", "rb") as handle:
        return tomllib.load(handle)


def layer_names() -> list[str]:
    """Return the names of the bundled layers, in catalog order.

    Returns
    -------
    list of str
    """
    return list(load_catalog())


def load_layer(
    name_or_path: str | Path,
    *,
    coords: str = "wgs84",
    id_column: str | None = None,
    name_column: str | None = None,
    layer: str | None = None,
    polygons: bool = False,
) -> gpd.GeoDataFrame:
    """Load a bundled layer by name, or a user's zone file.

    Parameters
    ----------
    name_or_path : str or Path
        A bundled layer name (see :func:`layer_names`) or the path of a
        GeoPackage, Shapefile, GeoJSON, KML or GeoParquet file. The other
        parameters apply to user files only.
    coords : str, default "wgs84"
        Coordinate system of a user file that declares none; ``gcj02`` or
        ``bd09`` also override a geographic CRS the file declares, since
        GeoJSON and KML always claim WGS84 even when the positions are GCJ-02.
    id_column : str, optional
        Column holding the zone id of a user file. By default the first of
        ``zone_id``, ``id``, ``code``, ``adcode``, ``编号``, ``代码``, ``fid``
        (any case) is used, else the row number (1, 2, ...).
    name_column : str, optional
        Column holding the zone name of a user file. By default ``name_zh`` /
        ``name_en`` if present, else the first of ``name``, ``名称``, ``名字``,
        ``zone_name``, ``title`` (any case), else the id.
    layer : str, optional
        Layer to read from a multi-layer file (e.g. a GeoPackage).
    polygons : bool
        Require polygons (zones that firms fall in): a feature that is a
        point or a line is an error. Off for layers of sites, such as
        candidate points.

    Returns
    -------
    GeoDataFrame
        In WGS84, with ``zone_id`` (str, unique), ``name_zh``, ``name_en``,
        ``source``, ``accuracy`` and the file's other columns. The ids of
        geometries repaired with :func:`shapely.make_valid` are listed in
        ``attrs["repaired"]``, what the reader decided (a Shapefile's text
        encoding repaired) in ``attrs["notes"]``.

    Raises
    ------
    GeoError
        If ``name_or_path`` is neither a bundled layer nor an existing file.
    InputError
        If the file cannot be read, has duplicate ids, missing ids, empty
        geometries, a coordinate system that is not horizontal (``LOCAL_CS``,
        vertical), or (with ``polygons``) points or lines.

    Examples
    --------
    >>> towns = load_layer("towns")
    >>> parks = load_layer("parks.gpkg", id_column="park_code")  # doctest: +SKIP
    """
    catalog = load_catalog()
    notes: list[str] = []
    if isinstance(name_or_path, str) and name_or_path in catalog:
        path = bundled_dir("layers") / catalog[name_or_path]["file"]
        frame = _read(path, None, notes)
        frame = _to_wgs84(frame, parse_coord_system("wgs84"), path)
    else:
        path = Path(name_or_path)
        if not path.is_file():
            raise GeoError(
                f"'{name_or_path}' is neither a bundled layer nor an existing file; "
                f"bundled layers: {', '.join(catalog)}"
            )
        frame = _read(path, layer, notes)
        frame = _to_wgs84(frame, parse_coord_system(coords), path)
        frame = _user_columns(frame, path, id_column, name_column)
    frame["zone_id"] = frame["zone_id"].astype(str)
    frame = _validate(frame, path, polygons)
    frame.attrs["notes"] = notes
    return frame


def load_zones(
    spec: str | Path,
    *,
    area: shapely.Geometry | None = None,
    analysis_crs: str | None = None,
    coords: str = "wgs84",
    id_column: str | None = None,
    name_column: str | None = None,
    layer: str | None = None,
) -> gpd.GeoDataFrame:
    """Load any zone layer: a bundled name, a grid specification or a file.

    Parameters
    ----------
    spec : str or Path
        ``districts``/``platforms``/``towns``..., ``square:500``, ``hex:500``,
        ``h3:8`` (see :mod:`geo.io.grids`), or a file path. A file must hold
        polygons: points or lines are an error.
    area : shapely.Geometry, optional
        Study area (WGS84) a grid covers; the bundled districts by default.
    analysis_crs : str, optional
        Projected CRS of square and hexagonal grids (default EPSG:4549).
    coords, id_column, name_column, layer
        As in :func:`load_layer`, for files.

    Returns
    -------
    GeoDataFrame
        In WGS84; ``attrs["spec"]`` records ``spec``.
    """
    from geo.io.crs import DEFAULT_ANALYSIS_CRS
    from geo.io.grids import make_grid, parse_grid_spec

    grid = parse_grid_spec(str(spec))
    if grid is not None:
        frame = make_grid(grid, area if area is not None else study_area(),
                          analysis_crs or DEFAULT_ANALYSIS_CRS)
    else:
        frame = load_layer(spec, coords=coords, id_column=id_column, name_column=name_column,
                           layer=layer, polygons=True)
    frame.attrs["spec"] = str(spec)
    return frame


def study_area(districts: gpd.GeoDataFrame | None = None) -> shapely.Geometry:
    """Return the union of the districts, in WGS84.

    Parameters
    ----------
    districts : GeoDataFrame, optional
        The districts; the bundled ``districts`` layer by default.

    Returns
    -------
    shapely.Geometry
        A (multi)polygon in WGS84 degrees.
    """
    if districts is None:
        districts = load_layer("districts")
    return shapely.union_all(districts.to_crs(WGS84).geometry.to_numpy())


def assign_points(points: gpd.GeoDataFrame, zones: gpd.GeoDataFrame) -> pd.Series:
    """Return the ``zone_id`` of the zone each point falls in.

    Where zones overlap (a town inside a sci-tech city), the smallest zone
    containing the point wins, so points go to the most specific zone. Points
    on a boundary shared by two zones go to the smaller one.

    Parameters
    ----------
    points : GeoDataFrame
        Points, in the same CRS as ``zones`` (a projected CRS for areas).
    zones : GeoDataFrame
        Zones with a ``zone_id`` column.

    Returns
    -------
    pandas.Series
        Zone ids aligned with ``points`` (NaN for points outside every zone).
    """
    if points.crs != zones.crs:
        raise ValueError(f"points ({points.crs}) and zones ({zones.crs}) differ in CRS")
    zone_geometries = zones.geometry.to_numpy()
    # Index the points and query with the zones: GEOS then prepares each zone
    # polygon once, which is ~40x faster than testing each point against
    # unprepared detailed boundaries.
    zone_at, point_at = shapely.STRtree(points.geometry.to_numpy()).query(
        zone_geometries, predicate="intersects"
    )
    # the smallest zone first, then keep the first match of each point
    order = np.lexsort((shapely.area(zone_geometries)[zone_at], point_at))
    point_at, zone_at = point_at[order], zone_at[order]
    first = np.unique(point_at, return_index=True)[1]
    ids = np.full(len(points), np.nan, dtype=object)
    ids[point_at[first]] = zones["zone_id"].to_numpy()[zone_at[first]]
    return pd.Series(ids, index=points.index, name="zone_id")


def _read(path: Path, layer: str | None, notes: list[str]) -> gpd.GeoDataFrame:
    """Read a vector file, turning library errors into an InputError."""
    try:
        if path.suffix.lower() in _PARQUET_SUFFIXES:
            return gpd.read_parquet(path)
        if layer is None:
            layers = [name for name, _ in pyogrio.list_layers(path)]
            if len(layers) > 1:
                raise InputError(
                    f"the file holds {len(layers)} layers ({', '.join(layers)}); "
                    "say which one to read",
                    file=path,
                )
        frame = read_vector(path, layer=layer, notes=notes)
    except _READ_ERRORS as exc:
        reason = str(exc).strip() or type(exc).__name__
        raise InputError(
            f"cannot read it as a zone layer ({reason}); use a GeoPackage, Shapefile, "
            "GeoJSON, KML or GeoParquet file",
            file=path,
        ) from exc
    if not isinstance(frame, gpd.GeoDataFrame):
        raise InputError("the file has no geometry; zones need polygons", file=path)
    return frame


def _to_wgs84(frame: gpd.GeoDataFrame, system: CoordSystem, path: Path) -> gpd.GeoDataFrame:
    """Reproject to WGS84 from the file's CRS, or from ``system`` where that applies."""
    require_horizontal(frame.crs, path)
    if system.crs is None:  # GCJ-02 / BD-09: positions are lon/lat in an obfuscated datum
        if frame.crs is not None and not frame.crs.is_geographic:
            raise InputError(
                f"the file declares the projected CRS {frame.crs.name}, but coords is "
                f"{system.label()}; drop coords or fix the file's CRS",
                file=path,
            )
        geometries = transform_geometries(
            frame.geometry.to_numpy(), lambda x, y: to_wgs84(x, y, system)
        )
        frame = frame.set_geometry(gpd.GeoSeries(geometries, index=frame.index, crs=WGS84))
    else:
        if frame.crs is None:
            frame = frame.set_crs(system.crs)
        frame = frame.to_crs(WGS84)
    west, south, east, north = frame.total_bounds
    if west < -180 or east > 180 or south < -90 or north > 90:  # NaN (all empty) passes
        raise InputError(
            f"coordinates read as {system.label()} are not longitude/latitude; if the file "
            "declares no CRS, pass its coordinate system, e.g. coords='4549'",
            file=path,
        )
    return frame


def _find_column(columns: pd.Index, wanted: str | None, candidates: tuple[str, ...], path: Path,
                 what: str) -> str | None:
    """Return the column named ``wanted``, or the first obvious candidate."""
    if wanted is not None:
        if wanted not in columns:
            raise InputError(
                f"no {what} column '{wanted}'; the columns are: {', '.join(map(str, columns))}",
                file=path,
                column=wanted,
            )
        return wanted
    by_lower = {str(c).lower(): c for c in columns}
    return next((by_lower[c.lower()] for c in candidates if c.lower() in by_lower), None)


def _user_columns(
    frame: gpd.GeoDataFrame, path: Path, id_column: str | None, name_column: str | None
) -> gpd.GeoDataFrame:
    """Fill the required columns of a user's file."""
    frame = frame.copy()
    columns = frame.columns.drop(frame.geometry.name)
    id_name = _find_column(columns, id_column, _ID_COLUMNS, path, "id")
    if id_name is None:
        ids = pd.Series(np.arange(1, len(frame) + 1), index=frame.index).astype(str)
    else:
        ids = frame[id_name].map(_id_text)
        missing = np.flatnonzero(ids.isna().to_numpy()) + 1
        if missing.size:
            raise InputError(
                f"{missing.size} feature(s) have no id, rows {_listing(missing)}; "
                "fill them or pass another id column",
                file=path,
                column=id_name,
            )
    frame["zone_id"] = ids
    if name_column is not None or not {"name_zh", "name_en"} & set(columns):
        name_name = _find_column(columns, name_column, _NAME_COLUMNS, path, "name")
        frame["name_zh"] = frame["name_en"] = frame[name_name] if name_name else ids
    zh = frame.get("name_zh", frame.get("name_en"))
    en = frame.get("name_en", zh)
    frame["name_zh"] = zh.fillna(en).fillna(ids).astype(str)
    frame["name_en"] = en.fillna(zh).fillna(ids).astype(str)
    if "source" not in frame.columns:
        frame["source"] = path.name
    if "accuracy" not in frame.columns:
        frame["accuracy"] = USER_ACCURACY
    return frame


def _id_text(value: object) -> str | None:
    """Return an id as text: 7.0 -> "7"; None/NaN/blank -> None."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text = str(value).strip()
    return text or None


def _listing(values) -> str:
    """Comma-separated values, shortened after the first few."""
    values = [str(v) for v in values]
    more = f" and {len(values) - _MAX_LISTED} more" if len(values) > _MAX_LISTED else ""
    return ", ".join(values[:_MAX_LISTED]) + more


def _validate(frame: gpd.GeoDataFrame, path: Path, polygons: bool) -> gpd.GeoDataFrame:
    """Check ids and geometries (polygons, if required); repair invalid geometries."""
    duplicated = frame["zone_id"][frame["zone_id"].duplicated()].unique()
    if duplicated.size:
        raise InputError(
            f"zone ids must be unique; duplicated: {_listing(duplicated)}",
            file=path,
            column="zone_id",
        )
    geometries, invalid = repair_geometries(frame.geometry.to_numpy())
    if invalid.any():
        frame = frame.set_geometry(gpd.GeoSeries(geometries, index=frame.index, crs=frame.crs))
    empty = np.flatnonzero(shapely.is_missing(geometries) | shapely.is_empty(geometries)) + 1
    if empty.size:
        raise InputError(
            f"{empty.size} feature(s) have no geometry (or one that collapses when repaired), "
            f"rows {_listing(empty)} (zone_id {_listing(frame['zone_id'].iloc[empty - 1])}); "
            "remove them or draw their shapes",
            file=path,
        )
    if polygons:
        _check_polygons(frame, path)
    frame.attrs["repaired"] = frame["zone_id"][invalid].tolist()
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:  # only a damaged bundled layer can get here
        raise InputError(f"the layer lacks the columns {', '.join(missing)}", file=path)
    return frame


def _check_polygons(frame: gpd.GeoDataFrame, path: Path) -> None:
    """Zones hold firms: points and lines, which hold none, are an error naming the rows."""
    geometries = frame.geometry.to_numpy()
    kinds = shapely.get_type_id(geometries)
    # a collection counts when it has area (make_valid can return one)
    wrong = ~np.isin(kinds, _POLYGONAL) & ~(
        (kinds == shapely.GeometryType.GEOMETRYCOLLECTION) & (shapely.area(geometries) > 0)
    )
    if not wrong.any():
        return
    rows = np.flatnonzero(wrong) + 1
    types = sorted({g.geom_type for g in geometries[wrong]})
    every = wrong.all()
    what = "all its features" if every else f"{rows.size} of {len(frame)} features"
    what_zh = "所有要素" if every else f"{len(frame)} 个要素中有 {rows.size} 个"
    advice = ("a zone file holds areas such as districts or parks: is this a file of points "
              "or lines, e.g. firms, sites or roads?" if every else
              "remove those features or draw their areas")
    advice_zh = ("分区文件应是区县、园区等面状范围：这是否是点或线文件，如企业、选址点或道路？"
                 if every else "请删除这些要素或绘制其范围")
    raise InputError(
        f"zones must be polygons, but {what} are {'/'.join(types)} (rows {_listing(rows)}, "
        f"zone_id {_listing(frame['zone_id'].iloc[rows - 1])}); {advice}",
        zh=f"分区必须是面，但{what_zh}是 {'/'.join(types)}（第 {_listing(rows)} 个要素）；"
        f"{advice_zh}",
        file=path,
    )


__all__ = [
    "REQUIRED_COLUMNS",
    "assign_points",
    "layer_names",
    "load_catalog",
    "load_layer",
    "study_area",
]
