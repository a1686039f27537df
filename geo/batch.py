"""``geo batch``: many co-agglomeration studies at once, on one machine or a Dask cluster.

A job list (TOML or CSV, :func:`read_jobs`) names the studies: for each, a
firms file (or the synthetic population), an optional year filter, a
statistic (``kd``, ``crossk``, ``m``, ``clq``) of ``geo index <statistic>
--pairs``, the pairs and the parameters. Each job writes what that command
writes (:func:`geo.pair_outputs.write_pair_study`) into one folder, with a
``batch_manifest.json`` (jobs, parameters, seeds, timings, workers, versions).

How the work is split: this process (the Dask *client*) reads and checks the
firms, resolves the pairs and prepares each study
(:func:`geo.stats.coagglomeration.kd_plan` and its siblings: bandwidths, bins,
boundary distances); the labellings of a study (the observed one and ``nsim``
random ones) are then cut into simulation blocks, each one Dask task that
draws its permutations again from the job's seed and returns its curves
(:func:`geo.stats.coagglomeration.study_block`). The client puts the blocks
together, adds the bands and writes the files. The pair engine never stores
site pairs, so a task needs memory for ``n x block`` labels and its
histograms only, whatever the number of workers; CLQ jobs are one task each.
Every labelling's numbers are summed in a fixed order, so a study is
bit-identical in one process, on one worker or on many. A study goes to the
cluster with each of its tasks: the pair kernels keep the GIL while they run,
so a worker busy with a block can neither hand data to the others nor send
heartbeats (the local cluster never takes a silent worker for dead: Dask's
``worker-ttl`` is off). Once the kernels release the GIL (numba's
``nogil=True``), a study goes to the cluster once, as a task that any worker
can make again if the one holding it dies.

Threads: a worker runs numba kernels through :func:`geo.stats.threads.run_kernel`
(never two parallel regions in one process). Each worker process gets the
kernel threads of its share of its machine: ``GEO_THREADS`` = cores of the
machine / worker processes on it / Dask threads per worker (at least 1), set
when the local cluster starts its workers and, for workers started by hand,
when the batch connects, unless the worker was started with its own
``GEO_THREADS``. The client keeps the load-aware policy of
:func:`geo.stats.threads.parallel_threads`.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import io
import json
import math
import os
import platform
import re
import time
import tomllib
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from geo import __version__
from geo.errors import ConfigError, GeoError

STATISTICS = {"kd": "Kd", "crossk": "cross-L", "m": "M", "clq": "CLQ"}
_ALIASES = {"cross-l": "crossk", "crossl": "crossk", "cross_l": "crossk", "lcross": "crossk"}
SYNTHETIC_SEED = 20261122  # the population geo index draws without a firms file
MANIFEST = "batch_manifest.json"
# field: (default, statistics it applies to (None: all)); a dict default is per statistic
FIELDS: dict[str, tuple[Any, tuple[str, ...] | None]] = {
    "name": (None, None), "statistic": (None, None), "pairs": (None, None),
    "firms": ("", None), "n": (30_000, None), "coords": ("wgs84", None), "columns": ({}, None),
    "year": ("", None), "window": ("study", None), "analysis_crs": ("EPSG:4549", None),
    "level": ("division", None), "type_column": ("", None), "min_firms": (10, None),
    "keep_flagged": (False, None), "nsim": (99, None), "seed": (1, None),
    "rmax": ({"kd": 10_000.0, "crossk": 3000.0, "m": 5000.0}, ("kd", "crossk", "m")),
    "nr": ({"kd": 201, "crossk": 257, "m": 65}, ("kd", "crossk", "m")),
    "weight": ("count", ("kd", "m")), "bandwidth": ("nrd0", ("kd",)),
    "adjust": (1.0, ("kd",)), "correction": ("border", ("crossk",)),
    "envelope": ("pointwise", ("crossk", "m")),
}
_CHOICES = {"level": ("division", "group", "class"), "weight": ("count", "employment"),
            "correction": ("border", "none"), "envelope": ("pointwise", "global")}
_NAME = re.compile(r"^[\w][\w.\-]*$")
_YEAR = re.compile(r"^\s*(\d{4})?\s*(\.\.)?\s*(\d{4})?\s*$")


@dataclass
class BatchJob:
    """One study of a job list, with every field resolved (see :data:`FIELDS`).

    Attributes
    ----------
    name : str
        Output name: the files are ``<name>.csv``, ``<name>_matrix.csv`` ...
    statistic : str
        ``kd``, ``crossk``, ``m`` or ``clq``.
    pairs : str
        The ``--pairs`` specification (a CSV path is resolved beside the job list).
    where : str
        Where the job is written (``row 3`` or ``[[job]] 2``), for messages.
    row : int or None
        Its row in a CSV job list (header = row 1).
    values : dict
        Every other field.
    """

    name: str
    statistic: str
    pairs: str
    where: str
    row: int | None
    values: dict[str, Any] = field(default_factory=dict)

    def __getattr__(self, key: str) -> Any:
        try:
            return self.__dict__["values"][key]
        except KeyError:
            raise AttributeError(key) from None

    def parameters(self) -> dict[str, Any]:
        """Return the job's fields as the manifest records them."""
        return {"name": self.name, "statistic": self.statistic, "pairs": self.pairs,
                **{k: str(v) if isinstance(v, Path) else v for k, v in self.values.items()}}


