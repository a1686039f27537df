"""geo batch: studies split into simulation blocks give the same bits anywhere.

The references are the single-process ``coagglomeration_*`` functions (each
checked against its pair-by-pair function in test_coagglomeration.py); the
blocks run in this process, on a local cluster of one worker and on two
worker processes.
"""

from __future__ import annotations

import json
import logging

import numpy as np
import pandas as pd
import pytest

from geo.batch import (
    compute_study,
    connect_cluster,
    kernel_threads,
    read_jobs,
    run_batch,
    year_mask,
)
from geo.errors import ConfigError
from geo.io.seed import generate_firms
from geo.stats import threads
from geo.stats.coagglomeration import (
    coagglomeration_cross_l,
    coagglomeration_kd,
    coagglomeration_m,
    combine_blocks,
    cross_l_plan,
    industry_types,
    kd_plan,
    m_plan,
    resolve_pairs,
    simulation_blocks,
    study_block,
)
from geo.stats.coagglomeration.study import _labellings
from geo.stats.distance import type_atoms
from geo.stats.ripley import Window, default_r

NSIM = 19


@pytest.fixture(scope="module")
def register():
    firms = generate_firms(3_000, seed=11).firms
    xy = firms.to_crs("EPSG:4549").geometry
    x, y = xy.x.to_numpy(), xy.y.to_numpy()
    types = industry_types(firms, "division")
    pairs, _ = resolve_pairs("manufacturing*finance", firms, types, min_firms=15)
    return firms, x, y, types, pairs[:4]


@pytest.fixture(scope="module")
def cluster():
    """Two worker processes of one thread each."""
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None, silence_logs=logging.ERROR) as local, \
            Client(local) as client:
        yield client


def _studies(register):
    """Each statistic as (plan, the same study from its coagglomeration_* function)."""
    firms, x, y, types, pairs = register
    w = firms["employees"].fillna(0).to_numpy(float)
    partners = ("producer_services", "digital", "finance")
    pieces, members = type_atoms(firms, "manufacturing", partners)
    composite = [("manufacturing", p) for p in partners]  # as geo run: one pass, overlapping
    window = Window.rectangle(x.min() - 1, x.max() + 1, y.min() - 1, y.max() + 1)
    kd = {"weights": w, "rmax": 3000, "n_r": 31, "nsim": NSIM, "seed": 7}
    cross = {"members": members, "r": default_r(2000, 33), "nsim": NSIM, "seed": 3,
             "envelope": "global"}
    m = {"weights": w, "r": np.linspace(0, 2000, 17), "nsim": NSIM, "seed": 6}
    return {
        "Kd": (lambda: kd_plan(x, y, types, [*pairs, (pairs[0][0],) * 2], **kd),
               lambda: coagglomeration_kd(x, y, types, [*pairs, (pairs[0][0],) * 2], **kd)),
        "Kd composite": (lambda: kd_plan(x, y, pieces, composite, members=members, **kd),
                         lambda: coagglomeration_kd(x, y, pieces, composite, members=members,
                                                    **kd)),
        "cross-L": (lambda: cross_l_plan(x, y, window, pieces, composite, **cross),
                    lambda: coagglomeration_cross_l(x, y, window, pieces, composite, **cross)),
        "M": (lambda: m_plan(x, y, types, [*pairs, (pairs[0][1], pairs[0][0])], **m),
              lambda: coagglomeration_m(x, y, types, [*pairs, (pairs[0][1], pairs[0][0])], **m)),
    }


def _assert_same_study(got, want):
    """Every curve, band, p-value and table value equal to the last bit."""
    assert len(got.results) == len(want.results)
    assert got.results or got.statistic == "CLQ"
    for a, b in zip(got.results, want.results, strict=True):
        for name in ("observed", "theoretical", "lo", "hi"):
            x, y = getattr(a, name), getattr(b, name)
            assert (x is None) == (y is None), name
            if x is not None:
                assert np.array_equal(x, y, equal_nan=True), name
        assert a.p_value == b.p_value or (np.isnan(a.p_value) and np.isnan(b.p_value))
        assert a.parameters == b.parameters
    pd.testing.assert_frame_equal(got.table, want.table, check_exact=True)
    assert got.parameters == want.parameters


