"""Write map layers to GIS formats (first: the run's GeoPackage).

Every file is written to a temporary name and renamed into place, so a
failure never leaves half a file.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio

from geo.errors import InputError, OutputError
from geo.io.crs import WGS84, frame_to_gcj02
from geo.io.vector import gdal_message, read_vector, tidy_layer
from geo.outputs import atomic_path
from geo.safety import escape_html, protect_text_cells, write_csv, xlsx_text

# GeoPackage 1.2: GDAL 3.6 and QGIS 3.22 (Debian 12) warn on every layer of a 1.4
# file ("may only be partially supported"); 1.2 has everything the layers use.
GPKG_DATASET_OPTIONS = {"VERSION": "1.2"}


def write_geopackage(
    layers: dict[str, gpd.GeoDataFrame | pd.DataFrame],
    path: str | Path,
    *,
    metadata: dict[str, dict[str, str]] | None = None,
    finish: Callable[[Path], object] | None = None,
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
    finish : callable, optional
        Called with the complete file before it is renamed into place, e.g.
        to add QGIS styles: the file appears with them or not at all.

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
        if finish is not None:
            finish(tmp)
    return path


def write_layer(
    frame: gpd.GeoDataFrame, path: str | Path, *, allow_formulas: bool = False
) -> Path:
    """Write one layer to a file chosen by extension, atomically.

    ``.csv`` writes attributes plus ``lon``/``lat`` (points) or ``wkt`` (other
    geometries) in WGS84, as UTF-8 with BOM so Excel shows Chinese, with a
    ``'`` before text a spreadsheet would run as a formula
    (:func:`geo.safety.write_csv`); ``.gpkg``, ``.geojson`` and
    ``.parquet`` keep the geometry (GeoJSON in WGS84 as RFC 7946 requires).

    Parameters
    ----------
    frame : GeoDataFrame
        The layer.
    path : str or Path
        Destination; its extension picks the format.
    allow_formulas : bool
        Trusted data: write CSV text cells as they are, formulas included.

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
            write_csv(table, tmp, allow_formulas=allow_formulas, float_format="%.7f")
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


def write_tables(
    tables: dict[str, pd.DataFrame], path: str | Path, *, allow_formulas: bool = False
) -> list[Path]:
    """Write named tables to CSV, XLSX or Parquet, each file atomically.

    ``.xlsx`` puts every table in a sheet of one workbook. ``.csv`` and
    ``.parquet`` write one file per table, named ``<stem>_<table><suffix>``
    beside ``path`` (CSV as UTF-8 with BOM so Excel shows Chinese).
    Spreadsheets never get a live formula from a text value: CSV text cells a
    spreadsheet would run get a leading ``'``, XLSX stores them as text
    (:mod:`geo.safety`).

    Parameters
    ----------
    tables : dict of str to DataFrame
        Table name (sheet name, file suffix) to data.
    path : str or Path
        Destination; its extension picks the format.
    allow_formulas : bool
        Trusted data: write text cells as they are; in XLSX, text starting
        with ``=`` becomes a formula.

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
        sheets = _sheet_names(list(tables))
        with atomic_path(path) as tmp, pd.ExcelWriter(tmp, engine="openpyxl") as writer:
            for name, table in tables.items():
                xlsx_text(table).to_excel(writer, sheet_name=sheets[name], index=False)
                if not allow_formulas:
                    protect_text_cells(writer.sheets[sheets[name]])
        return [path]
    written = []
    for name, table in tables.items():
        target = path.with_name(f"{path.stem}_{name}{suffix}")
        with atomic_path(target) as tmp:
            if suffix == ".csv":
                write_csv(table, tmp, allow_formulas=allow_formulas)
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
        Each spatial layer of a user's file is tidied (:func:`geo.io.vector.tidy_layer`);
        what was changed is in its ``attrs["notes"]``.
    """
    layers: dict[str, gpd.GeoDataFrame | pd.DataFrame] = {}
    for source in sources:
        path = Path(source)
        run_folder = path.is_dir()
        if run_folder:
            path = path / "layers.gpkg"
        if not path.is_file():
            raise InputError("not a run folder or a layer file", file=source)
        try:
            # QGIS styles are not data: geo export writes fresh ones for a GeoPackage
            names = [n for n, _ in pyogrio.list_layers(path) if n != "layer_styles"]
            for name in names:
                notes: list[str] = []
                frame = read_vector(path, layer=name, notes=notes)
                if isinstance(frame, gpd.GeoDataFrame) and not run_folder:
                    frame = tidy_layer(frame, path, notes)
                # provenance (source, synthetic flag, run parameters) travels along
                meta = pyogrio.read_info(path, layer=name).get("layer_metadata") or {}
                frame.attrs["metadata"] = dict(meta)
                frame.attrs["notes"] = notes
                key = name if len(names) > 1 or path.suffix.lower() == ".gpkg" else path.stem
                layers[key] = frame
        except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as exc:
            raise InputError(f"cannot read it: {gdal_message(exc)}", file=path) from exc
    return layers


