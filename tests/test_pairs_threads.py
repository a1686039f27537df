"""Threads of the pair engine (issue 18, item 3): affinity, load, no nesting, same sums.

Timings are not asserted (bench/threads.py prints them); these tests assert the
choices of the load-aware policy and that every route gives the same numbers.
"""

import os
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from geo.stats import pairs, threads
from geo.stats.ripley import Window, kfunction
from geo.stats.threads import parallel_threads, run_kernel, threads_for


def test_threads_for_hand_cases():
    assert threads_for(2, 0, 2) == 2
    assert threads_for(2, 1, 2) == 1  # one busy core of two: serial
    assert threads_for(2, 5, 2) == 1  # never fewer than one
    assert threads_for(8, 3, 8) == 5
    # 16 busy threads on a 64-CPU machine, this process pinned to 4 of them: a quarter
    # of a core each on average
    assert threads_for(4, 16, 64) == 3
    assert threads_for(4, 0, 64) == 4


def test_fixed_thread_count(monkeypatch):
    monkeypatch.setenv("GEO_THREADS", "1")
    assert parallel_threads() == 1
    monkeypatch.setenv("GEO_THREADS", "9999")
    assert parallel_threads() == threads.numba.config.NUMBA_NUM_THREADS


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="needs CPU affinity")
def test_a_busy_competitor_on_one_core_takes_a_thread(monkeypatch):
    monkeypatch.delenv("GEO_THREADS", raising=False)
    cores = sorted(os.sched_getaffinity(0))
    competitor = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        os.sched_setaffinity(competitor.pid, {cores[0]})
        time.sleep(0.3)  # let it spin
        # it is always runnable, so it is always among the others counted
        assert threads._others_running() >= 1
        chosen = parallel_threads()
        assert chosen <= max(1, len(cores) - 1)
        expected = threads_for(len(cores), threads._others_running(), os.cpu_count())
        assert chosen >= 1 and abs(chosen - expected) <= 1  # the load moves between readings
    finally:
        competitor.kill()
        competitor.wait()


def test_small_work_and_overlapping_kernels_run_serially(monkeypatch):
    monkeypatch.setenv("GEO_THREADS", "2")

    def parallel():
        return "parallel"

    def serial():
        return "serial"

    assert run_kernel(parallel, serial, threads.SMALL_WORK - 1) == "serial"
    assert run_kernel(parallel, serial, threads.SMALL_WORK) == "parallel"
    # another thread of this process is inside a parallel kernel: never nest
    with threads._PARALLEL_REGION:
        assert run_kernel(parallel, serial, 10**9) == "serial"
    monkeypatch.setenv("GEO_THREADS", "1")
    assert run_kernel(parallel, serial, 10**9) == "serial"


def test_parallel_and_serial_kernels_give_the_same_sums():
    rng = np.random.default_rng(8)
    n = 3000
    x, y = rng.random(n) * 5000, rng.random(n) * 5000
    labels = (rng.random((n, 5)) < 0.4).astype(np.uint8)
    r = np.linspace(0, 400, 41)
    args = (x, y, r, r * r, pairs.TIES_LEFT, 10.0, labels, 1 - labels, pairs.ISOTROPIC,
            np.minimum.reduce([x, 5000 - x, y, 5000 - y]), np.full(n, 41, np.int64),
            np.array([0.0, 5000, 0, 5000]), *pairs.rectangle_edges(0.0, 5000.0, 0.0, 5000.0),
            100.0, np.ones(n))
    main_p, _ = pairs._accumulate_parallel(*args)
    main_s, _ = pairs._accumulate_serial(*args)
    np.testing.assert_array_equal(main_p, main_s)


def test_concurrent_callers_get_the_results_of_a_lone_caller(monkeypatch):
    """Two threads call the engine at once: one may run parallel, the other serially."""
    monkeypatch.setenv("GEO_THREADS", "2")
    rng = np.random.default_rng(9)
    n = 4000
    x, y = rng.random(n) * 4000, rng.random(n) * 4000
    types = rng.choice(["A", "B"], n)
    window = Window.rectangle(0, 4000, 0, 4000)

    def run():
        return kfunction(x, y, window, types=types, a="A", b="B", rmax=300, correction="border",
                         nsim=60, seed=2).simulations

    alone = run()
    results = [None, None]

    def worker(k):
        results[k] = run()

    workers = [threading.Thread(target=worker, args=(k,)) for k in range(2)]
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    for result in results:
        np.testing.assert_array_equal(result, alone)
