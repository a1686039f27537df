"""Run many ``geo`` command lines in one interpreter (used by ``tests/test_hostile.py``).

    python tests/hostile/driver.py JOBS.json RESULTS.jsonl

Starting Python and importing geopandas, folium and the rest costs a few
seconds; a corpus of several hundred runs would spend most of its time there.
This driver imports :mod:`geo.cli` once and, for each job, calls
``geo.cli.main()`` with ``sys.argv`` set as the ``geo`` console script would:

- file descriptors 1 and 2 are redirected to files, so everything the run
  prints (Python, rich, warnings, GDAL and PROJ messages from C) is captured;
- ``SystemExit`` gives the exit status, as the interpreter would;
- any other exception is printed with :func:`traceback.print_exc` into the
  captured stderr and counts as exit status 1, which is what an uncaught
  exception does to ``python -m geo`` (so "no Traceback in stderr" checks the
  same thing as in a separate process);
- ``SIGALRM`` stops a run that takes longer than its timeout;
- typer builds the click command tree from the annotations on every call
  (~0.4 s); the driver memoises ``typer.main.get_command`` so that happens
  once, which changes nothing else about a call.

With a ``read`` entry, the job reports the row accounting of the firms file
from :func:`geo.io.firms.read_firms` in this process: the driver wraps
``geo.io.firms.read_firms`` to keep what the command's own call returned (or
raised), and calls it itself, with the job's arguments, when the command never
got that far. Before and after each run the driver lists the watched folders, so
the test can tell whether an input was changed or a file was written outside
the run's output folder.

Each job writes a ``{"start": key}`` line and then its result line to RESULTS
(flushed), so the caller knows which job was running if the driver dies.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import tempfile
import time
import traceback
from pathlib import Path

TEXT_LIMIT = 300_000  # characters of stdout/stderr kept per run


class RunTimeout(BaseException):
    """Raised by SIGALRM: the run took longer than its timeout."""


def _alarm(_signum, _frame):
    raise RunTimeout()


def snapshot(folders: list[str], tops: list[str]) -> dict[str, tuple[int, int]]:
    """Size and mtime of every file under ``folders`` and every entry directly in ``tops``."""
    state: dict[str, tuple[int, int]] = {}
    for folder in folders:
        for root, _dirs, files in os.walk(folder):
            for name in files:
                path = os.path.join(root, name)
                try:
                    info = os.lstat(path)
                except OSError:
                    continue
                state[path] = (info.st_size, info.st_mtime_ns)
    for top in tops:
        try:
            for entry in os.scandir(top):
                info = entry.stat(follow_symlinks=False)
                state.setdefault(entry.path, (info.st_size, 0))
        except OSError:
            continue
    return state


def _read_text(handle) -> str:
    handle.seek(0)
    data = handle.read()
    text = data.decode("utf-8", errors="replace")
    if len(text) > TEXT_LIMIT:
        text = text[: TEXT_LIMIT // 2] + "\n[...cut...]\n" + text[-TEXT_LIMIT // 2:]
    return text


def run_cli(argv: list[str], cwd: str, timeout: float) -> dict:
    """Run ``geo ARGV`` in this process, capturing fds 1 and 2."""
    import geo.cli

    out_file = tempfile.TemporaryFile()
    err_file = tempfile.TemporaryFile()
    sys.stdout.flush()
    sys.stderr.flush()
    saved_out, saved_err = os.dup(1), os.dup(2)
    os.dup2(out_file.fileno(), 1)
    os.dup2(err_file.fileno(), 2)
    previous = os.getcwd()
    code: int | None = None
    timed_out = False
    started = time.perf_counter()
    try:
        os.chdir(cwd)
        sys.argv = ["geo", *argv]
        signal.setitimer(signal.ITIMER_REAL, timeout)
        try:
            geo.cli.main()
            code = 0
        except SystemExit as exc:
            if exc.code is None:
                code = 0
            elif isinstance(exc.code, int):
                code = exc.code
            else:
                print(exc.code, file=sys.stderr)
                code = 1
        except RunTimeout:
            timed_out = True
        except BaseException:  # noqa: BLE001 - an uncaught exception is what we look for
            traceback.print_exc()
            code = 1
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
    except RunTimeout:  # the alarm fired between the call's end and the reset
        timed_out = code is None
    finally:
        seconds = time.perf_counter() - started
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except Exception:  # noqa: BLE001
            pass
        os.dup2(saved_out, 1)
        os.dup2(saved_err, 2)
        os.close(saved_out)
        os.close(saved_err)
        os.chdir(previous)
    result = {"exit": code, "timed_out": timed_out, "seconds": round(seconds, 3),
              "stdout": _read_text(out_file), "stderr": _read_text(err_file)}
    out_file.close()
    err_file.close()
    return result


_DISTRICTS = None
_ORIGINAL_READ = None
_CAPTURED: list[tuple[str, object, str | None]] = []


def memoise_typer() -> None:
    """Build each Typer app's click command once (typer rebuilds it on every call)."""
    import typer.main

    original = typer.main.get_command
    built: dict[int, object] = {}

    def get_command(typer_instance):
        key = id(typer_instance)
        if key not in built:
            built[key] = original(typer_instance)
        return built[key]

    typer.main.get_command = get_command