@pytest.fixture(scope="module")
def references(register):
    """The single-process studies, with two kernel threads (blocks run on one)."""
    patch = pytest.MonkeyPatch()
    patch.setattr(threads, "SMALL_WORK", 0)  # threads even for this small problem
    patch.setenv("GEO_THREADS", "2")
    try:
        return {name: (plan, whole()) for name, (plan, whole) in _studies(register).items()}
    finally:
        patch.undo()


# ----------------------------------------------------------------- blocks in this process


def test_a_labelling_range_is_those_columns_of_all_labellings():
    rng = np.random.default_rng(1)
    codes = rng.integers(-1, 4, 500)
    weights = rng.uniform(0, 9, 500)
    tl, wl = _labellings(codes, 12, 5, weights)
    for start, stop in ((0, 1), (3, 8), (12, 13), (0, 13)):
        part, wpart = _labellings(codes, 12, 5, weights, start, stop)
        np.testing.assert_array_equal(part, tl[:, start:stop])
        np.testing.assert_array_equal(wpart, wl[:, start:stop])
    np.testing.assert_array_equal(tl[:, 0], codes)  # labelling 0 is the observed one
    with pytest.raises(ValueError):
        _labellings(codes, 12, 5, None, 5, 14)
    assert simulation_blocks(20, 8) == [(0, 8), (8, 16), (16, 20)]


@pytest.mark.parametrize("name", ["Kd", "Kd composite", "cross-L", "M"])
def test_blocks_in_any_split_and_order_equal_the_one_process_study(references, name):
    plan_of, want = references[name]
    plan = plan_of()
    for size in (1, 7):
        blocks = [(a, b, study_block(plan, a, b))
                  for a, b in simulation_blocks(plan.labellings, size)]
        _assert_same_study(plan.finish(combine_blocks(plan, blocks[::-1])), want)


def test_combining_refuses_missing_or_repeated_labellings():
    rng = np.random.default_rng(2)
    x, y = rng.uniform(0, 3000, 400), rng.uniform(0, 3000, 400)
    types = rng.choice(np.array(["a", "b", None], dtype=object), 400)
    plan = m_plan(x, y, types, [("a", "b")], r=np.linspace(0, 500, 6), nsim=NSIM, seed=1)
    block = study_block(plan, 0, 10)
    with pytest.raises(ValueError, match="missing or given twice"):
        combine_blocks(plan, [(0, 10, block)])
    with pytest.raises(ValueError, match="missing or given twice"):
        combine_blocks(plan, [(0, 10, block), (0, 10, block), (10, 20, study_block(plan, 10,
                                                                                     20))])


# ----------------------------------------------------------------- on Dask workers


@pytest.mark.parametrize("name", ["Kd", "Kd composite", "cross-L", "M"])
def test_two_worker_processes_give_the_one_process_study(cluster, references, name):
    plan_of, want = references[name]
    assert len(cluster.scheduler_info(n_workers=-1)["workers"]) == 2
    got = compute_study(plan_of(), cluster, block_size=5)  # 4 blocks of 5 labellings
    _assert_same_study(got, want)


def _job_file(tmp_path, body: str, suffix: str = ".toml"):
    path = tmp_path / f"jobs{suffix}"
    path.write_text(body, encoding="utf-8")
    return path


JOBS = """
[defaults]
n = 3000
min_firms = 15
nsim = 19

[[job]]
name = "kd_fin"
statistic = "kd"
pairs = "manufacturing*finance"
rmax = 3000
nr = 31
seed = 7
weight = "employment"

[[job]]
name = "crossl_fin_2022"
statistic = "crossk"
pairs = "manufacturing*finance"
year = "..2022"
rmax = 2000
nr = 33
seed = 4
envelope = "global"

[[job]]
name = "m_c39"
statistic = "m"
pairs = "C39*I65"
rmax = 2000
nr = 17
min_firms = 2

[[job]]
name = "clq_c39"
statistic = "clq"
pairs = "C39*I65"
min_firms = 2
nsim = 9
"""


