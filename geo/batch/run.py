"""Run a job list: prepare each study here, compute its blocks where the cluster is, write."""

from __future__ import annotations

import functools
import hashlib
import json
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from geo.batch.cluster import _block_size, _block_task, _clq_task, connect_cluster, worker_facts
from geo.batch.jobs import (
    MANIFEST,
    STATISTICS,
    SYNTHETIC_SEED,
    BatchJob,
    planned_outputs,
    year_mask,
)
from geo.errors import ConfigError, GeoError

# ----------------------------------------------------------------- preparing a job (client)


@dataclass
class _Job:
    """A job on its way: its plan (or CLQ inputs), the firms it used and its tasks."""

    job: BatchJob
    table: Any = None
    synthetic: bool = False
    plan: Any = None
    clq: tuple | None = None
    info: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    handles: list = field(default_factory=list)
    blocks: list[dict] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    pairs: int | None = None
    block_size: int | None = None
    timings: dict = field(default_factory=dict)
    status: str = "waiting"


def _firm_table(job: BatchJob, cache: dict, area: Any) -> Any:
    """Read the normalised firms of a job, once for consecutive jobs on the same file."""
    from geo.io.firms import read_firms
    from geo.io.industry import load_classification
    from geo.io.seed import generate_firms
    from geo.io.zones import load_layer

    key = (str(job.firms), job.n if not job.firms else None, job.coords,
           tuple(sorted(job.columns.items())), not job.type_column)
    if key not in cache:
        cache.clear()  # one table at a time: a city of a million firms is big enough
        if not job.firms:
            cache[key] = generate_firms(job.n, SYNTHETIC_SEED)
        else:
            cache[key] = read_firms(job.firms, coords=job.coords, columns=job.columns or None,
                                    study_area=area, districts=load_layer("districts"),
                                    classification=load_classification(),
                                    require_code=not job.type_column)
    return cache[key]


def _prepare(job: BatchJob, cache: dict) -> _Job:
    """Read, filter and type the firms of a job and prepare its study (on the client)."""
    from geo.io.zones import load_layer, study_area
    from geo.stats.coagglomeration import (
        cross_l_plan,
        industry_types,
        kd_plan,
        m_plan,
        resolve_pairs,
    )
    from geo.stats.distance import make_window, points_in_window
    from geo.stats.ripley import default_r

    item = _Job(job)
    started = time.perf_counter()
    area = study_area(load_layer("districts"))
    item.table = _firm_table(job, cache, area)
    firms = item.table.firms
    summary = item.table.summary
    item.info = {"file": str(job.firms) if job.firms else None,
                 "synthetic_population": None if job.firms else {"n": job.n,
                                                                  "seed": SYNTHETIC_SEED},
                 "rows_read": summary.get("n_read"), "valid": int(len(firms)),
                 "rejected": summary.get("n_rejected", 0)}
    if "suspect_position" in firms and not job.keep_flagged:
        suspect = firms["suspect_position"].to_numpy(dtype=bool)
        if suspect.any():
            item.notes.append(f"{int(suspect.sum()):,} firms with suspect positions left out "
                              "(keep_flagged = true keeps them)")
            firms = firms[~suspect]
    if job.year:
        if "year" not in firms:
            raise ConfigError("the firms have no year column for the year filter")
        keep = year_mask(firms["year"], job.year)
        item.notes.append(f"year {job.year}: {int(keep.sum()):,} of {len(firms):,} firms")
        firms = firms[keep]
    if len(firms) == 0:
        raise ConfigError("no firms left after the filters")
    window = make_window(job.window, firms.to_crs(job.analysis_crs), job.analysis_crs, area)
    x, y, inside = points_in_window(firms, window, job.analysis_crs)
    if not inside.all():
        item.notes.append(f"{int((~inside).sum()):,} firms outside the window left out")
    frame = firms[inside]
    x, y = x[inside], y[inside]
    item.info["used"] = int(len(frame))
    item.synthetic = bool(frame["synthetic"].any()) if "synthetic" in frame else False
    types = industry_types(frame, job.level, job.type_column or None)
    pairs, notes = resolve_pairs(job.pairs, frame, types, type_column=job.type_column or None,
                                 min_firms=job.min_firms, symmetric=job.statistic == "kd")
    item.notes += notes
    item.pairs = len(pairs)
    item.timings["read_s"] = time.perf_counter() - started
    started = time.perf_counter()
    weights = _weights(frame, job, item.notes) if job.statistic in ("kd", "m") else None
    if job.statistic == "kd":
        item.plan = kd_plan(x, y, types, pairs, weights=weights, rmax=job.rmax, n_r=job.nr,
                            bandwidth=job.bandwidth, adjust=job.adjust, nsim=job.nsim,
                            seed=job.seed)
    elif job.statistic == "crossk":
        item.plan = cross_l_plan(x, y, window, types, pairs, r=default_r(job.rmax, job.nr),
                                 correction=job.correction, nsim=job.nsim, seed=job.seed,
                                 envelope=job.envelope)
    elif job.statistic == "m":
        item.plan = m_plan(x, y, types, pairs, weights=weights, r=np.linspace(0, job.rmax, job.nr),
                           nsim=job.nsim, seed=job.seed, envelope=job.envelope)
    else:
        item.clq = (x, y, types, pairs)
    item.timings["plan_s"] = time.perf_counter() - started
    return item


