"""Write map layers to GIS formats (first: the run's GeoPackage).

Every file is written to a temporary name and renamed into place, so a
failure never leaves half a file.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio

from geo.crs import WGS84, frame_to_gcj02
from geo.errors import InputError, OutputError
from geo.outputs import atomic_path

# GeoPackage 1.2: GDAL 3.6 and QGIS 3.22 (Debian 12) warn on every layer of a 1.4
# file ("may only be partially supported"); 1.2 has everything the layers use.
GPKG_DATASET_OPTIONS = {"VERSION": "1.2"}


def write_geopackage(
    layers: dict[str, gpd.GeoDataFrame | pd.DataFrame],
    path: str | Path,
    *,
    metadata: dict[str, dict[str, str]] | None = None,
) -> Path:
    """Write several layers (and plain tables) into one GeoPackage, atomically.

    Parameters
    ----------
    layers : dict of str to GeoDataFrame or DataFrame
        Layer name to data; GeoDataFrames become spatial layers in their own
        CRS, DataFrames attribute-only tables.
    path : str or Path
        Destination ``.gpkg``.
    metadata : dict of str to dict, optional
        Per-layer key/value metadata (source, synthetic flag, parameters),
        stored as GDAL layer metadata.

    Returns
    -------
    Path
    """
    path = Path(path)
    metadata = metadata or {}
    with atomic_path(path) as tmp:
        for name, frame in layers.items():
            layer_metadata = {k: str(v) for k, v in metadata.get(name, {}).items()}
            if isinstance(frame, gpd.GeoDataFrame):
                pyogrio.write_dataframe(
                    frame,
                    tmp,
                    layer=name,
                    driver="GPKG",
                    append=tmp.exists(),
                    layer_metadata=layer_metadata or None,
                    dataset_options=None if tmp.exists() else GPKG_DATASET_OPTIONS,
                    SPATIAL_INDEX="YES",
                )
            else:
                pyogrio.write_dataframe(
                    pd.DataFrame(frame),
                    tmp,
                    layer=name,
                    driver="GPKG",
                    append=tmp.exists(),
                    layer_metadata=layer_metadata or None,
                    dataset_options=None if tmp.exists() else GPKG_DATASET_OPTIONS,
                )
    return path


def write_layer(frame: gpd.GeoDataFrame, path: str | Path) -> Path:
    """Write one layer to a file chosen by extension, atomically.

    ``.csv`` writes attributes plus ``lon``/``lat`` (points) or ``wkt`` (other
    geometries) in WGS84, as UTF-8 with BOM so Excel shows Chinese; ``.gpkg``,
    ``.geojson`` and ``.parquet`` keep the geometry (GeoJSON in WGS84 as RFC 7946
    requires).

    Parameters
    ----------
    frame : GeoDataFrame
        The layer.
    path : str or Path
        Destination; its extension picks the format.

    Returns
    -------
    Path

    Raises
    ------
    OutputError
        For an unsupported extension or an unwritable destination.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".gpkg", ".geojson", ".parquet"):
        raise OutputError(
            f"unsupported output format '{suffix}': use .csv, .gpkg, .geojson or .parquet",
            file=path,
        )
    with atomic_path(path) as tmp:
        if suffix == ".csv":
            table = pd.DataFrame(frame.drop(columns=frame.geometry.name))
            wgs = frame.geometry.to_crs(WGS84) if frame.crs is not None else frame.geometry
            if (wgs.geom_type == "Point").all():
                table["lon"], table["lat"] = wgs.x, wgs.y
            else:
                table["wkt"] = wgs.to_wkt()
            table.to_csv(tmp, index=False, encoding="utf-8-sig", float_format="%.7f")
        elif suffix == ".parquet":
            frame.to_parquet(tmp)
        elif suffix == ".geojson":
            pyogrio.write_dataframe(
                frame.to_crs(WGS84), tmp, driver="GeoJSON", RFC7946="YES", COORDINATE_PRECISION=7
            )
        else:
            # name the layer after the final file, not the temporary one
            layer = re.sub(r"\W+", "_", path.stem).strip("_") or "layer"
            pyogrio.write_dataframe(frame, tmp, layer=layer, driver="GPKG", SPATIAL_INDEX="YES")
    return path


TABLE_FORMATS = (".csv", ".xlsx", ".parquet")
_EXCEL_MAX_ROWS = 1_048_576  # including the header row


