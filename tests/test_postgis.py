"""Export to a real PostgreSQL + PostGIS server started for the tests (skipped without one)."""

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from geo.errors import OutputError
from geo.export.postgis import export_postgis

BINDIRS = sorted(glob.glob("/usr/lib/postgresql/*/bin"))


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def dsn():
    if not BINDIRS or not glob.glob("/usr/share/postgresql/*/extension/postgis.control"):
        pytest.skip("PostgreSQL with PostGIS not installed")
    bindir = BINDIRS[-1]
    # not under pytest's private tmp folders: the server's user must reach it
    root = Path(tempfile.mkdtemp(prefix="geo-pg-"))
    root.chmod(0o755)
    data, sock = root / "data", root / "sock"
    sock.mkdir()
    prefix = []
    if os.geteuid() == 0:  # the server refuses to run as root
        if shutil.which("runuser") is None:
            pytest.skip("running as root without runuser")
        shutil.chown(root, "postgres")
        shutil.chown(sock, "postgres")
        prefix = ["runuser", "-u", "postgres", "--"]
    port = _free_port()
    run = lambda *args: subprocess.run([*prefix, *args], check=True, capture_output=True,  # noqa: E731
                                       text=True, timeout=120)
    run(f"{bindir}/initdb", "-D", str(data), "-A", "trust", "-U", "geo")
    run(f"{bindir}/pg_ctl", "-D", str(data), "-w", "-l", str(root / "log"), "-o",
        f"-p {port} -k {sock} -c listen_addresses=''", "start")
    try:
        psql = [f"{bindir}/psql", "-h", str(sock), "-p", str(port), "-U", "geo", "-d"]
        run(*psql, "postgres", "-c", "CREATE DATABASE geo_test")
        run(*psql, "geo_test", "-c", "CREATE EXTENSION postgis")
        yield f"postgresql://geo@/geo_test?host={sock}&port={port}"
    finally:
        run(f"{bindir}/pg_ctl", "-D", str(data), "-m", "immediate", "stop")
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def layers():
    zones = gpd.GeoDataFrame(
        {"zone_id": ["a", "b"], "name_zh": ["西湖区", "滨江区"], "n": [3, 4],
         "lq": [1.5, float("nan")], "ok": [True, False]},
        geometry=[shapely.box(120.1, 30.2, 120.15, 30.25),
                  shapely.box(120.2, 30.15, 120.25, 30.2)],
        crs="EPSG:4326",
    )
    firms = gpd.GeoDataFrame(
        {"name": ["甲\t公司", "乙公司"]},
        geometry=[shapely.Point(120.12, 30.22), shapely.Point(120.22, 30.18)], crs="EPSG:4326",
    )
    return {"zones": zones, "firms": firms, "summary": pd.DataFrame({"区县": ["西湖区"]})}


def _sql(dsn, query):
    import psycopg

    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute(query)
        return cur.fetchall()


def test_export_reads_back_with_sql(dsn, layers):
    written = export_postgis(layers, dsn, schema="run1")
    assert written == ["run1.zones", "run1.firms", "run1.summary"]
    assert _sql(dsn, "SELECT count(*) FROM run1.zones") == [(2,)]
    names = _sql(dsn, "SELECT name_zh FROM run1.zones ORDER BY zone_id")
    assert names == [("西湖区",), ("滨江区",)]
    assert ("甲\t公司",) in _sql(dsn, "SELECT name FROM run1.firms")
    assert _sql(dsn, "SELECT DISTINCT ST_SRID(geom) FROM run1.zones") == [(4326,)]
    assert _sql(dsn, "SELECT bool_and(ST_IsValid(geom)) FROM run1.zones") == [(True,)]
    assert _sql(dsn, "SELECT lq IS NULL FROM run1.zones ORDER BY zone_id") == [(False,), (True,)]
    indexes = _sql(dsn, "SELECT indexdef FROM pg_indexes WHERE schemaname = 'run1' "
                        "AND tablename = 'zones'")
    assert any("gist" in row[0].lower() for row in indexes)
    area = _sql(dsn, "SELECT ST_Area(geom) FROM run1.zones ORDER BY zone_id")[0][0]
    assert area == pytest.approx(0.05 * 0.05)


def test_reexport_needs_replace_and_is_atomic(dsn, layers):
    export_postgis(layers, dsn, schema="run2")
    with pytest.raises(OutputError, match="--replace"):
        export_postgis(layers, dsn, schema="run2")
    bigger = {**layers, "zones": pd.concat([layers["zones"]] * 3, ignore_index=True)}
    export_postgis(bigger, dsn, schema="run2", replace=True)
    assert _sql(dsn, "SELECT count(*) FROM run2.zones") == [(6,)]
    # a failure half-way leaves the previous tables untouched
    with pytest.raises(RuntimeError, match="cannot serialise"):
        export_postgis({"zones": layers["zones"], "zones_bad": _unwritable()}, dsn,
                       schema="run2", replace=True)
    assert _sql(dsn, "SELECT count(*) FROM run2.zones") == [(6,)]
    assert _sql(dsn, "SELECT count(*) FROM information_schema.tables WHERE table_schema = "
                     "'run2' AND table_name LIKE '_geo_new_%'") == [(0,)]


