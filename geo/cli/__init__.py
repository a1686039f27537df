"""Command-line interface: ``geo`` (also ``python -m geo``).

One module per group of commands, registered on :data:`geo.cli.common.app` in
the order ``geo --help`` lists them: the whole job (:mod:`~geo.cli.job`),
indices (:mod:`~geo.cli.index`), single analyses (:mod:`~geo.cli.analyses`),
and presenting a run (:mod:`~geo.cli.present`). Failures are handled in
:mod:`~geo.cli.common`.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from geo.cli.common import app

# the commands register as these modules load, in the order `geo --help` lists them
# isort: off
from geo.cli import job  # noqa: F401
from geo.cli import index  # noqa: F401
from geo.cli import analyses  # noqa: F401
from geo.cli import present  # noqa: F401
# isort: on

__all__ = ["app", "entry", "main"]


def main() -> None:
    """Run the ``geo`` command line; it ends with ``SystemExit``, as any click program."""
    app()


def entry() -> None:
    """Entry point of the ``geo`` command and ``python -m geo``: :func:`main`, then a quick exit.

    Tearing the interpreter down (freeing every module and object) takes over a
    second after a run. By the time :func:`main` returns every output is
    written and closed, so the process ends once the exit handlers (threading's,
    then logging's and multiprocessing's) and any non-daemon thread have finished. :func:`main`
    itself ends normally, for callers in a long-lived process.
    """
    import atexit
    import threading

    try:
        main()
        code: Any = 0
    except SystemExit as stop:
        code = stop.code
    if code is None:
        code = 0
    elif not isinstance(code, int):  # sys.exit("message"): print it, exit 1, as Python does
        print(code, file=sys.stderr)
        code = 1
    # the interpreter's own order: threading's exit callbacks (they stop, e.g., the worker
    # threads of joblib's process pool, which HDBSCAN uses at scale), then the join of the
    # non-daemon threads, then atexit. Joining first waited for those threads for ever.
    threading._shutdown()
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe (geo ... | head): nothing left to say
            pass
    os._exit(code)
