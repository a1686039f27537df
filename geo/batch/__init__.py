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

The modules: :mod:`geo.batch.jobs` (the job list), :mod:`geo.batch.cluster`
(where the tasks run, and the tasks) and :mod:`geo.batch.run` (preparing each
study, running the list, writing and the manifest). Their public names are
importable from here.
"""

from geo.batch.cluster import compute_study, connect_cluster, kernel_threads, worker_facts
from geo.batch.jobs import FIELDS, MANIFEST, STATISTICS, BatchJob, read_jobs, year_mask
from geo.batch.run import BatchResult, run_batch

__all__ = [
    "FIELDS", "MANIFEST", "STATISTICS", "BatchJob", "BatchResult", "compute_study",
    "connect_cluster", "kernel_threads", "read_jobs", "run_batch", "worker_facts", "year_mask",
]