class _Exploding:
    def __str__(self):
        raise RuntimeError("cannot serialise")


def _unwritable():
    return pd.DataFrame({"x": [_Exploding()]})


def test_unreachable_database_is_a_clear_error():
    with pytest.raises(OutputError, match="cannot connect"):
        export_postgis({}, "postgresql://nobody@127.0.0.1:1/none")


def test_cli_export_to_postgis(dsn, tmp_path):
    import sys

    run = subprocess.run([sys.executable, "-m", "geo", "run", "--n", "600", "--grid", "none",
                          "--out", str(tmp_path / "o")], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    proc = subprocess.run([sys.executable, "-m", "geo", "export", str(tmp_path / "o"), "--to",
                           dsn, "--schema", "cli", "--crs", "4549"], capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stderr
    assert _sql(dsn, "SELECT DISTINCT ST_SRID(geom) FROM cli.districts") == [(4549,)]
    assert _sql(dsn, "SELECT count(*) FROM cli.districts") == [(13,)]
    again = subprocess.run([sys.executable, "-m", "geo", "export", str(tmp_path / "o"), "--to",
                            dsn, "--schema", "cli"], capture_output=True, text=True)
    assert again.returncode == 2 and "--replace" in again.stderr


def test_long_layer_and_column_names_are_cut_uniquely(dsn):
    from geo.export.postgis import MAX_IDENTIFIER_BYTES, pg_identifiers

    shared = "园区" * 9 + "a" * 40  # 94 bytes: layers sharing 54 bytes and more
    frame = gpd.GeoDataFrame(
        {"c" * 70 + "x": [1], "c" * 70 + "y": [2], "geom": ["an attribute"], "": ["blank"]},
        geometry=[shapely.Point(120.1, 30.2)], crs="EPSG:4326",
    )
    layers = {shared + "_one": frame, shared + "_two": frame, "plain": pd.DataFrame({"x": [1]})}
    written = export_postgis(layers, dsn, schema="long")
    assert len(set(written)) == 3 and "long.plain" in written
    tables = [name.split(".", 1)[1] for name in written[:2]]
    assert all(len(t.encode("utf-8")) <= MAX_IDENTIFIER_BYTES for t in tables)
    assert tables == pg_identifiers([shared + "_one", shared + "_two"])
    columns = _sql(dsn, "SELECT column_name FROM information_schema.columns WHERE "
                        f"table_schema = 'long' AND table_name = '{tables[0]}' "
                        "ORDER BY ordinal_position")
    names = [row[0] for row in columns]
    assert len(names) == len(set(names)) == 5 and names[-1] == "geom"
    assert _sql(dsn, f'SELECT "{names[2]}" FROM long."{tables[0]}"') == [("an attribute",)]
    # the same names again: the same tables, replaced
    with pytest.raises(OutputError, match="--replace"):
        export_postgis(layers, dsn, schema="long")
    assert export_postgis(layers, dsn, schema="long", replace=True) == written
    indexes = _sql(dsn, "SELECT indexname FROM pg_indexes WHERE schemaname = 'long'")
    assert not [row for row in indexes if row[0].startswith("_geo_new_")]


@pytest.mark.parametrize("schema, message", [("pg_x", "reserved"), ("", "empty"),
                                             ("s" * 64, "63 bytes")])
def test_invalid_schemas_are_clear_errors(schema, message):
    from geo.errors import ConfigError

    with pytest.raises(ConfigError, match=message):
        export_postgis({}, "postgresql://nobody@127.0.0.1:1/none", schema=schema)


def test_database_errors_are_one_clear_line(dsn, layers, tmp_path):
    import sys

    _sql_commit(dsn, "CREATE SCHEMA views; CREATE VIEW views.zones AS SELECT 1 AS x")
    with pytest.raises(OutputError, match="refused the export.*nothing was written"):
        export_postgis(layers, dsn, schema="views", replace=True)
    assert _sql(dsn, "SELECT x FROM views.zones") == [(1,)]
    source = tmp_path / "zones.geojson"
    layers["zones"].to_file(source)
    for schema in ("pg_x", ""):
        proc = subprocess.run([sys.executable, "-m", "geo", "export", str(source), "--to", dsn,
                               "--schema", schema], capture_output=True, text=True)
        assert proc.returncode == 2 and "Traceback" not in proc.stderr
        assert "--schema" in proc.stderr


def _sql_commit(dsn, query):
    import psycopg

    with psycopg.connect(dsn) as conn:
        conn.execute(query)