def write_tables(tables: dict[str, pd.DataFrame], path: str | Path) -> list[Path]:
    """Write named tables to CSV, XLSX or Parquet, each file atomically.

    ``.xlsx`` puts every table in a sheet of one workbook. ``.csv`` and
    ``.parquet`` write one file per table, named ``<stem>_<table><suffix>``
    beside ``path`` (CSV as UTF-8 with BOM so Excel shows Chinese).

    Parameters
    ----------
    tables : dict of str to DataFrame
        Table name (sheet name, file suffix) to data.
    path : str or Path
        Destination; its extension picks the format.

    Returns
    -------
    list of Path
        The files written.

    Raises
    ------
    OutputError
        For an unsupported extension or an unwritable destination.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in TABLE_FORMATS:
        raise OutputError(
            f"unsupported table format '{suffix}': use {', '.join(TABLE_FORMATS)}", file=path
        )
    if suffix == ".xlsx":
        for name, table in tables.items():
            if len(table) >= _EXCEL_MAX_ROWS:
                raise OutputError(
                    f"table '{name}' has {len(table):,} rows, more than a worksheet holds "
                    f"({_EXCEL_MAX_ROWS:,}); write .csv or .parquet instead",
                    file=path,
                )
        with atomic_path(path) as tmp, pd.ExcelWriter(tmp, engine="openpyxl") as writer:
            for name, table in tables.items():
                table.to_excel(writer, sheet_name=name[:31], index=False)
        return [path]
    written = []
    for name, table in tables.items():
        target = path.with_name(f"{path.stem}_{name}{suffix}")
        with atomic_path(target) as tmp:
            if suffix == ".csv":
                table.to_csv(tmp, index=False, encoding="utf-8-sig")
            else:
                table.to_parquet(tmp, index=False)
        written.append(target)
    return written


EXPORT_FORMATS = ("gpkg", "shp", "geojson", "kml", "kmz", "parquet", "csv", "xlsx")
EXPORT_CRS = {
    "wgs84": "EPSG:4326",
    "cgcs2000": "EPSG:4490",
    "4326": "EPSG:4326",
    "4490": "EPSG:4490",
    "4549": "EPSG:4549",
    "gcj02": "gcj02",
}
_SHP_TYPES = {"Point": "point", "MultiPoint": "point", "LineString": "line",
              "MultiLineString": "line", "Polygon": "polygon", "MultiPolygon": "polygon"}


def read_layers(sources: list[Path]) -> dict[str, gpd.GeoDataFrame | pd.DataFrame]:
    """Layers of run folders (their ``layers.gpkg``) and layer files, by name.

    Parameters
    ----------
    sources : list of Path
        Run folders or vector files (GeoPackage layers keep their names,
        other files are named after the file).

    Returns
    -------
    dict
    """
    layers: dict[str, gpd.GeoDataFrame | pd.DataFrame] = {}
    for source in sources:
        path = Path(source)
        if path.is_dir():
            path = path / "layers.gpkg"
        if not path.is_file():
            raise InputError("not a run folder or a layer file", file=source)
        try:
            # QGIS styles are not data: geo export writes fresh ones for a GeoPackage
            names = [n for n, _ in pyogrio.list_layers(path) if n != "layer_styles"]
            for name in names:
                frame = pyogrio.read_dataframe(path, layer=name)
                # provenance (source, synthetic flag, run parameters) travels along
                meta = pyogrio.read_info(path, layer=name).get("layer_metadata") or {}
                frame.attrs["metadata"] = dict(meta)
                key = name if len(names) > 1 or path.suffix.lower() == ".gpkg" else path.stem
                layers[key] = frame
        except pyogrio.errors.DataSourceError as exc:
            raise InputError(f"cannot read it: {exc}", file=path) from exc
    return layers


def _to_crs(frame: gpd.GeoDataFrame, crs: str) -> gpd.GeoDataFrame:
    return frame_to_gcj02(frame) if crs == "gcj02" else frame.to_crs(crs)


def _short_names(columns: list[str]) -> dict[str, str]:
    """Shorten field names to unique shapefile names of at most 10 bytes (UTF-8)."""
    out: dict[str, str] = {}
    used: set[str] = set()
    for column in columns:
        base = column.encode("utf-8")[:10].decode("utf-8", "ignore") or "field"
        name, k = base, 1
        while name.lower() in used:
            suffix = f"_{k}"
            name = base.encode("utf-8")[: 10 - len(suffix)].decode("utf-8", "ignore") + suffix
            k += 1
        used.add(name.lower())
        out[column] = name
    return out


def _write_shapefiles(name: str, frame: gpd.GeoDataFrame, folder: Path) -> list[Path]:
    """One zipped UTF-8 shapefile per geometry type of the layer, plus a field-name map."""
    import zipfile

    kinds = frame.geom_type.map(_SHP_TYPES).fillna("other")
    written = []
    mapping = _short_names([c for c in frame.columns if c != frame.geometry.name])
    # dBase text fields hold 254 bytes: cut long texts at a character boundary
    # and keep the full values beside the zip, so nothing is lost
    frame = frame.copy()
    long_rows = []
    for column in mapping:
        if frame[column].dtype != object and not pd.api.types.is_string_dtype(frame[column]):
            continue
        text = frame[column].astype(object)
        too_long = text.map(lambda v: isinstance(v, str) and len(v.encode("utf-8")) > 254)
        if too_long.any():
            for row, value in text[too_long].items():
                long_rows.append({"row": row, "field": column, "value": value})
            frame[column] = text.where(~too_long, text[too_long].map(
                lambda v: v.encode("utf-8")[:254].decode("utf-8", "ignore")))
    for kind in sorted(kinds.unique()):
        part = frame[kinds == kind].rename(columns=mapping)
        stem = name if kinds.nunique() == 1 else f"{name}_{kind}"
        with tempfile.TemporaryDirectory() as tmp:
            shp = Path(tmp) / f"{stem}.shp"
            pyogrio.write_dataframe(part, shp, driver="ESRI Shapefile", encoding="UTF-8")
            # *.shp.zip: GDAL (ogrinfo, QGIS) opens such a zip directly as a shapefile
            target = folder / f"{stem}.shp.zip"
            with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
                for member in sorted(Path(tmp).iterdir()):
                    archive.write(member, member.name)
        written.append(target)
    truncated = {r["field"] for r in long_rows}
    fields = pd.DataFrame({
        "field": list(mapping),
        "shapefile_field": list(mapping.values()),
        "note": [f"texts over 254 bytes cut; full values in {name}_full_text.csv"
                 if c in truncated else "" for c in mapping],
    })
    fields.to_csv(folder / f"{name}_fields.csv", index=False, encoding="utf-8-sig")
    written.append(folder / f"{name}_fields.csv")
    if long_rows:
        pd.DataFrame(long_rows).to_csv(folder / f"{name}_full_text.csv", index=False,
                                       encoding="utf-8-sig")
        written.append(folder / f"{name}_full_text.csv")
    return written


def _write_kml(name: str, frame: gpd.GeoDataFrame, folder: Path, kmz: bool) -> Path:
    """KML (or KMZ) with a readable name and a description of every attribute."""
    import zipfile

    wgs = frame.to_crs(WGS84)
    label = next((c for c in ("name_zh", "name", "zone_id", "firm_id") if c in wgs.columns), None)
    attrs = [c for c in wgs.columns if c != wgs.geometry.name]
    out = gpd.GeoDataFrame(
        {
            "Name": wgs[label].astype(str) if label else [str(i) for i in range(len(wgs))],
            "Description": [
                "<br>".join(f"{c}: {row[c]}" for c in attrs if pd.notna(row[c]))
                for _, row in wgs[attrs].iterrows()
            ],
        },
        geometry=wgs.geometry.to_numpy(),
        crs=WGS84,
    )
    kml = folder / f"{name}.kml"
    pyogrio.write_dataframe(out, kml, driver="KML", layer=name)
    if not kmz:
        return kml
    target = folder / f"{name}.kmz"
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.write(kml, "doc.kml")
    kml.unlink()
    return target


def export_layers(
    layers: dict[str, gpd.GeoDataFrame | pd.DataFrame],
    out: str | Path,
    fmt: str,
    *,
    crs: str = "wgs84",
    force: bool = False,
) -> list[Path]:
    """Export layers to one format, atomically.

    Parameters
    ----------
    layers : dict
        Layer name to GeoDataFrame (or DataFrame for plain tables).
    out : str or Path
        A ``.gpkg`` or ``.xlsx`` file; a folder for the other formats (one
        file per layer).
    fmt : str
        One of :data:`EXPORT_FORMATS`.
    crs : str
        ``wgs84`` (default), ``cgcs2000``, ``4549`` or ``gcj02`` (for
        overlaying on Amap; not an EPSG CRS: files are labelled WGS 84).
        GeoJSON and KML are always WGS84, as their specifications require.
    force : bool
        Replace an existing output.

    Returns
    -------
    list of Path
        Files written.

    Raises
    ------
    OutputError
        For an unknown format or CRS, or an existing output without ``force``.
    """
    import json

    from geo.outputs import atomic_folder

    fmt = fmt.lower()
    if fmt not in EXPORT_FORMATS:
        raise OutputError(f"unknown format '{fmt}': use {', '.join(EXPORT_FORMATS)}", file=out)
    target_crs = EXPORT_CRS.get(str(crs).lower().removeprefix("epsg:"))
    if target_crs is None:
        raise OutputError(f"unknown CRS '{crs}': use wgs84, cgcs2000, 4549 or gcj02", file=out)
    out = Path(out)
    if out.exists() and not force:
        raise OutputError(f"{out} exists; pass --force to replace it", file=out)
    spatial = {k: v for k, v in layers.items() if isinstance(v, gpd.GeoDataFrame)}
    tables = {k: pd.DataFrame(v) for k, v in layers.items() if not isinstance(v, gpd.GeoDataFrame)}
    if fmt not in ("geojson", "kml", "kmz"):
        spatial = {k: _to_crs(v, target_crs) for k, v in spatial.items()}
    if fmt == "gpkg":
        from geo.maps import load_recipe
        from geo.qgis import write_layer_styles

        if out.exists():
            out.unlink()
        metadata = {k: v.attrs.get("metadata", {}) for k, v in layers.items()}
        write_geopackage({**spatial, **tables}, out,
                         metadata={k: v for k, v in metadata.items() if v})
        # layers the default recipe knows arrive symbolised in QGIS
        write_layer_styles(out, spatial, load_recipe("default"))
        return [out]
    if fmt == "xlsx":
        sheets = {**{k: _with_position(v) for k, v in spatial.items()}, **tables}
        if out.exists():
            out.unlink()
        return write_tables(sheets, out)
    written: list[Path] = []
    # with --force the export replaces its own files; other files in the folder are kept
    with atomic_folder(out, marker="export.json", force=force) as folder:
        for name, frame in spatial.items():
            if fmt == "shp":
                written += [out / p.name for p in _write_shapefiles(name, frame, folder)]
            elif fmt == "geojson":
                pyogrio.write_dataframe(frame.to_crs(WGS84), folder / f"{name}.geojson",
                                        driver="GeoJSON", RFC7946="YES",
                                        COORDINATE_PRECISION=7)
                written.append(out / f"{name}.geojson")
            elif fmt in ("kml", "kmz"):
                written.append(out / _write_kml(name, frame, folder, fmt == "kmz").name)
            elif fmt == "parquet":
                frame.to_parquet(folder / f"{name}.parquet")
                written.append(out / f"{name}.parquet")
            else:  # csv
                _with_wkt(frame).to_csv(folder / f"{name}.csv", index=False,
                                        encoding="utf-8-sig")
                written.append(out / f"{name}.csv")
        for name, table in tables.items():
            table.to_csv(folder / f"{name}.csv", index=False, encoding="utf-8-sig")
            written.append(out / f"{name}.csv")
        (folder / "export.json").write_text(
            json.dumps({"format": fmt, "crs": crs, "layers": list(layers),
                        "outputs": [path.name for path in written]}, ensure_ascii=False),
            encoding="utf-8",
        )
    return written


def _with_wkt(frame: gpd.GeoDataFrame) -> pd.DataFrame:
    table = pd.DataFrame(frame.drop(columns=frame.geometry.name))
    table["wkt"] = frame.geometry.to_wkt()
    return table


def _with_position(frame: gpd.GeoDataFrame) -> pd.DataFrame:
    """Attributes with lon/lat for points, else a representative point.

    Excel cells hold at most 32,767 characters, too few for many polygons'
    WKT, so spreadsheets carry a position, not the outline.
    """
    table = pd.DataFrame(frame.drop(columns=frame.geometry.name))
    geometry = frame.geometry
    points = (geometry.geom_type == "Point").all()
    where = geometry if points else geometry.representative_point()
    table["lon" if points else "label_lon"] = where.x.to_numpy()
    table["lat" if points else "label_lat"] = where.y.to_numpy()
    return table