def test_a_batch_equals_geo_index_on_one_worker_and_on_two(cluster, tmp_path):
    jobs = read_jobs(_job_file(tmp_path, JOBS))
    # geo index kd --pairs, as the command computes it (firms in the study window)
    firms = generate_firms(3000, 20261122).firms
    from geo.io.zones import load_layer, study_area
    from geo.stats.distance import make_window, points_in_window

    area = study_area(load_layer("districts"))
    window = make_window("study", firms.to_crs("EPSG:4549"), "EPSG:4549", area)
    x, y, inside = points_in_window(firms, window, "EPSG:4549")
    frame, x, y = firms[inside], x[inside], y[inside]
    types = industry_types(frame, "division")
    pairs, _ = resolve_pairs("manufacturing*finance", frame, types, min_firms=15)
    direct = coagglomeration_kd(x, y, types, pairs, rmax=3000, n_r=31, nsim=NSIM, seed=7,
                                weights=frame["employees"].fillna(0).to_numpy(float))
    here = run_batch(jobs, tmp_path / "here", workers=0, keep_studies=True)
    _assert_same_study(here.studies["kd_fin"], direct)
    one = run_batch(jobs, tmp_path / "one", workers=1, block_size=4, keep_studies=True)
    two = run_batch(jobs, tmp_path / "two", scheduler=cluster.scheduler.address, block_size=3,
                    keep_studies=True)
    for job in jobs:
        _assert_same_study(one.studies[job.name], here.studies[job.name])
        _assert_same_study(two.studies[job.name], here.studies[job.name])
    assert one.manifest["cluster"]["n_workers"] == 1
    kd = two.manifest["jobs"][0]
    assert [(t["start"], t["stop"]) for t in kd["tasks"]] == simulation_blocks(20, 3)
    assert {t["worker"] for t in kd["tasks"]} <= set(two.manifest["cluster"]["workers"])


# ----------------------------------------------------------------- the command line


def _cli(*args):
    from typer.testing import CliRunner

    from geo.cli import app

    result = CliRunner().invoke(app, [str(a) for a in args])
    assert "Traceback" not in result.output, result.output
    return result


def test_geo_batch_writes_each_jobs_files_and_a_manifest(cluster, tmp_path):
    jobs = _job_file(tmp_path, JOBS)
    address = cluster.scheduler.address
    result = _cli("batch", jobs, "--out", tmp_path / "out", "--scheduler", address,
                  "--sim-block", "5")
    assert result.exit_code == 0, result.output
    assert "4 jobs in" in result.output
    for name in ("kd_fin", "crossl_fin_2022", "m_c39"):
        for suffix in (".csv", "_matrix.csv", "_matrix.png", "_curves.csv"):
            assert (tmp_path / "out" / f"{name}{suffix}").is_file(), name + suffix
    assert not (tmp_path / "out" / "clq_c39_curves.csv").exists()
    table = pd.read_csv(tmp_path / "out" / "kd_fin.csv", encoding="utf-8-sig")
    assert (table["statistic"] == "Kd").all() and table["synthetic"].all()
    assert (table["seed"] == 7).all() and (table["nsim"] == NSIM).all()
    manifest = json.loads((tmp_path / "out" / "batch_manifest.json").read_text("utf-8"))
    assert [job["status"] for job in manifest["jobs"]] == ["done"] * 4
    assert manifest["cluster"]["kind"] == "scheduler"
    assert manifest["cluster"]["n_workers"] == 2
    shares = {w["geo_threads"] for w in manifest["cluster"]["workers"].values()}
    assert shares == {str(kernel_threads(threads.affinity_cores(), 2, 1))}
    assert manifest["client"]["geo"] and manifest["client"]["numba"]
    assert len(manifest["job_file"]["sha256"]) == 64
    crossl = manifest["jobs"][1]
    assert crossl["parameters"]["year"] == "..2022" and crossl["parameters"]["seed"] == 4
    assert len(crossl["tasks"]) == 4 and crossl["firms"]["used"] < crossl["firms"]["valid"]
    assert all(w["peak_rss_mb"] > 0 for w in manifest["cluster"]["workers"].values())
    # in this process, without Dask: the same files, byte for byte
    result = _cli("batch", jobs, "--out", tmp_path / "here", "--workers", "0")
    assert result.exit_code == 0, result.output
    for path in sorted((tmp_path / "out").glob("*.csv")):
        assert path.read_bytes() == (tmp_path / "here" / path.name).read_bytes(), path.name
    # outputs are not replaced without --force
    result = _cli("batch", jobs, "--out", tmp_path / "here", "--workers", "0")
    assert result.exit_code == 2 and "--force" in result.output


