"""Export layers to a PostgreSQL/PostGIS database, one table per layer, atomically.

Each layer becomes ``schema.layer`` with typed columns, a ``geom`` column of
``geometry(<type>, <SRID>)`` and a GiST index. Everything happens in one
transaction: the tables are loaded under temporary names (COPY of hex EWKB)
and renamed into place at the end, so a failure or interruption leaves the
database as it was. Existing tables are replaced only with ``replace``.
Layer and column names are cut to PostgreSQL's 63 bytes uniquely, and errors
are one clear line that never shows the connection's password.
"""

from __future__ import annotations

import hashlib
import io
import secrets

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.errors import ConfigError, OutputError
from geo.redact import mask_dsn, redact, remember


def _pg_type(series: pd.Series) -> str:
    if pd.api.types.is_bool_dtype(series):
        return "boolean"
    if pd.api.types.is_integer_dtype(series):
        return "bigint"
    if pd.api.types.is_float_dtype(series):
        return "double precision"
    return "text"


# PostgreSQL cuts longer identifiers (NAMEDATALEN - 1 bytes): two long layer or
# column names sharing their first 63 bytes would become one.
MAX_IDENTIFIER_BYTES = 63


def _quote(name: str) -> str:
    return '"' + str(name).replace('"', '""') + '"'


def _shorten(name: str, tag: str) -> str:
    """Cut ``name`` at a character boundary so that ``name + tag`` fits an identifier."""
    room = MAX_IDENTIFIER_BYTES - len(tag.encode("utf-8"))
    return name.encode("utf-8")[:room].decode("utf-8", "ignore") + tag


def pg_identifiers(names: list[str], *, reserved: tuple[str, ...] = ()) -> list[str]:
    """Make names unique PostgreSQL identifiers of at most 63 bytes.

    A longer name is cut at a character boundary and ends in ``_`` and 8 hex
    digits of its SHA-1, so names that share their first bytes stay distinct
    and the same name always gets the same identifier. NUL characters (which
    PostgreSQL refuses) are dropped, an empty name becomes ``column``, and
    duplicates (or names in ``reserved``) get ``_2``, ``_3``...

    Parameters
    ----------
    names : list of str
        Layer or column names, in order.
    reserved : tuple of str
        Identifiers already taken (e.g. ``geom``).

    Returns
    -------
    list of str
        One identifier per name, in the same order.

    Examples
    --------
    >>> pg_identifiers(["名称", "x" * 70])[1]
    'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx_bbaad84b'
    """
    used = set(reserved)
    out = []
    for name in names:
        clean = str(name).replace("\x00", "") or "column"
        ident = clean
        if len(clean.encode("utf-8")) > MAX_IDENTIFIER_BYTES:
            ident = _shorten(clean, "_" + hashlib.sha1(clean.encode("utf-8")).hexdigest()[:8])
        k = 1
        while ident in used:
            k += 1
            ident = _shorten(clean, f"_{k}")
        used.add(ident)
        out.append(ident)
    return out


def _check_schema(schema: str) -> None:
    if not schema:
        raise ConfigError("--schema is empty: name the schema the tables go to (e.g. geo)",
                          zh="--schema 为空：请给出表所在的模式名（如 geo）")
    if schema.startswith("pg_"):
        raise ConfigError(
            f"schema names starting with pg_ are reserved by PostgreSQL, got '{schema}': "
            "choose another --schema",
            zh=f"以 pg_ 开头的模式名由 PostgreSQL 保留（'{schema}'）：请换一个 --schema",
        )
    if "\x00" in schema or len(schema.encode("utf-8")) > MAX_IDENTIFIER_BYTES:
        raise ConfigError(f"--schema must be at most {MAX_IDENTIFIER_BYTES} bytes without NUL "
                          "characters (PostgreSQL's limit)")


def _copy_text(value: object) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return "\\N"
    text = str(value).lower() if isinstance(value, bool | np.bool_) else str(value)
    # PostgreSQL text cannot hold NUL: a visible replacement character instead
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace(
        "\r", "\\r"
    ).replace("\x00", "\ufffd")


def _database_error(exc: Exception, doing: str) -> OutputError:
    """Turn a database error into one line, passwords masked; the database is unchanged."""
    lines = str(exc).strip().splitlines()
    reason = redact(lines[0] if lines else type(exc).__name__)
    return OutputError(f"{doing}: {reason}; nothing was written to the database",
                       zh=f"{doing}：{reason}；数据库未作任何改动")


