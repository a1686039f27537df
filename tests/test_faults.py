"""Faults: kill -9, a full disk, read-only folders, bugs (issue 17, 3 and 6).

After each fault the previous outputs are intact (byte-identical, or the
complete new ones when the kill came after the swap), the next run removes the
debris, the input files survive, and the user reads one clear line and an exit
status, never a traceback.
"""

import contextlib
import errno
import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import geopandas as gpd
import pyogrio
import pytest
import shapely
from typer.testing import CliRunner

import geo.outputs as outputs
from geo.cli import app
from geo.errors import OutputError
from geo.outputs import atomic_folder, atomic_path, check_output_folder, remove_stale_temps

SEED = 17
# `geo run` without the slow parts (distance simulations, grid, siting): every kind of
# output is still written
FAST = """
[distance]
nsim = -1
[indices]
grid = "none"
[siting]
k = 0
[clusters]
permutations = 9
"""


def _tree(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _geo(*args):
    return [sys.executable, "-m", "geo", *map(str, args)]


def _invoke(*args, **kwargs):
    result = CliRunner().invoke(app, [str(a) for a in args], **kwargs)
    assert "Traceback" not in result.output
    return result


def _as_next_run(monkeypatch):
    """Let this process clean up like a run started now (after the crashed one)."""
    monkeypatch.setattr(outputs, "_STARTED", time.time())


def _write_run(out, outputs_, **options):
    with atomic_folder(out, **options) as tmp:
        for name, text in outputs_.items():
            (tmp / name).parent.mkdir(parents=True, exist_ok=True)
            (tmp / name).write_text(text, encoding="utf-8")
        (tmp / "manifest.json").write_text(json.dumps({"outputs": list(outputs_)}),
                                           encoding="utf-8")


@pytest.fixture
def layer(tmp_path):
    path = tmp_path / "src" / "zones.geojson"
    path.parent.mkdir()
    gpd.GeoDataFrame({"name_zh": ["甲", "乙"]},
                     geometry=[shapely.box(120.1, 30.2, 120.2, 30.3),
                               shapely.box(120.2, 30.2, 120.3, 30.3)],
                     crs="EPSG:4326").to_file(path)
    return path


# --- debris of crashed runs -------------------------------------------------------------


def test_only_stale_temporary_files_of_geo_are_removed(tmp_path, monkeypatch):
    dead = int(subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                              capture_output=True, text=True, check=True).stdout)
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        time.sleep(0.5)
        now = time.time()
        entries = {
            f".layers.gpkg.{dead}-0123abcd.tmp.gpkg": now - 100,  # writer gone: stale
            f".layers.gpkg.{dead}-0123abcd.tmp.gpkg-journal": now - 100,  # SQLite's too
            f".map.html.{alive.pid}-0123abcd.tmp.html": now,  # writer still at work
            f".old.csv.{alive.pid}-4567abcd.tmp.csv": now - 3600,  # pid reused since: stale
            f".map.html.{os.getpid()}-89abcdef.tmp.html": now - 100,  # this process's own
            f".late.csv.{dead}-0123abcd.tmp.csv": now + 60,  # newer than this process
            ".notes.draft123.txt": now - 100,  # the user's
            f".x.{dead}-nothex00.tmp": now - 100,  # not geo's pattern
            "firms.csv": now - 100,
        }
        for name, mtime in entries.items():
            (tmp_path / name).write_text("x", encoding="utf-8")
            os.utime(tmp_path / name, (mtime, mtime))
        folder = tmp_path / f".geo-out.{dead}-0123abcd.tmp"
        (folder / "static").mkdir(parents=True)
        (folder / "static" / "map.png").write_text("half", encoding="utf-8")
        os.utime(folder, (now - 100, now - 100))
        (tmp_path / f".link.{dead}-0123abcd.tmp").symlink_to("firms.csv")
        monkeypatch.setattr(outputs, "_STARTED", now + 5)
        removed = remove_stale_temps(tmp_path)
    finally:
        alive.kill()
        alive.wait()
    assert sorted(removed) == sorted([
        f".layers.gpkg.{dead}-0123abcd.tmp.gpkg", f".layers.gpkg.{dead}-0123abcd.tmp.gpkg-journal",
        f".old.csv.{alive.pid}-4567abcd.tmp.csv", folder.name])
    assert (tmp_path / f".link.{dead}-0123abcd.tmp").is_symlink()
    assert (tmp_path / "firms.csv").exists() and (tmp_path / ".notes.draft123.txt").exists()


