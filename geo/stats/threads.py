"""How many threads a parallel numba kernel gets, and never two parallel regions at once.

numba's thread pool is sized once, from the CPU count; on a shared machine that
oversubscribes the cores, and a parallel kernel called while another one runs
(from a parallel caller: threads of a web server, a Dask worker, a thread
pool) opens a second team of threads. Here each call decides:
:func:`parallel_threads` takes the CPUs of the affinity mask minus the threads
other processes are running on them, and :func:`run_kernel` runs the serial
compilation of a kernel when that leaves one thread, when the job is small, or
when another thread of this process is inside a parallel kernel.
"""

from __future__ import annotations

import math
import os
import threading
import time

import numba

# below this many (points x labellings) a kernel runs serially without asking the system
SMALL_WORK = 200_000
_PARALLEL_REGION = threading.Lock()  # at most one parallel kernel per process


def threads_for(cores: int, others_running: float, cpus: int) -> int:
    """Threads that fit in the free cores of a CPU set.

    Parameters
    ----------
    cores : int
        CPUs this process may run on (its affinity mask).
    others_running : float
        Runnable threads of other processes, on all ``cpus`` of the machine.
    cpus : int
        CPUs of the machine.

    Returns
    -------
    int
        ``cores`` minus the other threads' share of this CPU set (rounded),
        at least 1.
    """
    share = others_running * cores / max(cpus, cores)
    return max(1, min(cores, int(math.floor(cores - share + 0.5))))


def _others_running() -> float:
    """Runnable threads of other processes: the median of a few instantaneous readings.

    ``/proc/loadavg`` reports the threads runnable right now (this one
    included); the median of five readings 4 ms apart passes over short-lived
    processes and keeps steady ones. Where it is missing, the one-minute load
    average stands in.
    """
    try:
        readings = []
        for _ in range(5):
            with open("/proc/loadavg", encoding="ascii") as f:
                running = int(f.read().split()[3].split("/")[0])
            readings.append(running - 1)
            time.sleep(0.004)
        return float(max(0, sorted(readings)[2]))
    except (OSError, IndexError, ValueError):
        return float(os.getloadavg()[0]) if hasattr(os, "getloadavg") else 0.0


def affinity_cores() -> int:
    """CPUs this process may run on (its affinity mask, else the CPU count)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def parallel_threads() -> int:
    """Threads for the next parallel kernel.

    ``GEO_THREADS`` fixes the number; otherwise the free cores of the
    affinity mask given the threads other processes are running
    (:func:`threads_for`), capped by numba's thread pool.

    Returns
    -------
    int
    """
    fixed = os.environ.get("GEO_THREADS", "").strip()
    cap = numba.config.NUMBA_NUM_THREADS
    if fixed.isdigit() and int(fixed) > 0:
        return min(int(fixed), cap)
    cores = affinity_cores()
    if cores == 1:
        return 1
    return min(cap, threads_for(cores, _others_running(), os.cpu_count() or cores))


def run_kernel(parallel, serial, work: int, *args, blocks: bool = False):
    """Run ``parallel(*args)`` on the chosen threads, or ``serial(*args)``.

    Serial when the work is small, when one thread is all the machine can
    spare, or when another thread of this process is inside a parallel
    kernel: parallel regions never nest or overlap, so threads never exceed
    the cores. Both kernels compute the same sums in the same order.

    Parameters
    ----------
    parallel, serial : numba dispatchers
        The two compilations of a kernel.
    work : int
        Size of the job (points x labellings) deciding whether threads pay.
    *args
        Kernel arguments.
    blocks : bool
        Pass the number of threads to ``parallel`` as its first argument
        (kernels that split their work into one block per thread). A kernel
        that asks numba for it (``numba.get_num_threads()``) compiles with
        dynamic globals, which numba cannot cache.

    Returns
    -------
    object
        The kernel's result.
    """
    if work < SMALL_WORK or not _PARALLEL_REGION.acquire(blocking=False):
        return serial(*args)
    before = numba.get_num_threads()
    try:
        threads = parallel_threads()
        if threads <= 1:
            return serial(*args)
        numba.set_num_threads(threads)  # thread-local in numba
        return parallel(threads, *args) if blocks else parallel(*args)
    finally:
        numba.set_num_threads(before)
        _PARALLEL_REGION.release()