def _to_crs(frame: gpd.GeoDataFrame, crs: str) -> gpd.GeoDataFrame:
    return frame_to_gcj02(frame) if crs == "gcj02" else frame.to_crs(crs)


def _unique_names(names: list[str], cut: Callable[[str, str], str]) -> dict[str, str]:
    """Names made unique ignoring case: ``cut(name, "")``, else ``cut(name, "_1")``..."""
    out: dict[str, str] = {}
    used: set[str] = set()
    for name in names:
        short, k = cut(name, ""), 1
        while short.lower() in used:
            short, k = cut(name, f"_{k}"), k + 1
        used.add(short.lower())
        out[name] = short
    return out


def _short_names(columns: list[str]) -> dict[str, str]:
    """Shorten field names to unique shapefile names of at most 10 bytes (UTF-8)."""

    def cut(column: str, suffix: str) -> str:
        base = column.encode("utf-8")[:10].decode("utf-8", "ignore") or "field"
        return base.encode("utf-8")[: 10 - len(suffix)].decode("utf-8", "ignore") + suffix

    return _unique_names(columns, cut)


_SHEET_FORBIDDEN = re.compile(r"[\\/*?:\[\]\x00-\x1f]")  # characters Excel refuses in sheet names


def _sheet_names(tables: list[str]) -> dict[str, str]:
    """Worksheet name of each table: unique, at most 31 characters, none Excel refuses."""

    def cut(table: str, suffix: str) -> str:
        base = _SHEET_FORBIDDEN.sub("_", table).strip("'") or "sheet"
        if base.lower() == "history":  # reserved by Excel
            base += "_"
        return base[: 31 - len(suffix)] + suffix

    return _unique_names(tables, cut)


# characters Windows refuses in file names, or that would leave the folder
_FILE_FORBIDDEN = re.compile(r'[\\/:*?"<>|\x00-\x1f\x7f]')
_WINDOWS_DEVICES = {"con", "prn", "aux", "nul", *(f"com{k}" for k in range(1, 10)),
                    *(f"lpt{k}" for k in range(1, 10))}


def file_stems(names: list[str]) -> dict[str, str]:
    """File name stem of each layer: unique ignoring case, safe on every system.

    A layer name comes from the user's files, so it may hold ``/``, ``..``,
    characters Windows refuses or a device name (``CON``); none of them can
    place a file outside the export folder or fail to open on another system.
    Stems are at most 100 bytes (UTF-8), leaving room for suffixes.

    Parameters
    ----------
    names : list of str
        Layer names.

    Returns
    -------
    dict
        Layer name to file stem.
    """

    def cut(name: str, suffix: str) -> str:
        base = _FILE_FORBIDDEN.sub("_", str(name)).strip(" .") or "layer"
        if base.split(".")[0].lower() in _WINDOWS_DEVICES:
            base = "_" + base
        return base.encode("utf-8")[: 100 - len(suffix)].decode("utf-8", "ignore") + suffix

    return _unique_names(names, cut)


def _write_shapefiles(
    name: str, frame: gpd.GeoDataFrame, folder: Path, allow_formulas: bool
) -> list[Path]:
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
    write_csv(fields, folder / f"{name}_fields.csv", allow_formulas=allow_formulas)
    written.append(folder / f"{name}_fields.csv")
    if long_rows:
        write_csv(pd.DataFrame(long_rows), folder / f"{name}_full_text.csv",
                  allow_formulas=allow_formulas)
        written.append(folder / f"{name}_full_text.csv")
    return written