def test_a_failed_write_leaves_no_debris_and_the_old_file(tmp_path):
    target = tmp_path / "t.csv"
    target.write_text("old", encoding="utf-8")
    with pytest.raises(OutputError, match="no space left"), atomic_path(target) as tmp:
        tmp.write_text("half", encoding="utf-8")
        raise OSError(errno.ENOSPC, "No space left on device")
    assert target.read_text(encoding="utf-8") == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.csv"]


# --- the user's files in the run folder ------------------------------------------------


def test_an_input_in_the_run_folder_is_never_deleted_or_replaced(tmp_path):
    out = tmp_path / "geo-out"
    _write_run(out, {"map.html": "v1", "rejects.csv": "rows", "export_shp/zones.shp.zip": "z"})
    firms = out / "firms.csv"
    firms.write_text("the register", encoding="utf-8")
    # a copy of the register in the folder, read from there: carried over
    _write_run(out, {"map.html": "v2", "rejects.csv": "new"}, planned=["map.html"],
               inputs=[firms])
    assert firms.read_text(encoding="utf-8") == "the register"
    # an input with the name of an output, even geo's own: refused, even with --force,
    # before the work and (when not foreseen) when the work is done
    with pytest.raises(OutputError, match="never replaces its inputs"):
        check_output_folder(out, planned=["rejects.csv"], force=True,
                            inputs=[out / "rejects.csv"])
    with pytest.raises(OutputError, match="never replaces its inputs"):
        _write_run(out, {"map.html": "v3", "rejects.csv": "newer"}, force=True,
                   inputs=[out / "rejects.csv"])
    assert (out / "rejects.csv").read_text(encoding="utf-8") == "new"
    assert (out / "map.html").read_text(encoding="utf-8") == "v2"
    # an output of an earlier run that the new one does not write, read as input: kept
    shp = out / "export_shp" / "zones.shp.zip"
    _write_run(out, {"map.html": "v2"}, inputs=[shp])  # (v2 dropped export_shp/ already)
    assert not shp.exists()
    _write_run(out, {"map.html": "v3", "export_shp/zones.shp.zip": "z"})
    _write_run(out, {"map.html": "v4"}, inputs=[shp])
    assert shp.read_text(encoding="utf-8") == "z"
    # the folder itself as an input, or an input reached through a link
    with pytest.raises(OutputError, match="never replaces"):
        check_output_folder(out, inputs=[out])
    link = tmp_path / "register.csv"
    link.symlink_to(out / "rejects.csv")
    with pytest.raises(OutputError, match="never replaces"):
        check_output_folder(out, planned=["rejects.csv"], inputs=[link])
    # a folder geo did not write (no manifest yet) is refused: nothing in it is touched
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "firms.csv").write_text("the register", encoding="utf-8")
    with pytest.raises(OutputError, match="not an output folder"):
        _write_run(mine, {"map.html": "v1"}, inputs=[mine / "firms.csv"])
    assert [p.name for p in mine.iterdir()] == ["firms.csv"]


def test_run_refuses_an_input_named_like_an_output_before_the_work(tmp_path):
    from geo.pipeline import RunConfig, run

    out = tmp_path / "geo-out"
    _write_run(out, {"map.html": "v1", "rejects.csv": "register"})
    for name in ("rejects.csv", "layers.gpkg"):
        (out / name).write_text("register", encoding="utf-8")
        with pytest.raises(OutputError, match="never replaces its inputs"):
            run(RunConfig(firms=out / name, output=out), force=True)
        assert (out / name).read_text(encoding="utf-8") == "register"


# --- kill -9 -----------------------------------------------------------------------------

