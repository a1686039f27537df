"""Export layers to a PostgreSQL/PostGIS database, one table per layer, atomically.

Each layer becomes ``schema.layer`` with typed columns, a ``geom`` column of
``geometry(<type>, <SRID>)`` and a GiST index. Everything happens in one
transaction: the tables are loaded under temporary names (COPY of hex EWKB)
and renamed into place at the end, so a failure or interruption leaves the
database as it was. Existing tables are replaced only with ``replace``.
"""

from __future__ import annotations

import io

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.errors import GeoError, OutputError


def _pg_type(series: pd.Series) -> str:
    if pd.api.types.is_bool_dtype(series):
        return "boolean"
    if pd.api.types.is_integer_dtype(series):
        return "bigint"
    if pd.api.types.is_float_dtype(series):
        return "double precision"
    return "text"


def _quote(name: str) -> str:
    return '"' + str(name).replace('"', '""') + '"'


def _copy_text(value: object) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return "\\N"
    text = str(value).lower() if isinstance(value, bool | np.bool_) else str(value)
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace(
        "\r", "\\r"
    )


def export_postgis(
    layers: dict[str, gpd.GeoDataFrame | pd.DataFrame],
    dsn: str,
    *,
    schema: str = "geo",
    replace: bool = False,
    crs: str = "EPSG:4326",
) -> list[str]:
    """Write every layer as a table of ``schema`` in one transaction.

    Parameters
    ----------
    layers : dict
        Layer name to GeoDataFrame (or DataFrame for plain tables).
    dsn : str
        Connection string, e.g. ``postgresql://user@host:5432/db``.
    schema : str
        Target schema (created if missing).
    replace : bool
        Replace tables that exist; otherwise refuse before writing anything.
    crs : str
        CRS of the geometries in the database (an EPSG code).

    Returns
    -------
    list of str
        Qualified table names written.

    Raises
    ------
    OutputError
        If the database is unreachable, PostGIS is missing, or a table exists
        and ``replace`` is False.
    """
    import psycopg

    try:
        connection = psycopg.connect(dsn, connect_timeout=10)
    except psycopg.OperationalError as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise OutputError(f"cannot connect to the database: {reason}") from exc
    written = []
    with connection as conn, conn.cursor() as cur:
        try:
            cur.execute("SELECT postgis_version()")
        except psycopg.Error as exc:
            raise OutputError(
                "the database has no PostGIS: run CREATE EXTENSION postgis; first"
            ) from exc
        cur.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
                    (schema,))
        existing = {row[0] for row in cur.fetchall()}
        clash = sorted(set(layers) & existing)
        if clash and not replace:
            raise OutputError(
                f"table(s) {', '.join(clash)} exist in schema {schema}; pass --replace"
            )
        cur.execute(f"CREATE SCHEMA IF NOT EXISTS {_quote(schema)}")
        for name, frame in layers.items():
            written.append(_load_table(cur, schema, name, frame, crs))
        # all loaded: swap the new tables in (still inside the transaction)
        for name in layers:
            cur.execute(f"DROP TABLE IF EXISTS {_quote(schema)}.{_quote(name)}")
            cur.execute(
                f"ALTER TABLE {_quote(schema)}.{_quote('_geo_new_' + name)} "
                f"RENAME TO {_quote(name)}"
            )
    return written


def _load_table(cur, schema: str, name: str, frame: pd.DataFrame, crs: str) -> str:
    temp = _quote("_geo_new_" + name)
    qualified = f"{_quote(schema)}.{temp}"
    spatial = isinstance(frame, gpd.GeoDataFrame)
    attrs = pd.DataFrame(frame.drop(columns=frame.geometry.name) if spatial else frame)
    columns = [f"{_quote(c)} {_pg_type(attrs[c])}" for c in attrs.columns]
    srid = None
    if spatial:
        data = frame.to_crs(crs) if frame.crs is not None else frame
        srid = data.crs.to_epsg() if data.crs is not None else 0
        columns.append(f"geom geometry(Geometry, {srid or 0})")
    cur.execute(f"DROP TABLE IF EXISTS {qualified}")
    cur.execute(f"CREATE TABLE {qualified} ({', '.join(columns)})")
    buffer = io.StringIO()
    values = attrs.astype(object).to_numpy()
    hexes = None
    if spatial:
        geoms = shapely.set_srid(np.asarray(data.geometry.values, dtype=object), srid or 0)
        hexes = shapely.to_wkb(geoms, hex=True, include_srid=True)
    for k in range(len(attrs)):
        fields = [_copy_text(v) for v in values[k]]
        if hexes is not None:
            fields.append("\\N" if hexes[k] is None else hexes[k])
        buffer.write("\t".join(fields) + "\n")
    names = [_quote(c) for c in attrs.columns] + (["geom"] if spatial else [])
    with cur.copy(f"COPY {qualified} ({', '.join(names)}) FROM STDIN") as copy:
        copy.write(buffer.getvalue())
    if spatial:
        cur.execute(f"CREATE INDEX ON {qualified} USING GIST (geom)")
    return f"{schema}.{name}"


def check_dsn(dsn: str) -> str:
    """Validate that ``dsn`` looks like a PostgreSQL URL."""
    if not dsn.startswith(("postgresql://", "postgres://")):
        raise GeoError(f"--to takes a postgresql:// URL, got '{dsn}'")
    return dsn