def _write_kml(name: str, stem: str, frame: gpd.GeoDataFrame, folder: Path, kmz: bool) -> Path:
    """KML (or KMZ) with a readable name, a description, typed attributes and class styles.

    Google Earth shows names and descriptions as HTML, so every value is
    HTML-escaped inside them; GDAL then escapes the whole text for XML.
    :func:`geo.export.kml.style_kml` adds every attribute as ``ExtendedData`` and
    the map recipe's class styles.
    """
    import zipfile

    from geo.export.kml import style_kml

    wgs = frame.to_crs(WGS84)
    label = next((c for c in ("name_zh", "name", "zone_id", "firm_id") if c in wgs.columns), None)
    attrs = [c for c in wgs.columns if c != wgs.geometry.name]
    out = gpd.GeoDataFrame(
        {
            "Name": wgs[label].map(escape_html) if label else [str(i) for i in range(len(wgs))],
            "Description": [
                "<br>".join(
                    f"{escape_html(c)}: {escape_html(row[c])}" for c in attrs if pd.notna(row[c])
                )
                for _, row in wgs[attrs].iterrows()
            ],
        },
        geometry=wgs.geometry.to_numpy(),
        crs=WGS84,
    )
    kml = folder / f"{stem}.kml"
    pyogrio.write_dataframe(out, kml, driver="KML", layer=name)  # the folder Google Earth lists
    style_kml(kml, wgs, name)
    if not kmz:
        return kml
    target = folder / f"{stem}.kmz"
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
    allow_formulas: bool = False,
    inputs: Iterable[str | Path] = (),
) -> list[Path]:
    """Export layers to one format, atomically.

    The new output replaces the old one only once it is complete (written
    beside it, flushed, renamed): an interruption or a full disk leaves the
    previous export as it was.

    Text reaches spreadsheets and Google Earth inert: CSV and XLSX never
    carry a live formula from a text value, KML names and descriptions are
    HTML-escaped (:mod:`geo.safety`).

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
    allow_formulas : bool
        Trusted data: write CSV and XLSX text cells as they are; in XLSX,
        text starting with ``=`` becomes a formula.
    inputs : iterable of str or Path
        The files the layers were read from: never replaced, not even with
        ``force``.

    Returns
    -------
    list of Path
        Files written.

    Raises
    ------
    OutputError
        For an unknown format or CRS, an existing output without ``force``,
        or an output that would replace an input.
    """
    import json

    from geo.outputs import atomic_folder, check_output_files

    fmt = fmt.lower()
    if fmt not in EXPORT_FORMATS:
        raise OutputError(f"unknown format '{fmt}': use {', '.join(EXPORT_FORMATS)}", file=out)
    target_crs = EXPORT_CRS.get(str(crs).lower().removeprefix("epsg:"))
    if target_crs is None:
        raise OutputError(f"unknown CRS '{crs}': use wgs84, cgcs2000, 4549 or gcj02", file=out)
    out = Path(out)
    inputs = list(inputs)
    if fmt in ("gpkg", "xlsx"):
        check_output_files([out], force=force, inputs=inputs)
    elif out.exists() and not force:
        raise OutputError(f"{out} exists; pass --force to replace it", file=out)
    spatial = {k: v for k, v in layers.items() if isinstance(v, gpd.GeoDataFrame)}
    tables = {k: pd.DataFrame(v) for k, v in layers.items() if not isinstance(v, gpd.GeoDataFrame)}
    if fmt not in ("geojson", "kml", "kmz"):
        spatial = {k: _to_crs(v, target_crs) for k, v in spatial.items()}
    if fmt == "gpkg":
        from geo.maps import load_recipe
        from geo.maps.styles import write_layer_styles

        metadata = {k: v.attrs.get("metadata", {}) for k, v in layers.items()}
        # layers the default recipe knows arrive symbolised in QGIS
        write_geopackage({**spatial, **tables}, out,
                         metadata={k: v for k, v in metadata.items() if v},
                         finish=lambda tmp: write_layer_styles(tmp, spatial,
                                                               load_recipe("default")))
        return [out]
    if fmt == "xlsx":
        sheets = {**{k: _with_position(v) for k, v in spatial.items()}, **tables}
        return write_tables(sheets, out, allow_formulas=allow_formulas)
    written: list[Path] = []
    stems = file_stems(list(layers))
    # with --force the export replaces its own files; other files in the folder are kept
    with atomic_folder(out, marker="export.json", force=force, inputs=inputs) as folder:
        for name, frame in spatial.items():
            stem = stems[name]
            if fmt == "shp":
                written += [out / p.name
                            for p in _write_shapefiles(stem, frame, folder, allow_formulas)]
            elif fmt == "geojson":
                pyogrio.write_dataframe(frame.to_crs(WGS84), folder / f"{stem}.geojson",
                                        driver="GeoJSON", RFC7946="YES",
                                        COORDINATE_PRECISION=7)
                written.append(out / f"{stem}.geojson")
            elif fmt in ("kml", "kmz"):
                written.append(out / _write_kml(name, stem, frame, folder, fmt == "kmz").name)
            elif fmt == "parquet":
                frame.to_parquet(folder / f"{stem}.parquet")
                written.append(out / f"{stem}.parquet")
            else:  # csv
                write_csv(_with_wkt(frame), folder / f"{stem}.csv",
                          allow_formulas=allow_formulas)
                written.append(out / f"{stem}.csv")
        for name, table in tables.items():
            write_csv(table, folder / f"{stems[name]}.csv", allow_formulas=allow_formulas)
            written.append(out / f"{stems[name]}.csv")
        (folder / "export.json").write_text(
            json.dumps({"format": fmt, "crs": crs, "layers": list(layers),
                        "files": {name: stem for name, stem in stems.items() if stem != name},
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
