"""Benchmark: the pair engine's threads on an idle and on a loaded machine.

One kernel call (cross-K, border correction, with random-labelling simulations:
a single pass of :func:`geo.stats.pairs.pair_histograms`) is timed with one thread
(``GEO_THREADS=1``, the serial kernel), with every core of the affinity mask
forced (``GEO_THREADS=<cores>``, the parallel kernel) and with the load-aware
choice (:func:`geo.stats.pairs.parallel_threads`). Then again while busy-loop
competitors, pinned to one core each, hold ``--busy`` cores. Prints the
machine's load, the threads the policy chose and the median wall time of
``--repeat`` calls in each case.

Run: ``python bench/threads.py`` (``--n 40000 --nsim 99 --rmax 400 --busy 1``).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import threading
import time

import numba
import numpy as np

from geo.stats import pairs
from geo.stats.ripley import Window, kfunction
from geo.stats.threads import parallel_threads, run_kernel


def timed_call(x, y, types, window, rmax: float, nsim: int, threads: str | None) -> float:
    """Wall seconds of one cross-K call with ``GEO_THREADS`` set to ``threads`` (None: policy)."""
    if threads is None:
        os.environ.pop("GEO_THREADS", None)
    else:
        os.environ["GEO_THREADS"] = threads
    start = time.perf_counter()
    kfunction(x, y, window, types=types, a="A", b="B", rmax=rmax, correction="border",
              nsim=nsim, seed=1)
    return time.perf_counter() - start


def run_cases(x, y, types, window, args, label: str) -> None:
    cores = len(os.sched_getaffinity(0))
    os.environ.pop("GEO_THREADS", None)
    chosen = parallel_threads()
    with open("/proc/loadavg", encoding="ascii") as f:
        load = f.read().split()
    print(f"\n{label}: load {load[0]} (1 min), {load[3]} runnable now; "
          f"the policy chooses {chosen} thread(s) of {cores}")
    for name, threads in (("1 thread (serial kernel)", "1"),
                          (f"{cores} threads forced", str(cores)),
                          ("load-aware policy", None)):
        seconds = [timed_call(x, y, types, window, args.rmax, args.nsim, threads)
                   for _ in range(args.repeat)]
        print(f"  {name:28s} {statistics.median(seconds):7.2f} s  "
              f"(runs: {', '.join(f'{s:.2f}' for s in seconds)})")


def concurrent_callers(x, y, types, window, args) -> None:
    """Two threads of this process call the engine at once, as a parallel caller would."""
    cores = len(os.sched_getaffinity(0))
    os.environ["GEO_THREADS"] = str(cores)
    label_a = np.empty((len(x), 1 + args.nsim), np.uint8)
    rng = np.random.default_rng(2)
    label_a[:, 0] = types == "A"
    for s in range(args.nsim):
        label_a[:, 1 + s] = rng.permutation(label_a[:, 0])
    r = np.linspace(0, args.rmax, 257)
    kernel_args = (x, y, r, r * r, pairs.TIES_LEFT, r[1], label_a, 1 - label_a, pairs.NONE,
                   np.zeros(len(x)), np.full(len(x), len(r), np.int64), np.zeros(4),
                   np.zeros(1), np.zeros(1), np.zeros(1), np.zeros(1), 100.0, np.ones(len(x)))

    def engine():
        run_kernel(pairs._accumulate_parallel, pairs._accumulate_serial, 10**9,
                         *kernel_args)

    def both_parallel():  # what happened before: every caller opened a parallel region
        numba.set_num_threads(cores)
        pairs._accumulate_parallel(*kernel_args)

    for name, target in (("engine (the second caller runs serially)", engine),
                         (f"both callers with {cores} threads", both_parallel)):
        seconds = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            workers = [threading.Thread(target=target) for _ in range(2)]
            for w in workers:
                w.start()
            for w in workers:
                w.join()
            seconds.append(time.perf_counter() - start)
        print(f"  {name:44s} {statistics.median(seconds):7.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=40_000)
    parser.add_argument("--nsim", type=int, default=99)
    parser.add_argument("--rmax", type=float, default=400.0)
    parser.add_argument("--busy", type=int, default=1, help="cores held by competitors")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rng = np.random.default_rng(1)
    side = 20_000.0
    x, y = rng.random(args.n) * side, rng.random(args.n) * side
    types = rng.choice(["A", "B"], args.n)
    window = Window.rectangle(0, side, 0, side)
    os.environ["GEO_THREADS"] = "1"
    kfunction(x[:5000], y[:5000], window, types=types[:5000], a="A", b="B", rmax=args.rmax,
              correction="border", nsim=args.nsim, seed=1)  # compile the kernels
    os.environ["GEO_THREADS"] = str(len(os.sched_getaffinity(0)))
    kfunction(x[:5000], y[:5000], window, types=types[:5000], a="A", b="B", rmax=args.rmax,
              correction="border", nsim=args.nsim, seed=1)
    print(f"cross-K, border, rmax {args.rmax:g} m, {args.nsim} simulations, n = {args.n:,}")
    run_cases(x, y, types, window, args, "as found")
    cores = sorted(os.sched_getaffinity(0))
    competitors = []
    try:
        for k in range(args.busy):
            proc = subprocess.Popen([sys.executable, "-c", "while True: pass"])
            os.sched_setaffinity(proc.pid, {cores[k % len(cores)]})
            competitors.append(proc)
        time.sleep(1.0)
        run_cases(x, y, types, window, args,
                  f"with {args.busy} busy-loop competitor(s) pinned to one core each")
    finally:
        for proc in competitors:
            proc.kill()
            proc.wait()
    print("\ntwo concurrent callers (no competitor), wall time until both finish:")
    concurrent_callers(x, y, types, window, args)
    competitors = []
    try:
        for k in range(args.busy):
            proc = subprocess.Popen([sys.executable, "-c", "while True: pass"])
            os.sched_setaffinity(proc.pid, {cores[k % len(cores)]})
            competitors.append(proc)
        time.sleep(1.0)
        print(f"two concurrent callers with {args.busy} busy-loop competitor(s):")
        concurrent_callers(x, y, types, window, args)
    finally:
        for proc in competitors:
            proc.kill()
            proc.wait()


if __name__ == "__main__":
    main()
