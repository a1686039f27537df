"""Write map layers to GIS formats (first: the run's GeoPackage).

Every file is written to a temporary name and renamed into place, so a
failure never leaves half a file.
"""

from __future__ import annotations

import re
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio

from geo.crs import WGS84
from geo.errors import OutputError
from geo.outputs import atomic_path


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
