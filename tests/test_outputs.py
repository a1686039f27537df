"""Atomic outputs: a file or folder appears whole or not at all."""

import json
import os
import stat

import pytest

from geo.errors import OutputError
from geo.outputs import atomic_folder, atomic_path, check_output_folder, user_files


def test_atomic_path_keeps_old_file_when_writer_fails(tmp_path):
    target = tmp_path / "table.csv"
    target.write_text("old", encoding="utf-8")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half", encoding="utf-8")
        raise RuntimeError("writer crashed")
    assert target.read_text(encoding="utf-8") == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["table.csv"]


def test_atomic_path_replaces_on_success(tmp_path):
    target = tmp_path / "sub" / "table.csv"
    with atomic_path(target) as tmp:
        tmp.write_text("new", encoding="utf-8")
    assert target.read_text(encoding="utf-8") == "new"


def test_atomic_folder_refuses_a_users_folder(tmp_path):
    users = tmp_path / "mine"
    users.mkdir()
    (users / "thesis.docx").write_text("precious", encoding="utf-8")
    with pytest.raises(OutputError, match="not an output folder"), atomic_folder(users):
        pass
    assert (users / "thesis.docx").read_text(encoding="utf-8") == "precious"


def test_atomic_folder_replaces_own_output_and_follows_umask(tmp_path):
    out = tmp_path / "out"
    with atomic_folder(out) as tmp:
        (tmp / "manifest.json").write_text("{}", encoding="utf-8")
        (tmp / "a.txt").write_text("1", encoding="utf-8")
    with atomic_folder(out) as tmp:
        (tmp / "manifest.json").write_text("{}", encoding="utf-8")
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json"]
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(out.stat().st_mode) == 0o777 & ~mask
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_atomic_folder_failure_leaves_previous_output(tmp_path):
    out = tmp_path / "out"
    with atomic_folder(out) as tmp:
        (tmp / "manifest.json").write_text("v1", encoding="utf-8")
    with pytest.raises(RuntimeError), atomic_folder(out) as tmp:
        (tmp / "manifest.json").write_text("v2", encoding="utf-8")
        raise RuntimeError("analysis failed")
    assert (out / "manifest.json").read_text(encoding="utf-8") == "v1"
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_write_tables_formats(tmp_path):
    import pandas as pd

    from geo.export.layers import write_tables

    tables = {"a": pd.DataFrame({"名称": ["上城区"], "v": [1.5]}), "b": pd.DataFrame({"x": [1]})}
    written = write_tables(tables, tmp_path / "t.csv")
    assert [p.name for p in written] == ["t_a.csv", "t_b.csv"]
    assert written[0].read_bytes().startswith(b"\xef\xbb\xbf")  # BOM: Excel shows Chinese
    assert pd.read_parquet(write_tables(tables, tmp_path / "t.parquet")[1])["x"].tolist() == [1]
    sheets = pd.read_excel(write_tables(tables, tmp_path / "t.xlsx")[0], sheet_name=None)
    assert sheets["a"]["名称"].tolist() == ["上城区"]
    with pytest.raises(OutputError, match="unsupported"):
        write_tables(tables, tmp_path / "t.txt")


def _write_run(out, outputs, extra=None, **options):
    """An output folder whose manifest lists ``outputs`` (name -> text)."""
    with atomic_folder(out, **options) as tmp:
        for name, text in {**outputs, **(extra or {})}.items():
            (tmp / name).parent.mkdir(parents=True, exist_ok=True)
            (tmp / name).write_text(text, encoding="utf-8")
        (tmp / "manifest.json").write_text(json.dumps({"outputs": list(outputs)}),
                                           encoding="utf-8")


def test_replacing_an_output_keeps_the_files_geo_did_not_write(tmp_path):
    """Issue 13, 7: a re-run deleted map_amap.html, made in the run folder by `geo map`."""
    out = tmp_path / "run1"
    _write_run(out, {"map.html": "v1", "static/map_clusters.png": "v1", "only_v1.csv": "v1"})
    users = {"map_amap.html": "amap", "static/mine.png": "mine", "notes/a/b.txt": "deep"}
    for name, text in users.items():
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        (out / name).write_text(text, encoding="utf-8")
    (out / "empty").mkdir()
    (out / "link").symlink_to("map_amap.html")
    assert user_files(out) == ["empty", "link", "map_amap.html", "notes/a/b.txt",
                               "static/mine.png"]
    _write_run(out, {"map.html": "v2", "static/map_clusters.png": "v2"})
    for name, text in users.items():
        assert (out / name).read_text(encoding="utf-8") == text
    assert (out / "empty").is_dir() and os.readlink(out / "link") == "map_amap.html"
    assert (out / "map.html").read_text(encoding="utf-8") == "v2"
    assert not (out / "only_v1.csv").exists()  # the old run's own output goes
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run1"]