# ----------------------------------------------------------------- the job list


def read_jobs(path: str | Path) -> list[BatchJob]:
    """Read and check a job list: a TOML file (``[defaults]``, ``[[job]]``) or a CSV file.

    A CSV file has a header of field names and one row per job; an empty cell
    takes the default, and a row whose first cell starts with ``#`` is a
    comment. A TOML file has ``[[job]]`` tables and an optional
    ``[defaults]`` table whose values every job takes unless it sets its own.
    Relative paths (``firms``, a pairs CSV, a window file) are relative to the
    job list's folder. Fields: see :data:`FIELDS` and the README.

    Parameters
    ----------
    path : str or Path
        The job list (``.toml`` or ``.csv``).

    Returns
    -------
    list of BatchJob

    Raises
    ------
    ConfigError
        Naming the file, the row (or ``[[job]]``) and the column of the first problem.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"no job list {path}", zh=f"找不到任务清单 {path}")
    if path.suffix.lower() == ".toml":
        entries = _toml_entries(path)
    elif path.suffix.lower() in (".csv", ".txt"):
        entries = _csv_entries(path)
    else:
        raise ConfigError("a job list is a .toml or .csv file", file=path)
    if not entries:
        raise ConfigError("the job list has no jobs", file=path)
    jobs, seen = [], {}
    for where, row, raw, defaults in entries:
        job = _job(path, where, row, raw, defaults)
        if job.name.lower() in seen:
            raise ConfigError(f"{where}: the name '{job.name}' is also used by "
                              f"{seen[job.name.lower()]}; every job needs its own name",
                              file=path, row=row, column="name")
        seen[job.name.lower()] = where
        jobs.append(job)
    return jobs


def _toml_entries(path: Path) -> list[tuple[str, int | None, dict, dict]]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"not a valid TOML job list: {exc}", file=path) from None
    unknown = sorted(set(data) - {"defaults", "job"})
    if unknown:
        raise ConfigError(f"unknown table '{unknown[0]}': a job list has [defaults] and "
                          "[[job]] tables", file=path)
    defaults, jobs = data.get("defaults", {}), data.get("job", [])
    if not isinstance(defaults, dict) or not isinstance(jobs, list):
        raise ConfigError("write [defaults] once and each job as [[job]]", file=path)
    return [(f"[[job]] {k}", None, job, defaults) for k, job in enumerate(jobs, start=1)]


def _csv_entries(path: Path) -> list[tuple[str, int | None, dict, dict]]:
    data = path.read_bytes()
    for encoding in ("utf-8-sig", "gb18030"):  # Excel on Chinese Windows saves GBK
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise ConfigError("cannot decode the job list; save it as a UTF-8 CSV", file=path)
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if not header:
        raise ConfigError("the job list is empty", file=path)
    header = [h.strip().lower() for h in header]
    entries = []
    for row, cells in enumerate(reader, start=2):  # rows as a spreadsheet numbers them
        if not any(c.strip() for c in cells) or cells[0].lstrip().startswith("#"):
            continue
        if len(cells) > len(header):
            raise ConfigError(f"{len(cells)} cells but {len(header)} column names", file=path,
                              row=row)
        raw = {h: c.strip() for h, c in zip(header, cells, strict=False) if h and c.strip()}
        entries.append((f"row {row}", row, raw, {}))
    return entries


def _job(path: Path, where: str, row: int | None, raw: dict, defaults: dict) -> BatchJob:
    """One job from its own values and the defaults, every field checked."""
    def fail(message: str, column: str | None = None) -> ConfigError:
        return ConfigError(message if row is not None else f"{where}: {message}", file=path,
                           row=row, column=column)

    for source in (defaults, raw):
        for key in source:
            if key not in FIELDS:
                raise fail(f"unknown field '{key}'; fields: {', '.join(FIELDS)}", key)
    for key in ("name", "statistic", "pairs"):
        if str(raw.get(key, defaults.get(key, ""))).strip() == "":
            raise fail(f"{key} is required (every job has a name, a statistic and pairs)",
                       key)
    statistic = str(raw.get("statistic", defaults.get("statistic"))).strip().lower()
    statistic = _ALIASES.get(statistic, statistic)
    if statistic not in STATISTICS:
        raise fail(f"unknown statistic '{statistic}': use kd, crossk, m or clq", "statistic")
    values: dict[str, Any] = {}
    for key, (default, applies) in FIELDS.items():
        if key in ("name", "statistic", "pairs"):
            continue
        if applies is not None and statistic not in applies:
            if key in raw and raw[key] not in ("", None):
                raise fail(f"{key} is for {', '.join(applies)} jobs, not {statistic}", key)
            continue
        given = raw.get(key, defaults.get(key))
        if given is None or (isinstance(given, str) and given.strip() == ""):
            values[key] = {} if key == "columns" else (
                default[statistic] if isinstance(default, dict) else default)
            continue
        values[key] = _value(key, given, path.parent, lambda m, k=key: fail(m, k))
    name = str(raw.get("name", defaults.get("name"))).strip()
    if not _NAME.match(name) or name.startswith("."):
        raise fail(f"the name '{name}' is used for file names: use letters, digits, _ - .",
                   "name")
    pairs = str(raw.get("pairs", defaults.get("pairs"))).strip()
    if Path(pairs).suffix.lower() in (".csv", ".txt"):
        pairs_path = _beside(pairs, path.parent)
        if not pairs_path.is_file():
            raise fail(f"no pairs file {pairs_path}", "pairs")
        pairs = str(pairs_path)
    return BatchJob(name, statistic, pairs, where, row, values)


def _beside(value: str, folder: Path) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else folder / path


def _value(key: str, given: Any, folder: Path, fail: Callable[[str], ConfigError]) -> Any:
    """Check and convert one field."""
    text = str(given).strip()
    if key in ("n", "nr", "min_firms", "nsim", "seed"):
        least = {"n": 1, "nr": 2, "min_firms": 1, "nsim": 0, "seed": 0}[key]
        if isinstance(given, bool) or not re.fullmatch(r"\d+", text) or int(text) < least:
            raise fail(f"{key} must be a whole number of at least {least}, not '{text}'")
        return int(text)
    if key in ("rmax", "adjust"):
        try:
            number = float(text)
        except ValueError:
            number = math.nan
        if isinstance(given, bool) or not (math.isfinite(number) and number > 0):
            raise fail(f"{key} must be a positive number, not '{text}'")
        return number
    if key == "bandwidth":
        if text in ("nrd0", "SJ"):
            return text
        try:
            number = float(text)
        except ValueError:
            number = math.nan
        if not (math.isfinite(number) and number > 0):
            raise fail(f"bandwidth is nrd0, SJ or a positive number of metres, not '{text}'")
        return number
    if key == "keep_flagged":
        if isinstance(given, bool):
            return given
        if text.lower() in ("true", "yes", "1"):
            return True
        if text.lower() in ("false", "no", "0"):
            return False
        raise fail(f"keep_flagged is true or false, not '{text}'")
    if key in _CHOICES:
        if text not in _CHOICES[key]:
            raise fail(f"unknown {key} '{text}': use {', '.join(_CHOICES[key])}")
        return text
    if key == "year":
        match = _YEAR.match(text)
        if not match or not (match[1] or match[3]) or (not match[2] and match[3]):
            raise fail(f"year is 2020, ..2020 (to 2020), 2015.. (from 2015) or 2015..2020, "
                       f"not '{text}'")
        if match[1] and match[3] and int(match[1]) > int(match[3]):
            raise fail(f"the year range '{text}' is empty")
        return text.replace(" ", "")
    if key == "columns":
        pairs = given.items() if isinstance(given, dict) else (
            part.partition("=")[::2] for part in text.split(";") if part.strip())
        out = {}
        for schema, column in pairs:
            if not str(schema).strip() or not str(column).strip():
                raise fail("columns maps schema fields to file columns: "
                           "industry_code=行业小类;lon=经度X")
            out[str(schema).strip()] = str(column).strip()
        return out
    if key == "firms":
        firms = _beside(text, folder)
        if not firms.is_file():
            raise fail(f"no firms file {firms}")
        return firms
    if key == "window" and Path(text).suffix:
        window = _beside(text, folder)
        if not window.is_file():
            raise fail(f"no window file {window}")
        return str(window)
    return text


def year_mask(years: Any, spec: str) -> np.ndarray:
    """Firms whose ``year`` matches ``2020``, ``..2020``, ``2015..`` or ``2015..2020``.

    Parameters
    ----------
    years : array-like of int or NA
        The ``year`` column (firms without a year never match).
    spec : str
        The filter.

    Returns
    -------
    ndarray of bool

    Examples
    --------
    >>> year_mask([2014, 2018, None], "..2018").tolist()
    [True, True, False]
    """
    import pandas as pd

    values = pd.to_numeric(pd.Series(years, dtype="object"), errors="coerce").to_numpy(float)
    first, dots, last = _YEAR.match(spec).groups()
    lo = float(first) if first else -math.inf
    hi = float(last) if last else (math.inf if dots else lo)
    return np.isfinite(values) & (values >= lo) & (values <= hi)


def planned_outputs(job: BatchJob, out: Path) -> list[Path]:
    """Files a job writes in the batch folder (the reports only for a firms file)."""
    names = [".csv", "_matrix.csv", "_matrix.png"] + (["_curves.csv"]
                                                      if job.statistic != "clq" else [])
    if job.firms:
        names += ["_rejects.csv", "_flagged.csv"]
    return [out / f"{job.name}{suffix}" for suffix in names]


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


# ----------------------------------------------------------------- tasks (run on the workers)


def _where() -> str:
    try:
        from distributed import get_worker

        return get_worker().address
    except (ImportError, ValueError):
        return f"pid {os.getpid()}"


def _identity(value: Any) -> Any:
    return value


def _worker_ttl(dask_scheduler: Any = None) -> float | None:
    """Seconds of silence after which the scheduler removes a worker (None: never)."""
    return dask_scheduler.worker_ttl


def _kernels_hold_gil() -> bool:
    """Whether the pair kernels keep the GIL (and so their worker's event loop) while they run."""
    from geo.stats import typepairs

    kernels = (typepairs._symmetric_serial, typepairs._symmetric_parallel,
               typepairs._ordered_serial, typepairs._ordered_parallel, typepairs._m_serial,
               typepairs._m_parallel)
    return not all(kernel.targetoptions.get("nogil") for kernel in kernels)


def _block_task(plan: Any, start: int, stop: int) -> tuple:
    """One simulation block: its curves, the seconds it took and where it ran."""
    from geo.stats.coagglomeration import study_block

    began = time.perf_counter()
    curves = study_block(plan, start, stop)
    return start, stop, curves, time.perf_counter() - began, _where()


def _clq_task(inputs: tuple, nsim: int, seed: int) -> tuple:
    """Compute a whole CLQ study (its permutations are not split)."""
    from geo.stats.coagglomeration import coagglomeration_clq

    began = time.perf_counter()
    x, y, types, pairs = inputs
    study = coagglomeration_clq(x, y, types, pairs, nsim=nsim, seed=seed)
    return 0, nsim + 1, study, time.perf_counter() - began, _where()


def worker_facts() -> dict[str, Any]:
    """Versions, machine, threads and peak memory of this process (run on each worker).

    Returns
    -------
    dict
    """
    import resource
    import socket
    from importlib.metadata import version

    from geo.stats.threads import affinity_cores

    return {"geo": __version__, "numpy": np.__version__, "numba": version("numba"),
            "dask": version("dask"), "distributed": version("distributed"),
            "python": platform.python_version(), "machine": platform.machine(),
            "host": socket.gethostname(), "pid": os.getpid(), "cores": affinity_cores(),
            "geo_threads": os.environ.get("GEO_THREADS"),
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def kernel_threads(cores: int, processes: int, threads_per_process: int) -> int:
    """Numba threads of one worker: its share of the machine's cores per Dask thread.

    Parameters
    ----------
    cores : int
        CPUs of the machine (the worker's affinity mask).
    processes : int
        Worker processes on that machine.
    threads_per_process : int
        Dask threads of each worker (tasks it runs at once).

    Returns
    -------
    int
        At least 1. At most one kernel of a process is parallel at a time
        (:func:`geo.stats.threads.run_kernel`), so a worker runs at most
        ``threads_per_process - 1`` serial kernels and one with this many
        threads: never more threads than its share.

    Examples
    --------
    >>> kernel_threads(8, 2, 1), kernel_threads(2, 2, 1), kernel_threads(16, 1, 4)
    (4, 1, 4)
    """
    return max(1, cores // max(processes, 1) // max(threads_per_process, 1))


def _share_threads(layout: dict[str, tuple[int, int]], dask_worker: Any = None) -> str | None:
    """Set ``GEO_THREADS`` of this worker from its share, unless its starter set one."""
    from geo.stats.threads import affinity_cores

    if "GEO_THREADS" in os.environ and "GEO_BATCH_THREADS" not in os.environ:
        return os.environ["GEO_THREADS"]  # the user's choice when starting the worker
    processes, threads = layout.get(dask_worker.address, (1, 1)) if dask_worker else (1, 1)
    os.environ["GEO_THREADS"] = str(kernel_threads(affinity_cores(), processes, threads))
    os.environ["GEO_BATCH_THREADS"] = "1"
    return os.environ["GEO_THREADS"]


# ----------------------------------------------------------------- where the tasks run


class _Here:
    """Run the tasks in this process, one after the other (``--workers 0``: no Dask)."""

    kind = "in-process"
    slots = 1

    def put(self, value: Any) -> Any:
        return value

    def submit(self, key: str, function: Callable, *args: Any) -> Any:
        return function(*args)

    def results(self, handles: list) -> Iterator:
        return iter(handles)

    def facts(self) -> dict[str, dict]:
        return {"this process": worker_facts()}


class _Dask:
    """Run the tasks on a Dask cluster through ``client``."""

    def __init__(self, client: Any, kind: str) -> None:
        self.client = client
        self.kind = kind
        self.token = uuid.uuid4().hex[:8]  # task keys of this batch
        self.geo_threads: dict[str, str | None] = {}
        self.notes: list[str] = []
        self.inline = _kernels_hold_gil()

    @property
    def slots(self) -> int:
        workers = self.client.scheduler_info(n_workers=-1)["workers"].values()
        return max(1, sum(w["nthreads"] for w in workers))

    def put(self, value: Any) -> Any:
        if self.inline:
            # in every task: a worker busy in a kernel that holds the GIL cannot hand data
            # to the others, so no worker waits for another (the scheduler holds one copy
            # per queued task)
            return value
        # a task, not scattered data: one copy in the graph, fetched by the workers that
        # need it, and made again elsewhere if the worker holding it dies
        return self.submit(f"{type(value).__name__}-{uuid.uuid4().hex[:8]}", _identity, value)

    def submit(self, key: str, function: Callable, *args: Any) -> Any:
        import warnings

        with warnings.catch_warnings():  # a city's sites make a "large graph", knowingly
            warnings.filterwarnings("ignore", "Sending large graph")
            return self.client.submit(function, *args, key=f"geo-{self.token}-{key}")

    def results(self, futures: list) -> Iterator:
        from distributed import as_completed

        # this client's loop: the default client (the newest in this process) may be another
        # one, or closed, and a future tracked on a stopped loop is never reported
        for _, value in as_completed(futures, with_results=True, loop=self.client.loop):
            yield value

    def facts(self) -> dict[str, dict]:
        return self.client.run(worker_facts)

    def prepare_workers(self) -> dict[str, str | None]:
        """Check the workers run this geo, numpy and numba; give each its share of threads."""
        try:
            facts = self.facts()
        except Exception as exc:  # a worker without geo cannot even unpickle the call
            raise ConfigError(f"the Dask workers cannot run geo ({type(exc).__name__}: {exc}); "
                              "install the same geo version in the workers' Python "
                              "environment") from None
        mine = worker_facts()
        for key in ("geo", "numpy", "numba"):
            for address, theirs in facts.items():
                if theirs[key] != mine[key]:
                    raise ConfigError(
                        f"the worker {address} ({theirs['host']}) runs {key} {theirs[key]}, "
                        f"this machine {key} {mine[key]}: install the same geo, numpy and "
                        "numba versions on every machine, so that results do not depend on "
                        "where a block runs")
        workers = self.client.scheduler_info(n_workers=-1)["workers"]
        hosts: dict[str, int] = {}
        for info in workers.values():
            hosts[info["host"]] = hosts.get(info["host"], 0) + 1
        layout = {address: (hosts[info["host"]], info["nthreads"])
                  for address, info in workers.items()}
        return self.client.run(_share_threads, layout)


@contextmanager
def connect_cluster(
    scheduler: str | None = None,
    workers: int | None = None,
    threads_per_worker: int | None = None,
    *,
    timeout: float = 30.0,
) -> Iterator[Any]:
    """Open where the batch runs: a local Dask cluster, an existing one, or this process.

    Parameters
    ----------
    scheduler : str, optional
        Address of a running scheduler (``tcp://HOST:8786``); its workers do the work.
    workers : int, optional
        Without ``scheduler``: worker processes of the local cluster (default:
        the CPUs of this process's affinity mask); 0 runs in this process, without Dask.
    threads_per_worker : int, optional
        Dask threads of each local worker (default 1).
    timeout : float
        Seconds to wait for the scheduler and its first worker.

    Yields
    ------
    object
        A runner with ``put``, ``submit``, ``results``, ``facts`` and ``kind``.
    """
    if scheduler is None and workers == 0:
        yield _Here()
        return
    import logging

    import dask
    from distributed import Client, LocalCluster

    from geo.stats.threads import affinity_cores

    cluster = client = None
    try:
        if scheduler:
            try:
                client = Client(scheduler, timeout=timeout)
            except (OSError, TimeoutError, ValueError) as exc:
                raise ConfigError(
                    f"cannot reach the Dask scheduler at {scheduler} ({exc}); start it with "
                    "'dask scheduler' on that machine and open its port (8786) and the "
                    "workers' ports in the firewall") from None
            try:
                client.wait_for_workers(1, timeout=timeout)
            except TimeoutError:
                raise ConfigError(f"no worker has joined the scheduler at {scheduler}: start "
                                  f"workers with 'dask worker {scheduler}'") from None
            runner = _Dask(client, "scheduler")
            ttl = client.run_on_scheduler(_worker_ttl)
            if ttl and _kernels_hold_gil():
                runner.notes.append(
                    f"the scheduler takes a worker that is silent for {ttl:g} s for dead, and a "
                    "block's kernel keeps its worker silent while it runs: keep blocks shorter "
                    "(--sim-block) or start the scheduler with "
                    "DASK_DISTRIBUTED__SCHEDULER__WORKER_TTL=None")
        else:
            cores = affinity_cores()
            n, threads = workers or cores, threads_per_worker or 1
            if n < 0 or threads < 1:
                raise ConfigError("--workers takes 0 or more, --threads-per-worker 1 or more")
            # a kernel holding the GIL silences its worker's heartbeats for as long as it
            # runs: the scheduler must not take such a worker for dead (the nanny still
            # notices a worker process that really dies)
            with dask.config.set({"distributed.scheduler.worker-ttl": None}):
                cluster = LocalCluster(
                    n_workers=n, threads_per_worker=threads, processes=True,
                    dashboard_address=":0", silence_logs=logging.ERROR,  # any free port
                    env={"GEO_THREADS": str(kernel_threads(cores, n, threads)),
                         "GEO_BATCH_THREADS": "1"})
            client = Client(cluster)
            runner = _Dask(client, "local")
        runner.geo_threads = runner.prepare_workers()
        yield runner
    finally:
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()


def _block_size(labellings: int, slots: int, given: int | None) -> int:
    """Labellings per task: ``given``, else one block per worker thread."""
    if given is not None:
        if given < 1:
            raise ConfigError("--sim-block takes 1 or more labellings per task")
        return given
    return math.ceil(labellings / min(labellings, max(slots, 1)))


def compute_study(plan: Any, client: Any = None, *, block_size: int | None = None) -> Any:
    """Compute a prepared study in simulation blocks on a Dask cluster (or here) and finish it.

    Parameters
    ----------
    plan : StudyPlan
        From :func:`geo.stats.coagglomeration.kd_plan`, ``cross_l_plan`` or ``m_plan``.
    client : distributed.Client, optional
        Where the blocks run; None computes them in this process.
    block_size : int, optional
        Labellings per task (default: one block per worker thread).

    Returns
    -------
    PairStudy
        Bit-identical to ``coagglomeration_*`` with the same arguments.
    """
    from geo.stats.coagglomeration import combine_blocks, simulation_blocks

    runner = _Here() if client is None else _Dask(client, "given")
    handle = runner.put(plan)
    size = _block_size(plan.labellings, runner.slots, block_size)
    tasks = [runner.submit(f"labellings-{a}-{b}", _block_task, handle, a, b)
             for a, b in simulation_blocks(plan.labellings, size)]
    blocks = [(start, stop, curves) for start, stop, curves, _, _ in runner.results(tasks)]
    return plan.finish(combine_blocks(plan, blocks))


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