def _weights(frame: Any, job: BatchJob, notes: list[str]) -> np.ndarray | None:
    """Employment weights (as ``geo index``: firms without employees weigh 0)."""
    if job.weight == "count":
        return None
    employees = frame["employees"].to_numpy(dtype=float)
    if not np.isfinite(employees).any():
        raise ConfigError("no employees in the data: use weight = count")
    missing = ~np.isfinite(employees)
    if missing.any():
        notes.append(f"{int(missing.sum()):,} firms without employees get weight 0")
    return np.where(missing, 0.0, employees)


# ----------------------------------------------------------------- the batch


@dataclass
class BatchResult:
    """What a batch wrote.

    Attributes
    ----------
    folder : Path
        The output folder.
    manifest : dict
        As written to ``batch_manifest.json``.
    studies : dict
        Job name to its PairStudy (only with ``keep_studies``).
    """

    folder: Path
    manifest: dict
    studies: dict = field(default_factory=dict)


def run_batch(
    jobs: list[BatchJob],
    out: str | Path,
    *,
    scheduler: str | None = None,
    workers: int | None = None,
    threads_per_worker: int | None = None,
    block_size: int | None = None,
    force: bool = False,
    lang: str = "en",
    job_file: str | Path | None = None,
    report: Callable[[str], None] | None = None,
    keep_studies: bool = False,
    timeout: float = 30.0,
) -> BatchResult:
    """Run every job of a job list and write its files and the batch manifest.

    Jobs are read and prepared here in their order while earlier jobs'
    blocks run; two jobs are in flight at once. The first job that fails
    stops the batch: finished jobs keep their files and the manifest says
    which jobs ran.

    Parameters
    ----------
    jobs : list of BatchJob
        From :func:`read_jobs`.
    out : str or Path
        Output folder (created if missing).
    scheduler, workers, threads_per_worker, timeout
        Where the work runs (:func:`connect_cluster`).
    block_size : int, optional
        Labellings per task (default: one block per worker thread).
    force : bool
        Replace existing output files.
    lang : {"en", "zh"}
        Language of the figures.
    job_file : str or Path, optional
        The job list (named in messages and the manifest).
    report : callable, optional
        Receives one line of progress at a time.
    keep_studies : bool
        Return every study in the result (memory: all of them at once).

    Returns
    -------
    BatchResult
    """
    from geo.outputs import atomic_path

    out = Path(out)
    say = report or (lambda line: None)
    _check_outputs(jobs, out, force, job_file)
    items: list[_Job] = []
    kept: dict | None = {} if keep_studies else None
    manifest: dict[str, Any] = {
        "command": "geo batch", "job_file": _file_facts(job_file) if job_file else None,
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "block_size": block_size,
        "jobs": []}
    began = time.perf_counter()
    try:
        with connect_cluster(scheduler, workers, threads_per_worker, timeout=timeout) as runner:
            manifest["cluster"] = _cluster_facts(runner, scheduler)
            say(_cluster_line(manifest["cluster"]))
            for note in manifest["cluster"]["notes"]:
                say(f"note: {note}")
            pending: deque[_Job] = deque()
            cache: dict = {}
            in_flight = 2  # jobs whose sites are held at once, on the client and the cluster
            for job in jobs:
                items.append(_Job(job, status="failed"))  # unless it is prepared
                item = items[-1] = _guarded(job, job_file, lambda job=job: _prepare(job, cache))
                _write_reports(item, out)
                _submit(item, runner, block_size)
                pending.append(item)
                while len(pending) >= in_flight:
                    _collect(pending.popleft(), runner, out, lang, kept, say)
            while pending:
                _collect(pending.popleft(), runner, out, lang, kept, say)
            for address, facts in runner.facts().items():
                manifest["cluster"]["workers"].setdefault(address, {})["peak_rss_mb"] = round(
                    facts["peak_rss_mb"], 1)
    except BaseException as exc:
        for item in items:
            if item.status not in ("done", "failed"):
                item.status = "stopped"
        manifest["error"] = str(exc) or type(exc).__name__
        raise
    finally:
        manifest["seconds"] = round(time.perf_counter() - began, 3)
        manifest["client"] = worker_facts()  # versions, machine and peak memory of this process
        manifest["jobs"] = [_job_facts(item) for item in items] + [
            {"name": job.name, "where": job.where, "status": "not run"}
            for job in jobs[len(items):]]
        out.mkdir(parents=True, exist_ok=True)
        with atomic_path(out / MANIFEST) as tmp:
            tmp.write_text(json.dumps(manifest, ensure_ascii=False, indent=2, default=str),
                           encoding="utf-8")
    return BatchResult(out, manifest, kept or {})