def install_capture() -> None:
    """Wrap ``geo.io.firms.read_firms`` so each call's table (or exception) is kept."""
    global _ORIGINAL_READ
    import functools

    import geo.io.firms

    _ORIGINAL_READ = geo.io.firms.read_firms

    @functools.wraps(_ORIGINAL_READ)
    def recording(path, *args, **kwargs):
        try:
            table = _ORIGINAL_READ(path, *args, **kwargs)
        except BaseException as exc:
            _CAPTURED.append((str(path), exc, traceback.format_exc()))
            raise
        _CAPTURED.append((str(path), table, None))
        return table

    geo.io.firms.read_firms = recording


def read_accounting(spec: dict, timeout: float) -> dict:
    """The fate of every row of a firms file, as ``geo validate`` read it."""
    global _DISTRICTS
    from geo.io.zones import load_layer

    captured = [c for c in _CAPTURED if c[0] == spec["path"]]
    if captured:
        return _describe(*captured[0][1:])
    if _DISTRICTS is None:
        _DISTRICTS = load_layer("districts")
    kwargs = {k: spec[k] for k in ("coords", "encoding", "sheet", "columns") if k in spec}
    signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        table, trace = _ORIGINAL_READ(spec["path"], districts=_DISTRICTS, **kwargs), None
    except BaseException as exc:  # noqa: BLE001
        table, trace = exc, traceback.format_exc()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    return _describe(table, trace)


def _describe(table, trace: str | None) -> dict:
    from geo.errors import GeoError

    if isinstance(table, RunTimeout):
        return {"status": "timeout"}
    if isinstance(table, GeoError):
        return {"status": "refused", "type": type(table).__name__,
                "message": table.text("en"), "message_zh": table.text("zh"),
                # without the file name, which may contain any word
                "bare": str(getattr(table, "message", "")),
                "bare_zh": str(getattr(table, "message_zh", "") or "")}
    if isinstance(table, BaseException):
        return {"status": "crashed", "traceback": trace}
    firms = table.firms
    rejects = table.rejects

    def short(value):
        text = None if value is None else str(value)
        return text if text is None or len(text) <= 2000 else text[:2000]

    def number(value):
        try:
            value = float(value)
        except (TypeError, ValueError):
            return None
        return None if value != value else value

    kept = [
        {"row": int(row), "name": short(name), "flag": short(flag), "employees": number(emp),
         "lon": number(lon), "lat": number(lat)}
        for row, name, flag, emp, lon, lat in zip(
            firms["source_row"], firms["name"], firms["flag_en"], firms["employees"],
            firms["lon"], firms["lat"], strict=True)
    ]
    rejected = [
        {"row": int(row), "reason_zh": short(zh), "reason_en": short(en)}
        for row, zh, en in zip(rejects["source_row"], rejects["reason_zh"],
                               rejects["reason_en"], strict=True)
    ]
    summary = {k: table.summary.get(k) for k in ("n_read", "n_valid", "n_rejected", "n_flagged",
                                                 "blank_rows")}
    summary["notes"] = [str(n) for n in table.summary.get("notes", [])]
    return {"status": "read", "summary": summary, "kept": kept, "rejected": rejected}


def main() -> None:
    jobs_path, results_path = sys.argv[1], sys.argv[2]
    jobs = json.loads(Path(jobs_path).read_text(encoding="utf-8"))
    signal.signal(signal.SIGALRM, _alarm)
    os.environ.pop("GEO_DEBUG", None)
    import geo.cli  # noqa: F401 - imported once, before the first job is timed

    install_capture()
    memoise_typer()

    with open(results_path, "a", encoding="utf-8") as results:
        for job in jobs:
            results.write(json.dumps({"start": job["key"], "time": time.time()}) + "\n")
            results.flush()
            before = snapshot(job["watch"], job.get("watch_top", []))
            _CAPTURED.clear()
            result = run_cli(job["argv"], job["cwd"], job["timeout"])
            if job.get("read"):
                result["read"] = ({"status": "timeout"} if result["timed_out"] else
                                  read_accounting(job["read"], job["timeout"]))
            after = snapshot(job["watch"], job.get("watch_top", []))
            allowed = job["out"].rstrip("/") + "/"
            result["changed_inputs"] = sorted(
                p for p in set(before) | set(after)
                if p.startswith(job["corpus"]) and before.get(p) != after.get(p)
            )
            result["outside_writes"] = sorted(
                p for p in set(after) - set(before)
                if not p.startswith(allowed) and not p.startswith(job["corpus"])
            )
            result["key"] = job["key"]
            results.write(json.dumps(result, ensure_ascii=False) + "\n")
            results.flush()


if __name__ == "__main__":
    main()
