"""Where the tasks of ``geo batch`` run: this process or a Dask cluster, and the tasks.

A task is one simulation block of a study (or a whole CLQ job); each worker
process gets the kernel threads of its share of its machine.
"""

from __future__ import annotations

import math
import os
import platform
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from geo import __version__
from geo.errors import ConfigError

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