# ----------------------------------------------------------------- bad job lists


CSV_HEADER = "name,statistic,pairs,nsim,rmax,year\n"


@pytest.mark.parametrize(("rows", "where", "message"), [
    ("a,kd,all,99,,\nb,kd,all,many,,\n", "row 3, column 'nsim'", "whole number"),
    ("a,kdd,all,9,,\n", "row 2, column 'statistic'", "unknown statistic 'kdd'"),
    ("a,kd,all,9,-5,\n", "row 2, column 'rmax'", "positive number"),
    ("a,clq,all,9,500,\n", "row 2, column 'rmax'", "rmax is for kd, crossk, m jobs"),
    ("a,kd,all,9,,20x\n", "row 2, column 'year'", "2015..2020"),
    ("a,kd,all,9,,\n\nA,m,all,9,,\n", "row 4, column 'name'", "also used by row 2"),
    ("a/b,kd,all,9,,\n", "row 2, column 'name'", "file names"),
    ("a,kd,,9,,\n", "row 2, column 'pairs'", "pairs is required"),
    ("a,kd,missing.csv,9,,\n", "row 2, column 'pairs'", "no pairs file"),
])
def test_a_bad_csv_job_names_its_row_and_column(tmp_path, rows, where, message):
    path = _job_file(tmp_path, CSV_HEADER + rows, ".csv")
    with pytest.raises(ConfigError, match=message) as caught:
        read_jobs(path)
    assert f"file {path}, {where}" in str(caught.value)


@pytest.mark.parametrize(("body", "message"), [
    ('[[job]]\nname = "a"\nstatistic = "kd"\npairs = "all"\nbandwith = 300\n',
     "column 'bandwith': [[job]] 1: unknown field 'bandwith'"),
    ('[[job]]\nname = "a"\nstatistic = "kd"\npairs = "all"\n[[job]]\nname = "b"\n'
     'statistic = "crossk"\npairs = "all"\nbandwidth = 300\n',
     "column 'bandwidth': [[job]] 2: bandwidth is for kd jobs, not crossk"),
    ('[[job]]\nname = "a"\nstatistic = "kd"\npairs = "all"\nfirms = "nowhere.csv"\n',
     "column 'firms': [[job]] 1: no firms file"),
    ('[defaults]\nnsim = -1\n[[job]]\nname = "a"\nstatistic = "kd"\npairs = "all"\n',
     "column 'nsim': [[job]] 1: nsim must be a whole number"),
    ('[[job]\nname = "a"\n', "not a valid TOML job list"),
    ('[jobs]\nname = "a"\n', "unknown table 'jobs'"),
    ("", "has no jobs"),
])
def test_a_bad_toml_job_says_which_job_and_field(tmp_path, body, message):
    with pytest.raises(ConfigError) as caught:
        read_jobs(_job_file(tmp_path, body))
    assert message in str(caught.value)