def export_postgis(
    layers: dict[str, gpd.GeoDataFrame | pd.DataFrame],
    dsn: str,
    *,
    schema: str = "geo",
    replace: bool = False,
    crs: str = "EPSG:4326",
) -> list[str]:
    """Write every layer as a table of ``schema`` in one transaction.

    Layer and column names longer than PostgreSQL's 63 bytes are shortened
    uniquely (:func:`pg_identifiers`).

    Parameters
    ----------
    layers : dict
        Layer name to GeoDataFrame (or DataFrame for plain tables).
    dsn : str
        Connection string, e.g. ``postgresql://user@host:5432/db`` (see
        :func:`check_dsn`).
    schema : str
        Target schema (created if missing); not empty, not starting with
        ``pg_``.
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
    ConfigError
        For an invalid schema name.
    OutputError
        If the database is unreachable or refuses the export (PostGIS
        missing, no privilege...), or a table exists and ``replace`` is
        False. Messages never show the password.
    """
    import psycopg

    _check_schema(schema)
    tables = dict(zip(layers, pg_identifiers(list(layers)), strict=True))
    try:
        connection = psycopg.connect(dsn, connect_timeout=10)
    except psycopg.Error as exc:
        raise _database_error(exc, "cannot connect to the database") from None
    written = []
    # unique per export: never the name of a table that exists
    token = secrets.token_hex(4)
    temp = {name: f"_geo_new_{token}_{k}" for k, name in enumerate(layers)}
    try:
        with connection as conn, conn.cursor() as cur:
            try:
                cur.execute("SELECT postgis_version()")
            except psycopg.Error as exc:
                raise OutputError(
                    "the database has no PostGIS: run CREATE EXTENSION postgis; first"
                ) from exc
            cur.execute("SELECT table_name FROM information_schema.tables "
                        "WHERE table_schema = %s", (schema,))
            existing = {row[0] for row in cur.fetchall()}
            clash = sorted(set(tables.values()) & existing)
            if clash and not replace:
                raise OutputError(
                    f"table(s) {', '.join(clash)} exist in schema {schema}; pass --replace"
                )
            cur.execute(f"CREATE SCHEMA IF NOT EXISTS {_quote(schema)}")
            for name, frame in layers.items():
                _load_table(cur, schema, temp[name], frame, crs)
            # all loaded: swap the new tables in (still inside the transaction)
            for name, table in tables.items():
                cur.execute(f"DROP TABLE IF EXISTS {_quote(schema)}.{_quote(table)}")
                cur.execute(f"ALTER TABLE {_quote(schema)}.{_quote(temp[name])} "
                            f"RENAME TO {_quote(table)}")
                _name_index(cur, schema, temp[name], table)
                written.append(f"{schema}.{table}")
    except psycopg.Error as exc:
        raise _database_error(exc, "the database refused the export") from None
    return written


def _name_index(cur, schema: str, temp: str, table: str) -> None:
    """Give the spatial index a name after its table, if that name is free."""
    index = pg_identifiers([f"{table}_geom_idx"])[0]
    cur.execute("SELECT to_regclass(%s), to_regclass(%s)",
                (f"{_quote(schema)}.{_quote(temp + '_geom')}",
                 f"{_quote(schema)}.{_quote(index)}"))
    found, taken = cur.fetchone()
    if found is not None and taken is None:
        cur.execute(f"ALTER INDEX {_quote(schema)}.{_quote(temp + '_geom')} "
                    f"RENAME TO {_quote(index)}")


def _load_table(cur, schema: str, temp: str, frame: pd.DataFrame, crs: str) -> None:
    qualified = f"{_quote(schema)}.{_quote(temp)}"
    spatial = isinstance(frame, gpd.GeoDataFrame)
    attrs = pd.DataFrame(frame.drop(columns=frame.geometry.name) if spatial else frame)
    names = pg_identifiers([str(c) for c in attrs.columns], reserved=("geom",) if spatial else ())
    columns = [f"{_quote(n)} {_pg_type(attrs.iloc[:, k])}" for k, n in enumerate(names)]
    srid = None
    if spatial:
        data = frame.to_crs(crs) if frame.crs is not None else frame
        srid = data.crs.to_epsg() if data.crs is not None else 0
        columns.append(f"geom geometry(Geometry, {srid or 0})")
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
    quoted = [_quote(n) for n in names] + (["geom"] if spatial else [])
    with cur.copy(f"COPY {qualified} ({', '.join(quoted)}) FROM STDIN") as copy:
        copy.write(buffer.getvalue())
    if spatial:
        cur.execute(f"CREATE INDEX {_quote(temp + '_geom')} ON {qualified} USING GIST (geom)")


def check_dsn(dsn: str) -> str:
    """Check a PostgreSQL connection string and return it as the driver takes it.

    Takes URLs (``postgresql://``, ``postgres://``, and SQLAlchemy's
    ``postgresql+psycopg://`` whose driver part is dropped) and key=value
    strings (``host=h dbname=db``). Messages show the string with its password
    masked, or not at all when it is too malformed to tell.

    Parameters
    ----------
    dsn : str
        The connection string.

    Returns
    -------
    str

    Raises
    ------
    ConfigError
        If it is neither a PostgreSQL URL nor a valid connection string.

    Examples
    --------
    >>> check_dsn("postgresql+psycopg://geo@localhost/gis")
    'postgresql://geo@localhost/gis'
    """
    from psycopg import ProgrammingError
    from psycopg.conninfo import conninfo_to_dict

    remember(dsn)
    text = dsn.strip()
    scheme, sep, rest = text.partition("://")
    if sep:
        if scheme.lower().split("+", 1)[0] not in ("postgresql", "postgres"):
            raise ConfigError(f"--to takes a postgresql:// URL, got a {redact(scheme)}:// URL")
        text = "postgresql://" + rest
    elif "=" not in text:
        raise ConfigError(
            "--to takes a URL such as postgresql://user@host:5432/db or a connection string "
            "such as 'host=h dbname=db' (the value given is not shown: it may hold a password)"
        )
    try:
        conninfo_to_dict(text)
    except ProgrammingError as exc:
        reason = redact(str(exc).strip().splitlines()[0]) if str(exc).strip() else ""
        raise ConfigError(f"--to is not a valid connection string ({reason}): "
                          f"{mask_dsn(dsn)}") from None
    return text