def _guarded(job: BatchJob, job_file: str | Path | None, prepare: Callable[[], _Job]) -> _Job:
    """Prepare a job; a user error names the job list's row as well as its own place."""
    try:
        return prepare()
    except GeoError as exc:
        where = "" if job.row is not None else f"{job.where}, "
        raise ConfigError(f"{where}job '{job.name}': {exc}", file=job_file, row=job.row,
                          zh=f"{where}任务 '{job.name}'：{exc.text('zh')}") from None


def _submit(item: _Job, runner: Any, block_size: int | None) -> None:
    """Send a prepared job's tasks: its simulation blocks, or one CLQ task."""
    from geo.stats.coagglomeration import simulation_blocks

    job = item.job
    item.timings["submitted"] = time.perf_counter()
    if item.clq is not None:
        item.handles = [runner.submit(f"{job.name}-clq", _clq_task, runner.put(item.clq),
                                      job.nsim, job.seed)]
        item.clq = None
    else:
        handle = runner.put(item.plan)
        size = _block_size(item.plan.labellings, runner.slots, block_size)
        item.block_size = size
        item.handles = [runner.submit(f"{job.name}-labellings-{a}-{b}", _block_task, handle, a, b)
                        for a, b in simulation_blocks(item.plan.labellings, size)]
    item.status = "running"


def _collect(item: _Job, runner: Any, out: Path, lang: str, studies: dict | None,
             say: Callable[[str], None]) -> None:
    """Wait for a job's tasks, finish its study on the client and write its files."""
    from geo.pair_outputs import write_pair_study
    from geo.stats.coagglomeration import combine_blocks

    job, blocks = item.job, []
    item.status = "failed"  # until its files are written
    try:
        for start, stop, value, seconds, where in runner.results(item.handles):
            item.blocks.append({"start": start, "stop": stop, "seconds": round(seconds, 3),
                                "worker": where})
            blocks.append((start, stop, value))
    except GeoError:
        raise
    except Exception as exc:
        if type(exc).__name__ not in ("KilledWorker", "FutureCancelledError", "CancelledError"):
            raise
        raise GeoError(f"job '{job.name}': a Dask worker died or was taken for dead while "
                       f"computing it ({exc}): out of memory (use a smaller --sim-block, fewer "
                       "workers per machine or more memory), or a block longer than the "
                       "scheduler's worker-ttl (start it with "
                       "DASK_DISTRIBUTED__SCHEDULER__WORKER_TTL=None)") from None
    item.handles = []
    item.timings["compute_s"] = time.perf_counter() - item.timings.pop("submitted")
    began = time.perf_counter()
    if item.plan is None:
        study = blocks[0][2]
    else:
        study = item.plan.finish(combine_blocks(item.plan, blocks))
        item.plan = None  # the sites, labels and curves of a finished job can go
    item.outputs += [str(p) for p in write_pair_study(study, out / f"{job.name}.csv",
                                                      item.synthetic, lang=lang)]
    item.timings["finish_s"] = time.perf_counter() - began
    item.status = "done"
    if studies is not None:
        studies[job.name] = study
    item.blocks.sort(key=lambda block: block["start"])
    say(f"{job.name}: {STATISTICS[job.statistic]} of {item.pairs} pairs, "
        f"{item.info['used']:,} firms, {job.nsim + 1} labellings in {len(item.blocks)} "
        f"task{'s' if len(item.blocks) > 1 else ''}, {item.timings['compute_s']:.1f} s "
        f"-> {out / (job.name + '.csv')}")