def test_geo_batch_reports_a_bad_job_without_a_traceback(tmp_path):
    path = _job_file(tmp_path, CSV_HEADER + "a,kd,all,9,,\nb,crossk,all,x9,,\n", ".csv")
    result = _cli("batch", path, "--out", tmp_path / "out", "--workers", "0")
    assert result.exit_code == 2
    assert f"file {path}, row 3, column 'nsim'" in " ".join(result.output.split())
    assert not (tmp_path / "out").exists()  # checked before any work
    # a job whose data do not fit: the job list's row, then what is wrong
    path = _job_file(tmp_path, "name,statistic,pairs,n,nsim\nk,kd,manufacturing*C9999,2000,"
                     "9\n", ".csv")
    result = _cli("batch", path, "--out", tmp_path / "out", "--workers", "0")
    assert result.exit_code == 2
    text = " ".join(result.output.split())
    assert f"file {path}, row 2: job 'k'" in text and "C9999" in text
    manifest = json.loads((tmp_path / "out" / "batch_manifest.json").read_text("utf-8"))
    assert manifest["jobs"][0]["status"] == "failed" and "C9999" in manifest["error"]


def test_an_unreachable_scheduler_is_a_clear_error():
    with pytest.raises(ConfigError, match="cannot reach the Dask scheduler"), \
            connect_cluster("tcp://127.0.0.1:9", timeout=1):
        pass


def test_year_filters_and_thread_shares():
    years = pd.array([2012, 2015, 2020, None], dtype="Int64")
    assert year_mask(years, "2015").tolist() == [False, True, False, False]
    assert year_mask(years, "..2015").tolist() == [True, True, False, False]
    assert year_mask(years, "2015..").tolist() == [False, True, True, False]
    assert year_mask(years, "2013..2020").tolist() == [False, True, True, False]
    assert kernel_threads(8, 2, 1) == 4 and kernel_threads(2, 2, 1) == 1
    assert kernel_threads(16, 1, 4) == 4 and kernel_threads(3, 4, 2) == 1


def test_geo_batch_on_a_scheduler_and_workers_started_with_the_dask_command(tmp_path):
    """The README's two-machine recipe, on this machine: `dask scheduler` and `dask worker`."""
    import os
    import subprocess
    import sys
    import time
    from pathlib import Path

    dask = str(Path(sys.executable).with_name("dask"))
    address_file = tmp_path / "scheduler.json"
    env = {**os.environ, "GEO_THREADS": "1"}
    logs = open(tmp_path / "dask.log", "wb")  # noqa: SIM115 - closed below, after the processes
    started = [subprocess.Popen([dask, "scheduler", "--host", "127.0.0.1", "--port", "0",
                                 "--dashboard-address", ":0", "--scheduler-file",
                                 str(address_file)], stdout=logs, stderr=logs, env=env)]
    try:
        for _ in range(600):
            if address_file.exists() and address_file.stat().st_size:
                break
            time.sleep(0.1)
        started.append(subprocess.Popen([dask, "worker", "--scheduler-file", str(address_file),
                                         "--nworkers", "2", "--nthreads", "1"],
                                        stdout=logs, stderr=logs, env=env))
        address = json.loads(address_file.read_text())["address"]
        jobs = _job_file(tmp_path, JOBS.split("[[job]]\nname = \"crossl")[0])  # kd_fin only
        result = _cli("batch", jobs, "--out", tmp_path / "cluster", "--scheduler", address,
                      "--sim-block", "7")
        assert result.exit_code == 0, result.output
        # the scheduler keeps Dask's 5-minute worker-ttl: geo batch says what that means
        assert "DASK_DISTRIBUTED__SCHEDULER__WORKER_TTL=None" in " ".join(result.output.split())
        manifest = json.loads((tmp_path / "cluster" / "batch_manifest.json").read_text("utf-8"))
        assert manifest["cluster"]["n_workers"] == 2
        assert {w["geo_threads"] for w in manifest["cluster"]["workers"].values()} == {"1"}
        assert len({t["worker"] for t in manifest["jobs"][0]["tasks"]}) >= 1
    finally:
        for process in reversed(started):
            process.terminate()
            process.wait(timeout=60)
        logs.close()
    here = _cli("batch", jobs, "--out", tmp_path / "here", "--workers", "0")
    assert here.exit_code == 0, here.output
    for name in ("kd_fin.csv", "kd_fin_matrix.csv", "kd_fin_curves.csv"):
        assert (tmp_path / "cluster" / name).read_bytes() == (tmp_path / "here" / name).read_bytes()