def test_a_users_file_of_an_output_name_stops_the_run_before_the_work(tmp_path):
    out = tmp_path / "run1"
    _write_run(out, {"map.html": "v1"})
    (out / "sites.csv").write_text("my own table", encoding="utf-8")
    with pytest.raises(OutputError, match=r"sites\.csv.*--force"):
        check_output_folder(out, planned=["map.html", "sites.*"])
    started = []
    with pytest.raises(OutputError, match=r"sites\.csv.*--force"):
        with atomic_folder(out, planned=["sites.csv"]):
            started.append(True)
    assert not started
    assert (out / "sites.csv").read_text(encoding="utf-8") == "my own table"
    # --force lets the run replace it
    _write_run(out, {"map.html": "v2", "sites.csv": "new"}, planned=["sites.csv"], force=True)
    assert (out / "sites.csv").read_text(encoding="utf-8") == "new"


def test_an_unforeseen_clash_keeps_the_previous_folder(tmp_path):
    out = tmp_path / "run1"
    _write_run(out, {"map.html": "v1"})
    (out / "notes.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(OutputError, match="notes.txt"):
        _write_run(out, {"map.html": "v2", "notes.txt": "generated"})
    assert (out / "notes.txt").read_text(encoding="utf-8") == "mine"
    assert (out / "map.html").read_text(encoding="utf-8") == "v1"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run1"]


def test_crash_leftovers_are_not_the_users_files(tmp_path):
    out = tmp_path / "run1"
    _write_run(out, {"map.html": "v1"})
    # debris of interrupted atomic writes inside the folder (e.g. `geo map`, `geo site`)
    (out / ".map_amap.html.4242-0f3a9c1e.tmp.html").write_text("half", encoding="utf-8")
    (out / ".sites.4242-ab12cd34.tmp").mkdir()
    # a user's hidden files that merely look like temporary names are theirs
    (out / ".notes.draft123.txt").write_text("mine", encoding="utf-8")
    (out / ".notes.old").write_text("mine too", encoding="utf-8")
    (out / "sites").mkdir()
    (out / "sites" / "summary.json").write_text("{}", encoding="utf-8")
    (out / ".sites.old").mkdir()  # superseded: sites/ exists
    (out / ".towns.old").mkdir()  # towns/ is missing: maybe the only copy, kept
    (out / ".towns.old" / "summary.json").write_text("{}", encoding="utf-8")
    assert user_files(out) == [".notes.draft123.txt", ".notes.old", ".towns.old/summary.json",
                               "sites/summary.json"]
    _write_run(out, {"map.html": "v2"})
    assert sorted(p.name for p in out.iterdir()) == [
        ".notes.draft123.txt", ".notes.old", ".towns.old", "manifest.json", "map.html", "sites"]


def test_an_output_left_behind_by_a_crash_is_restored(tmp_path):
    # a crash between the two renames of a replacement leaves only .run1.old
    out = tmp_path / "run1"
    _write_run(out, {"map.html": "v1"})
    (out / "map_amap.html").write_text("amap", encoding="utf-8")
    os.replace(out, tmp_path / ".run1.old")
    _write_run(out, {"map.html": "v2"})
    assert (out / "map_amap.html").read_text(encoding="utf-8") == "amap"
    assert (out / "map.html").read_text(encoding="utf-8") == "v2"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run1"]


def test_a_marker_without_outputs_uses_the_legacy_list(tmp_path):
    out = tmp_path / "sites"
    out.mkdir()
    for name in ("summary.json", "sites.csv", "map_amap.html"):
        (out / name).write_text("old", encoding="utf-8")
    assert user_files(out, marker="summary.json",
                      legacy_outputs=["sites.csv"]) == ["map_amap.html"]
    assert user_files(out, marker="summary.json") == []  # no list: all of it was geo's