# Replaces a run folder, crashing (os._exit: no cleanup, as kill -9) at the N-th step that
# touches the file system.
CRASH_AT = """
import json, os, sys
from pathlib import Path
import geo.outputs as o

out, crash_at, calls = Path(sys.argv[1]), int(sys.argv[2]), [0]

def step(call):
    def counted(*args, **kwargs):
        calls[0] += 1
        if calls[0] == crash_at:
            os._exit(9)
        return call(*args, **kwargs)
    return counted

for name in ("replace", "rename", "link", "mkdir", "rmdir", "unlink"):
    setattr(os, name, step(getattr(os, name)))
with o.atomic_folder(out, inputs=[out / "firms.csv"]) as tmp:
    (tmp / "map.html").write_text("v2", encoding="utf-8")
    with o.atomic_path(tmp / "layers.gpkg") as part:
        part.write_text("v2", encoding="utf-8")
    (tmp / "manifest.json").write_text(json.dumps({"outputs": ["map.html", "layers.gpkg"]}))
"""


def test_a_crash_at_any_step_of_a_replacement_loses_nothing(tmp_path, monkeypatch):
    out = tmp_path / "geo-out"
    script = tmp_path / "crash.py"
    script.write_text(CRASH_AT, encoding="utf-8")
    for crash_at in range(1, 200):
        if not (out / "map.html").is_file() or (out / "map.html").read_text() != "v1":
            shutil.rmtree(out, ignore_errors=True)
            _write_run(out, {"map.html": "v1", "layers.gpkg": "v1"})
            (out / "firms.csv").write_text("the register", encoding="utf-8")
            (out / "notes.txt").write_text("会议纪要", encoding="utf-8")
        proc = subprocess.run([sys.executable, script, out, str(crash_at)], capture_output=True)
        assert proc.returncode in (0, 9), proc.stderr
        _as_next_run(monkeypatch)
        check_output_folder(out, inputs=[out / "firms.csv"])  # what the next run does first
        tree = {name: (out / name).read_text(encoding="utf-8") for name in _tree(out)}
        assert tree["firms.csv"] == "the register" and tree["notes.txt"] == "会议纪要"
        assert tree["map.html"] == tree["layers.gpkg"] in ("v1", "v2")  # old or new, whole
        assert sorted(p.name for p in tmp_path.iterdir()) == ["crash.py", "geo-out"]
        if proc.returncode == 0:
            break
    assert tree["map.html"] == "v2" and crash_at > 10, crash_at


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory):
    """A run of 3,000 firms, whose register was then copied into the run folder."""
    from geo.export.layers import write_layer
    from geo.io.seed import generate_firms

    root = tmp_path_factory.mktemp("kill")
    (root / "fast.toml").write_text(FAST, encoding="utf-8")
    write_layer(generate_firms(3000, SEED).firms, root / "firms.csv")
    start = time.monotonic()
    proc = subprocess.run(_geo("run", "-c", "fast.toml", "--firms", "firms.csv", "--out",
                               "geo-out"), cwd=root, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    took = time.monotonic() - start
    shutil.copy(root / "firms.csv", root / "geo-out" / "firms.csv")
    (root / "geo-out" / "notes.txt").write_text("会议纪要", encoding="utf-8")
    return root, took


def _complete(out: Path) -> bool:
    """Whether a run folder holds every output its manifest lists, at the listed size."""
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    return all((out / name).stat().st_size == size
               for name, size in manifest["outputs"].items())


def _kill_at(args, delay, cwd):
    proc = subprocess.Popen(args, cwd=cwd, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=delay)
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
    proc.wait()


@pytest.mark.slow
def test_kill_9_during_a_run_keeps_the_previous_outputs(run_folder, monkeypatch):
    root, took = run_folder
    out = root / "geo-out"
    users = {"firms.csv": _tree(out)["firms.csv"], "notes.txt": _tree(out)["notes.txt"]}
    args = _geo("run", "-c", "fast.toml", "--firms", "geo-out/firms.csv", "--out", "geo-out")
    rng = random.Random(SEED)
    before = _tree(out)
    # the first part of a run is analysis; the writing and the swap come later
    for delay in [rng.uniform(0.4, 1.0) * took for _ in range(3)]:
        _kill_at(args, delay, root)
        _as_next_run(monkeypatch)
        check_output_folder(out, inputs=[out / "firms.csv"])  # what the next run does first
        after = _tree(out)
        if after != before:  # killed after the new folder was in place: it is complete
            assert _complete(out)
            before = after
        assert {k: after[k] for k in users} == users
        assert sorted(p.name for p in root.iterdir()) == ["fast.toml", "firms.csv", "geo-out"]
    # a run to the end keeps the register it reads from the folder and the user's notes
    proc = subprocess.run(args, cwd=root, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert {k: _tree(out)[k] for k in users} == users and _complete(out)
    assert sorted(p.name for p in root.iterdir()) == ["fast.toml", "firms.csv", "geo-out"]


@pytest.fixture(scope="module")
def firms_file(tmp_path_factory):
    from geo.io.seed import generate_firms

    path = tmp_path_factory.mktemp("source") / "firms.gpkg"
    pyogrio.write_dataframe(generate_firms(1500, SEED).firms, path, layer="firms")
    return path


@pytest.mark.parametrize("fmt", ["gpkg", "xlsx"])
def test_kill_9_during_an_export_keeps_the_previous_export(firms_file, tmp_path, monkeypatch,
                                                           fmt):
    target = tmp_path / f"export.{fmt}"
    args = _geo("export", firms_file, "--format", fmt, "--out", target, "--force")
    start = time.monotonic()
    assert subprocess.run(args, capture_output=True).returncode == 0
    took = time.monotonic() - start
    before = target.read_bytes()
    rng = random.Random(SEED)
    # the first part of an export is starting Python and reading the layers
    for delay in [rng.uniform(0.5, 1.1) * took for _ in range(3 if fmt == "gpkg" else 2)]:
        _kill_at(args, delay, tmp_path)
        _as_next_run(monkeypatch)
        remove_stale_temps(tmp_path)  # what the next export does first
        if target.read_bytes() != before:  # killed after the rename: the new one is whole
            if fmt == "gpkg":
                assert pyogrio.read_info(target, layer="firms")["features"] == 1500
            else:
                import openpyxl

                assert openpyxl.load_workbook(target).sheetnames == ["firms"]
            before = target.read_bytes()
        assert sorted(p.name for p in tmp_path.iterdir()) == [target.name]


# --- a full disk -----------------------------------------------------------------------


@contextlib.contextmanager
def _tmpfs(path: Path, size: str):
    """A small tmpfs at ``path`` (root only); the test is skipped where it cannot be mounted."""
    path.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                          capture_output=True)
    if proc.returncode:
        pytest.skip("cannot mount a tmpfs here (not root, or no mount permission)")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def _fail_flush(monkeypatch):
    """Make every flush to the disk fail as a full disk does (delayed allocation)."""
    def full(path):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(outputs, "_fsync", full)


def test_a_full_disk_during_a_run_is_a_clear_error(tmp_path, monkeypatch):
    out = tmp_path / "geo-out"
    _write_run(out, {"map.html": "previous"})
    before = _tree(out)
    _fail_flush(monkeypatch)
    (tmp_path / "fast.toml").write_text(FAST, encoding="utf-8")
    result = _invoke("run", "-c", tmp_path / "fast.toml", "--n", "400", "--out", out)
    assert result.exit_code == 2, result.output
    assert "no space left on the device" in result.output
    assert _tree(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fast.toml", "geo-out"]


def test_a_full_disk_during_a_gpkg_export_is_a_clear_error(tmp_path, layer, monkeypatch):
    target = tmp_path / "export.gpkg"
    assert _invoke("export", layer, "--out", target).exit_code == 0
    before = target.read_bytes()

    def failing(*args, **kwargs):
        raise pyogrio.errors.DataSourceError("Failed to commit transaction")

    monkeypatch.setattr(pyogrio, "write_dataframe", failing)
    result = _invoke("export", layer, "--out", target, "--force")
    assert result.exit_code == 2, result.output
    assert "Failed to commit transaction" in result.output
    assert "previous version was left as it was" in result.output
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export.gpkg", "src"]


def test_a_real_full_disk(tmp_path, layer, monkeypatch):
    from geo.io.seed import generate_firms

    big = tmp_path / "src" / "firms.gpkg"
    pyogrio.write_dataframe(generate_firms(4000, SEED).firms, big, layer="firms")
    with _tmpfs(tmp_path / "small", "400k") as disk:
        target = disk / "export.gpkg"
        assert _invoke("export", layer, "--out", target).exit_code == 0
        before = target.read_bytes()
        for fmt, out in (("gpkg", target), ("csv", disk / "csv")):
            result = _invoke("export", big, "--format", fmt, "--out", out, "--force")
            assert result.exit_code == 2, result.output
            assert "full" in result.output, result.output
            assert target.read_bytes() == before
            assert sorted(p.name for p in disk.iterdir()) == ["export.gpkg"]
        # in a process of its own: the half-written zip of the workbook, discarded at the
        # exit, must not print a traceback either
        proc = subprocess.run(_geo("export", big, "--format", "xlsx", "--out",
                                   disk / "export.xlsx"), capture_output=True, text=True)
        assert proc.returncode == 2 and "no space left" in proc.stderr
        assert "Traceback" not in proc.stderr and "Exception ignored" not in proc.stderr
        assert sorted(p.name for p in disk.iterdir()) == ["export.gpkg"]
        # a run: the analysis fits in memory, the outputs do not fit on the disk
        (tmp_path / "fast.toml").write_text(FAST, encoding="utf-8")
        result = _invoke("run", "-c", tmp_path / "fast.toml", "--n", "400", "--out",
                         disk / "geo-out")
        assert result.exit_code == 2, result.output
        assert "full" in result.output
        assert sorted(p.name for p in disk.iterdir()) == ["export.gpkg"]


# --- read-only folders -------------------------------------------------------------------


def test_a_read_only_folder_is_a_clear_error_before_the_work(tmp_path, layer):
    with _tmpfs(tmp_path / "ro", "4m") as disk:
        target = disk / "export.gpkg"
        assert _invoke("export", layer, "--out", target).exit_code == 0
        (disk / "firms.csv").write_text("firm_id,name,industry_code,lon,lat\n"
                                        "1,甲,C3911,,\n", encoding="utf-8")
        before = _tree(disk)
        proc = subprocess.run(["mount", "-o", "remount,ro", str(disk)], capture_output=True)
        if proc.returncode:
            pytest.skip(f"cannot remount the tmpfs read-only: {proc.stderr!r}")
        for args in (["export", layer, "--out", target, "--force"],
                     ["run", "--n", "300", "--out", disk / "geo-out"],
                     ["validate", disk / "firms.csv"],
                     ["index", "crossk", "--n", "300", "--out", disk / "k.csv"]):
            start = time.monotonic()
            result = _invoke(*args)
            assert result.exit_code == 2, result.output
            assert "read-only" in result.output
            assert time.monotonic() - start < 60  # refused before the analysis
        assert _tree(disk) == before


def test_a_folder_without_write_permission(tmp_path, layer, monkeypatch):
    # root ignores permissions: the refusal the operating system would give, injected
    locked = tmp_path / "locked"
    locked.mkdir()
    real_open = os.open

    def guarded(path, *args, **kwargs):
        if Path(path).parent == locked:
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", guarded)
    result = _invoke("export", layer, "--out", locked / "export.gpkg")
    assert result.exit_code == 2, result.output
    assert "permission denied" in result.output
    assert list(locked.iterdir()) == []


# --- every failure: one line and an exit status ------------------------------------------


def test_bugs_and_environment_errors_are_one_line(layer, monkeypatch):
    import geo.export.layers

    def bug(sources):
        raise ValueError("boom\nsecond line")

    monkeypatch.setattr(geo.export.layers, "read_layers", bug)
    result = _invoke("export", layer)
    assert result.exit_code == 3
    assert "internal error: ValueError: boom (a bug in geo; set GEO_DEBUG=1" in result.output
    monkeypatch.setenv("GEO_DEBUG", "1")
    result = CliRunner().invoke(app, ["export", str(layer)])
    assert result.exit_code == 3 and "Traceback" in result.output
    monkeypatch.delenv("GEO_DEBUG")

    def denied(sources):
        raise PermissionError(errno.EACCES, "Permission denied", "/data/firms.gpkg")

    monkeypatch.setattr(geo.export.layers, "read_layers", denied)
    result = _invoke("export", layer)
    assert result.exit_code == 2
    assert result.output.startswith("error: /data/firms.gpkg: permission denied")
