"""No password of a database URL is ever printed (issue 17, 7)."""

import json
import os
import subprocess
import sys

import geopandas as gpd
import pytest
import shapely
from typer.testing import CliRunner

from geo.cli import app
from geo.errors import ConfigError
from geo.export.postgis import check_dsn
from geo.redact import mask_dsn, redact

SECRET = "S3cr#t-pw"

# (connection string, what the password looks like in it)
FORMS = [
    ("postgresql://geo:S3cr#t-pw@127.0.0.1:1/db", SECRET),
    ("postgresql+psycopg://geo:S3cr#t-pw@127.0.0.1:1/db", SECRET),
    ("postgres+psycopg2://geo:S3cr%23t-pw@127.0.0.1:1/db", "S3cr%23t-pw"),
    ("postgresql://geo@127.0.0.1:1/db?password=S3cr#t-pw&sslmode=disable", SECRET),
    ("host=127.0.0.1 port=1 user=geo password=S3cr#t-pw dbname=db", SECRET),
    ("host=127.0.0.1 port=1 password='S3cr#t pw' dbname=db", "S3cr#t pw"),
    # malformed: a space, a missing slash, an open IPv6 bracket, a bad port, junk
    ("postgresql://geo:S3cr#t pw@127.0.0.1:1/db", "S3cr#t pw"),
    ("postgresql:/geo:S3cr#t-pw@127.0.0.1/db", SECRET),
    ("postgresql://geo:S3cr#t-pw@[::1/db", SECRET),
    ("postgresql://geo:S3cr#t-pw@127.0.0.1:notaport/db", SECRET),
    ("postgresql://geo:S3cr#t-pw@127.0.0.1:1/db?bogus=1", SECRET),
    ("host=127.0.0.1 password=S3cr#t-pw bogus", SECRET),
    ("geo:S3cr#t-pw@127.0.0.1/db", SECRET),
    ("mysql://geo:S3cr#t-pw@127.0.0.1/db", SECRET),
]


def _secrets(password):
    from urllib.parse import unquote

    return {password, unquote(password), password.replace(" ", "%20")}


@pytest.mark.parametrize("dsn, password", FORMS)
def test_masked_forms(dsn, password):
    shown = mask_dsn(dsn)
    assert not any(s in shown for s in _secrets(password))
    assert "***" in shown
    try:
        check_dsn(dsn)
    except ConfigError as exc:
        assert not any(s in str(exc) for s in _secrets(password))


def test_what_is_masked_and_what_is_not():
    assert mask_dsn("postgresql://geo@h/db") == "postgresql://geo@h/db"
    assert mask_dsn("postgresql+psycopg://geo:x@h:5432/db") == "postgresql+psycopg://geo:***@h:5432/db"
    assert redact("host=h sslpassword=abc dbname=d") == "host=h sslpassword=*** dbname=d"
    assert redact("tile https://t0.tianditu.gov.cn/x?tk=abc123&x=1") == (
        "tile https://t0.tianditu.gov.cn/x?tk=***&x=1")
    assert redact("EPSG:4549 in C:/data/firms.csv") == "EPSG:4549 in C:/data/firms.csv"
    assert check_dsn("postgresql+psycopg://geo@h/db") == "postgresql://geo@h/db"
    assert check_dsn("host=h dbname=db") == "host=h dbname=db"


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    path = tmp_path_factory.mktemp("src") / "zones.geojson"
    gpd.GeoDataFrame({"name_zh": ["甲"]}, geometry=[shapely.box(120.1, 30.2, 120.2, 30.3)],
                     crs="EPSG:4326").to_file(path)
    return path


@pytest.mark.parametrize("dsn, password", FORMS)
def test_cli_never_prints_the_password(source, dsn, password):
    result = CliRunner().invoke(app, ["export", str(source), "--to", dsn])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert not any(s in result.output for s in _secrets(password)), result.output


def test_debug_traceback_is_masked_too(source):
    dsn, password = FORMS[1]
    proc = subprocess.run([sys.executable, "-m", "geo", "export", str(source), "--to", dsn],
                          capture_output=True, text=True, env={**os.environ, "GEO_DEBUG": "1"})
    assert proc.returncode == 2
    assert "Traceback" in proc.stderr and "cannot connect" in proc.stderr
    assert password not in proc.stdout + proc.stderr


def test_export_records_hold_no_password(tmp_path, source):
    # a folder export's export.json and the run manifest never see the --to value; a
    # file export next to a failed --to must not pick it up either
    CliRunner().invoke(app, ["export", str(source), "--to", FORMS[0][0]])
    result = CliRunner().invoke(app, ["export", str(source), "-f", "geojson", "-o",
                                      str(tmp_path / "gj")])
    assert result.exit_code == 0, result.output
    record = json.loads((tmp_path / "gj" / "export.json").read_text(encoding="utf-8"))
    assert SECRET not in json.dumps(record)