def _write_reports(item: _Job, out: Path) -> None:
    """Rejected and flagged rows of a firms file beside the job's outputs (as geo index)."""
    from geo.outputs import looks_like_report

    table, item.table = item.table, None
    if not item.job.firms:
        return
    for suffix, write in (("_rejects.csv", table.write_rejects),
                          ("_flagged.csv", table.write_flagged)):
        target = out / f"{item.job.name}{suffix}"
        if write(target):
            item.outputs.append(str(target))
        elif looks_like_report(target):
            target.unlink()  # an old report would list rows that are fine now


def _check_outputs(jobs: list[BatchJob], out: Path, force: bool,
                   job_file: str | Path | None) -> None:
    """Check, before any work, that every output may be written (no input replaced)."""
    from geo.outputs import check_output_files

    if out.exists() and not out.is_dir():
        raise ConfigError(f"{out} is a file: --out takes a folder")
    inputs = [job_file, *(job.firms for job in jobs if job.firms),
              *(job.pairs for job in jobs if Path(job.pairs).suffix),
              *(job.window for job in jobs if Path(job.window).suffix)]
    paths = [out / MANIFEST, *(p for job in jobs for p in planned_outputs(job, out))]
    check_output_files(paths, force=force, inputs=inputs,
                       reports=[p for p in paths if p.stem.endswith(("_rejects", "_flagged"))])


def _file_facts(path: str | Path) -> dict[str, Any]:
    return {"path": str(Path(path).resolve()), "sha256": _sha256(Path(path))}


@functools.lru_cache(maxsize=64)
def _sha256_of(path: Path, size: int, modified: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _sha256(path: Path) -> str:
    """Checksum of a file, computed once for the jobs that share it."""
    stat = path.stat()
    return _sha256_of(path.resolve(), stat.st_size, stat.st_mtime_ns)


def _cluster_facts(runner: Any, scheduler: str | None) -> dict[str, Any]:
    facts = runner.facts()
    threads = getattr(runner, "geo_threads", None) or {}
    workers = {address: {"host": f["host"], "pid": f["pid"], "cores": f["cores"],
                         "geo_threads": threads.get(address, f["geo_threads"])}
               for address, f in facts.items()}
    if runner.kind != "in-process":
        info = runner.client.scheduler_info(n_workers=-1)["workers"]
        for address, entry in workers.items():
            entry["dask_threads"] = info.get(address, {}).get("nthreads")
    return {"kind": runner.kind, "scheduler": scheduler, "n_workers": len(workers)
            if runner.kind != "in-process" else 0, "slots": runner.slots, "workers": workers,
            "notes": getattr(runner, "notes", [])}


def _cluster_line(cluster: dict) -> str:
    if cluster["kind"] == "in-process":
        return "running in this process (no Dask)"
    hosts = sorted({w["host"] for w in cluster["workers"].values()})
    threads = sorted({str(w["geo_threads"]) for w in cluster["workers"].values()})
    where = cluster["scheduler"] or "a local Dask cluster"
    return (f"{cluster['n_workers']} Dask workers on {', '.join(hosts)} ({where}), "
            f"{cluster['slots']} task slots, GEO_THREADS {'/'.join(threads)} per worker")


def _job_facts(item: _Job) -> dict[str, Any]:
    job = item.job
    facts = {"name": job.name, "where": job.where, "status": item.status,
             "parameters": job.parameters(), "firms": item.info, "pairs": item.pairs,
             "block_size": item.block_size, "notes": item.notes,
             "timings_s": {k: round(v, 3) for k, v in item.timings.items()
                           if k != "submitted"},
             "tasks": item.blocks, "outputs": item.outputs}
    if job.firms and job.firms.is_file():
        facts["firms"] = facts["firms"] | {"sha256": _sha256(job.firms)}
    return facts
