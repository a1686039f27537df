"""Atomic outputs: a file or folder appears whole or not at all."""

import os
import stat

import pytest

from geo.errors import OutputError
from geo.outputs import atomic_folder, atomic_path


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

    from geo.export import write_tables

    tables = {"a": pd.DataFrame({"名称": ["上城区"], "v": [1.5]}), "b": pd.DataFrame({"x": [1]})}
    written = write_tables(tables, tmp_path / "t.csv")
    assert [p.name for p in written] == ["t_a.csv", "t_b.csv"]
    assert written[0].read_bytes().startswith(b"\xef\xbb\xbf")  # BOM: Excel shows Chinese
    assert pd.read_parquet(write_tables(tables, tmp_path / "t.parquet")[1])["x"].tolist() == [1]
    sheets = pd.read_excel(write_tables(tables, tmp_path / "t.xlsx")[0], sheet_name=None)
    assert sheets["a"]["名称"].tolist() == ["上城区"]
    with pytest.raises(OutputError, match="unsupported"):
        write_tables(tables, tmp_path / "t.txt")
