"""Hostile and broken input (issue 17): a generated corpus through the CLI, and properties.

``tests/hostile/make_hostile.py`` writes several hundred malformed or hostile
inputs (encodings, delimiters, quoting, workbooks, geometries, coordinate
systems, numbers, names with markup and formulas, database identifiers and
URLs, broken files) with a manifest that says which ``geo`` commands each goes
through and which invariants it must keep. The corpus is generated once per
module into a temporary folder and every command line is run through
``geo.cli.main()`` by ``tests/hostile/driver.py`` (two driver processes, one
interpreter start each; see the driver's docstring for why that is equivalent
to ``python -m geo`` for these checks). One test per case then checks:

- no traceback and an exit status of 0, 1 or 2 (and no hang);
- rows in = mapped + rejected: the firms file, read in-process with
  :func:`geo.io.firms.read_firms`, accounts for exactly the records the generator
  wrote (an independent count), every rejected row has a reason in Chinese and
  English, and bad rows do not sink the file (see ``tests/hostile/README.md``
  for the classes ``clean``, ``resilient``, ``accounting``, ``refused``, ...);
- no unescaped markup in any HTML or KML output, no live formula in any XLSX
  output and no formula-like text cell without a leading ``'`` in any CSV
  output;
- the database password never appears in stdout, stderr or any file;
- inputs are never modified and nothing is written outside the output folder.

A browser test opens the web maps of the markup cases in headless Chromium,
opens every tooltip and popup and checks that no injected script ran. The
Hypothesis tests feed random registers to :func:`geo.io.firms.normalise_firms`
and random text to the escaping helpers (:mod:`geo.safety`) and writers.
"""

from __future__ import annotations

import codecs
import csv
import html
import importlib.util
import io
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
import zipfile
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

HERE = Path(__file__).resolve().parent
HOSTILE = HERE / "hostile"
DRIVER = HOSTILE / "driver.py"
SHARDS = 2
DEFAULT_TIMEOUT = 90  # seconds per run


def _load_generator():
    spec = importlib.util.spec_from_file_location("make_hostile", HOSTILE / "make_hostile.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["make_hostile"] = module
    spec.loader.exec_module(module)
    return module


make_hostile = _load_generator()
CASES = make_hostile.plan()
SECRET = make_hostile.SECRET
SECRET_FORMS = (SECRET, "SEC%52ET")
SIGNATURES = make_hostile.MARKUP_SIGNATURES
FORMULA_PREFIXES = make_hostile.FORMULA_PREFIXES
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


# --------------------------------------------------------------------------- running


def _fill(value: str, case: dict, corpus: Path, out: Path) -> str:
    file = str(corpus / case["file"]) if case.get("file") else ""
    return value.replace("{file}", file).replace("{corpus}", str(corpus)).replace(
        "{out}", str(out))


def _jobs(manifest: list[dict], root: Path) -> list[dict]:
    corpus = root / "corpus"
    jobs = []
    for case in manifest:
        case_dir = root / "runs" / case["id"].replace("/", "__")
        for k, run in enumerate(case["runs"]):
            out = case_dir / str(k)
            out.mkdir(parents=True, exist_ok=True)
            read = None
            if case.get("read") and k == 0:
                read = {key: _fill(v, case, corpus, out) if isinstance(v, str) else v
                        for key, v in case["read"].items()}
            jobs.append({
                "key": f"{case['id']}#{k}",
                "argv": [_fill(a, case, corpus, out) for a in run["argv"]],
                "cwd": str(out), "out": str(out), "corpus": str(corpus) + "/",
                "timeout": run.get("timeout", DEFAULT_TIMEOUT), "read": read,
                "watch": [str(corpus), str(case_dir)],
                "watch_top": [str(root), str(root / "runs")],
            })
    return jobs


def _env() -> dict:
    env = dict(os.environ)
    env.pop("GEO_DEBUG", None)
    # English messages; no line wrapping by rich (a wrapped URL could hide a password)
    env.update({"LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "COLUMNS": "100000",
                "PYTHONIOENCODING": "utf-8"})
    return env


def run_jobs(jobs: list[dict], workdir: Path, shards: int = SHARDS) -> dict[str, dict]:
    """Run the jobs in ``shards`` driver processes; restart a driver that dies or hangs."""
    by_case: dict[str, list[dict]] = defaultdict(list)
    for job in jobs:
        by_case[job["key"].split("#")[0]].append(job)
    queues: list[list[dict]] = [[] for _ in range(shards)]
    for k, case_jobs in enumerate(by_case.values()):
        queues[k % shards].extend(case_jobs)
    results: dict[str, dict] = {}
    running: list[dict] = []

    def launch(index: int, queue: list[dict], attempt: int) -> dict:
        jobs_file = workdir / f"jobs_{index}_{attempt}.json"
        results_file = workdir / f"results_{index}_{attempt}.jsonl"
        log = workdir / f"driver_{index}_{attempt}.log"
        jobs_file.write_text(json.dumps(queue, ensure_ascii=False), encoding="utf-8")
        results_file.touch()
        with open(log, "wb") as handle:
            process = subprocess.Popen(
                [sys.executable, str(DRIVER), str(jobs_file), str(results_file)],
                stdout=handle, stderr=subprocess.STDOUT, env=_env(), start_new_session=True,
            )
        return {"index": index, "queue": queue, "attempt": attempt, "process": process,
                "results": results_file, "offset": 0, "current": None, "log": log}

    for index, queue in enumerate(queues):
        if queue:
            running.append(launch(index, queue, 0))
    by_key = {job["key"]: job for job in jobs}
    while running:
        time.sleep(0.2)
        for shard in list(running):
            with open(shard["results"], encoding="utf-8") as handle:
                handle.seek(shard["offset"])
                chunk = handle.read()
            complete = chunk[: chunk.rfind("\n") + 1]
            shard["offset"] += len(complete.encode("utf-8"))
            for line in complete.splitlines():
                record = json.loads(line)
                if "start" in record:
                    shard["current"] = (record["start"], time.monotonic())
                else:
                    results[record["key"]] = record
                    shard["current"] = None
            done = shard["process"].poll() is not None
            current = shard["current"]
            hung = current is not None and (
                time.monotonic() - current[1] > by_key[current[0]]["timeout"] * 2 + 30)
            if not done and not hung:
                continue
            if hung:
                os.killpg(shard["process"].pid, 9)
                shard["process"].wait()
            remaining = [job for job in shard["queue"] if job["key"] not in results]
            if current is not None and current[0] not in results:
                log = shard["log"].read_text(encoding="utf-8", errors="replace")[-3000:]
                results[current[0]] = {
                    "key": current[0], "exit": None, "timed_out": hung, "crashed": not hung,
                    "stdout": "", "stderr": f"driver {'hung' if hung else 'died'}: {log}",
                    "seconds": None, "changed_inputs": [], "outside_writes": [],
                }
                remaining = [job for job in remaining if job["key"] != current[0]]
            running.remove(shard)
            if remaining and shard["attempt"] < 20:
                running.append(launch(shard["index"], remaining, shard["attempt"] + 1))
            elif remaining:
                for job in remaining:
                    results[job["key"]] = {"key": job["key"], "exit": None, "crashed": True,
                                           "stdout": "", "stderr": "not run: driver gave up",
                                           "changed_inputs": [], "outside_writes": []}
    return results


@pytest.fixture(scope="module")
def corpus_run(tmp_path_factory):
    """Generate the corpus and run every case's commands; return manifest, results, timing."""
    root = tmp_path_factory.mktemp("hostile")
    started = time.perf_counter()
    make_hostile.generate(root / "corpus", CASES)
    generated = time.perf_counter() - started
    manifest = json.loads((root / "corpus" / "manifest.json").read_text(encoding="utf-8"))
    jobs = _jobs(manifest["cases"], root)
    results = run_jobs(jobs, root)
    seconds = time.perf_counter() - started
    report = {"generate_s": round(generated, 1), "total_s": round(seconds, 1),
              "cases": len(manifest["cases"]), "runs": len(jobs)}
    (root / "timing.json").write_text(json.dumps(report), encoding="utf-8")
    (root / "results.json").write_text(json.dumps(results, ensure_ascii=False), encoding="utf-8")
    print(f"\nhostile corpus: {report}")
    return {"root": root, "corpus": root / "corpus",
            "cases": {c["id"]: c for c in manifest["cases"]}, "results": results,
            "jobs": {j["key"]: j for j in jobs}, "timing": report}


# --------------------------------------------------------------------------- output checks


def formula_risk(text: str) -> bool:
    """OWASP CSV injection: text a spreadsheet would evaluate (plain numbers excepted)."""
    return text.startswith(FORMULA_PREFIXES) and _NUMBER.fullmatch(text) is None


def _decode(data: bytes) -> str:
    if data.startswith(codecs.BOM_UTF8):
        return data[3:].decode("utf-8", errors="replace")
    for encoding in ("utf-8", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


def check_html(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8", errors="replace")
    return [f"{path.name}: unescaped markup {sig!r} in the page" for sig in SIGNATURES
            if sig in text]


def _kml_texts(data: bytes, name: str) -> tuple[list[str], list[str]]:
    try:
        tree = ET.fromstring(data)
    except ET.ParseError as exc:
        return [], [f"{name}: not well-formed XML ({exc})"]
    texts = []
    for element in tree.iter():
        texts += [element.text or "", element.tail or "", *element.attrib.values()]
    return texts, []


def check_kml(path: Path) -> list[str]:
    """Markup in the decoded text of a KML (Google Earth renders names and descriptions)."""
    members = []
    if path.suffix.lower() == ".kmz":
        with zipfile.ZipFile(path) as archive:
            members = [(f"{path.name}!{m}", archive.read(m)) for m in archive.namelist()
                       if m.lower().endswith(".kml")]
    else:
        members = [(path.name, path.read_bytes())]
    problems = []
    for name, data in members:
        texts, errors = _kml_texts(data, name)
        problems += errors
        joined = "\n".join(texts)
        problems += [f"{name}: markup {sig!r} in the decoded KML text (a balloon renders it)"
                     for sig in SIGNATURES if sig in joined]
    return problems


def check_csv(path: Path) -> list[str]:
    text = _decode(path.read_bytes())
    try:
        rows = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        return [f"{path.name}: unreadable CSV ({exc})"]
    bad = [cell for row in rows for cell in row if formula_risk(cell)]
    if not bad:
        return []
    return [f"{path.name}: {len(bad)} cell(s) a spreadsheet would run as a formula, "
            f"e.g. {bad[0][:60]!r}"]


_XLSX_NS = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"


def _xlsx_text(element) -> str:
    return "".join(t.text or "" for t in element.iter(f"{_XLSX_NS}t"))


def check_xlsx(path: Path) -> list[str]:
    """Live formulas and unprotected formula-like text in a workbook, read from its XML.

    A cell with an ``<f>`` element is a live formula. A text cell (shared or inline
    string) that a spreadsheet would run if edited must start with ``'`` or carry
    Excel's quotePrefix style.
    """
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        return [f"{path.name}: not a workbook ({exc})"]
    formulas, risky = [], []
    with archive:
        names = archive.namelist()
        shared = []
        if "xl/sharedStrings.xml" in names:
            root = ET.fromstring(archive.read("xl/sharedStrings.xml"))
            shared = [_xlsx_text(si) for si in root.iter(f"{_XLSX_NS}si")]
        quote = []
        if "xl/styles.xml" in names:
            styles = ET.fromstring(archive.read("xl/styles.xml"))
            xfs = styles.find(f"{_XLSX_NS}cellXfs")
            quote = [xf.get("quotePrefix") in ("1", "true") for xf in
                     (xfs.iter(f"{_XLSX_NS}xf") if xfs is not None else [])]
        risky_shared = any(formula_risk(text) for text in shared)
        for name in names:
            if not (name.startswith("xl/worksheets/") and name.endswith(".xml")):
                continue
            sheet = name.rsplit("/", 1)[-1]
            data = archive.read(name)
            # parse only sheets that can hold a problem (large tables are mostly numbers)
            if not (risky_shared or b"inlineStr" in data or re.search(rb"<f[ >/]", data)):
                continue
            for c in ET.fromstring(data).iter(f"{_XLSX_NS}c"):
                ref = f"{sheet}!{c.get('r')}"
                formula = c.find(f"{_XLSX_NS}f")
                if formula is not None:
                    formulas.append(f"{ref}: ={(formula.text or '')[:60]}")
                    continue
                kind = c.get("t")
                if kind == "s":
                    v = c.find(f"{_XLSX_NS}v")
                    text = shared[int(v.text)] if v is not None and v.text else ""
                elif kind == "inlineStr":
                    text = _xlsx_text(c)
                else:
                    continue
                style = int(c.get("s", "0"))
                prefixed = style < len(quote) and quote[style]
                if formula_risk(text) and not prefixed:
                    risky.append(f"{ref}={text[:60]!r}")
    problems = []
    if formulas:
        problems.append(f"{path.name}: {len(formulas)} live formula(s), e.g. {formulas[0]}")
    if risky:
        problems.append(f"{path.name}: {len(risky)} formula-like text cell(s) without a quote "
                        f"prefix, e.g. {risky[0]}")
    return problems


# the password, also when a console wrapped it over lines
_SECRET_RE = re.compile(b"|".join(rb"\s*".join(re.escape(bytes([b])) for b in form.encode())
                                  for form in SECRET_FORMS))


def _contains_secret(data: bytes) -> bool:
    return _SECRET_RE.search(data) is not None


def check_secret_file(path: Path) -> list[str]:
    data = path.read_bytes()
    found = _contains_secret(data)
    if not found and zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as archive:
                found = any(_contains_secret(archive.read(m)) for m in archive.namelist())
        except (zipfile.BadZipFile, OSError):
            pass
    return [f"{path.name}: contains the database password"] if found else []


def check_outputs(out: Path, secrets: bool) -> list[str]:
    problems = []
    for path in sorted(p for p in out.rglob("*") if p.is_file()):
        suffix = path.suffix.lower()
        if suffix in (".html", ".htm"):
            problems += check_html(path)
        elif suffix in (".kml", ".kmz"):
            problems += check_kml(path)
        elif suffix == ".csv":
            problems += check_csv(path)
        elif suffix in (".xlsx", ".xlsm"):
            problems += check_xlsx(path)
        if secrets:
            problems += check_secret_file(path)
    return problems


# --------------------------------------------------------------------------- case checks


def _first_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:300] if lines else ""


def _traceback_tail(text: str) -> str:
    at = text.find("Traceback")
    tail = text[at:].strip().splitlines()
    return " | ".join(tail[-3:])[:600]


def run_problems(case: dict, k: int, result: dict, job: dict) -> list[str]:
    """The universal invariants of one run."""
    run = case["runs"][k]
    label = f"run {k} ({' '.join(run['argv'][:2])})"
    problems = []
    if result.get("crashed"):
        return [f"{label}: the interpreter died: {result['stderr'][-400:]}"]
    if result.get("timed_out"):
        return [f"{label}: no result within {job['timeout']} s"]
    for stream in ("stderr", "stdout"):
        if "Traceback (most recent call last)" in result[stream]:
            problems.append(f"{label}: traceback in {stream}: "
                            f"{_traceback_tail(result[stream])}")
    if result["exit"] not in (0, 1, 2):
        problems.append(f"{label}: exit status {result['exit']}: "
                        f"{_first_line(result['stderr'])}")
    allowed = run.get("expect_exit")
    if allowed and result["exit"] not in allowed and not problems:
        problems.append(f"{label}: exit status {result['exit']}, expected {allowed}: "
                        f"{_first_line(result['stderr'])}")
    # only a run given the password can leak it
    secrets = any(_contains_secret(a.encode()) for a in job["argv"])
    if secrets and any(_contains_secret(result[s].encode()) for s in ("stdout", "stderr")):
        problems.append(f"{label}: the database password is printed: "
                        f"{_first_line(result['stderr'])[:200]}")
    if result.get("changed_inputs"):
        problems.append(f"{label}: input folder changed: {result['changed_inputs'][:3]}")
    if result.get("outside_writes"):
        problems.append(f"{label}: files written outside the output folder: "
                        f"{result['outside_writes'][:3]}")
    problems += [f"{label}: {p}" for p in check_outputs(Path(job["out"]), secrets)]
    return problems


def _norm(name: str | None) -> str:
    return "" if name is None else str(name).strip()


def read_problems(case: dict, read: dict | None, validate: dict | None) -> list[str]:
    """Row accounting and the case's expectation class (firms files)."""
    expect = case["expect"]
    if read is None:
        return []
    status = read["status"]
    if status == "crashed":
        return [f"read_firms raised a non-GeoError: {_traceback_tail(read['traceback'])}"]
    if status == "timeout":
        return ["read_firms did not finish"]
    records = case.get("records", 0)
    records_max = case.get("records_max", records)
    problems = []
    message = read.get("message", "")
    if status == "refused":
        if expect in ("clean", "resilient"):
            problems.append(f"expected the file to be read ({expect}); refused: {message[:300]}")
        hints = case.get("hints") or []
        bare = (read.get("bare", message) + " " + read.get("bare_zh", "")).lower()
        squeezed = re.sub(r"[-_ ]", "", bare)  # utf-16, utf_16 and UTF16 name the same thing
        if expect in ("accounting", "refused") and hints and not any(
                re.sub(r"[-_ ]", "", h.lower()) in squeezed for h in hints):
            problems.append(f"refused without naming the cause ({' / '.join(hints)}): "
                            f"{message[:300]}")
        forbid = [w for w in case.get("forbid") or [] if w.lower() in bare]
        if forbid:
            problems.append(f"misleading error (mentions {forbid}): {message[:300]}")
        if validate and validate.get("exit") not in (2, None):
            problems.append(f"read_firms refused the file but validate exited "
                            f"{validate.get('exit')}")
        return problems
    # read
    summary = read["summary"]
    n_read, n_valid, n_rejected = summary["n_read"], summary["n_valid"], summary["n_rejected"]
    if expect == "refused":
        problems.append(f"expected a clear refusal; read {n_read} rows "
                        f"({n_valid} valid, {n_rejected} rejected)")
    if n_valid + n_rejected != n_read:
        problems.append(f"rows in != mapped + rejected: {n_read} != {n_valid} + {n_rejected}")
    if len(read["kept"]) != n_valid or len(read["rejected"]) != n_rejected:
        problems.append(f"tables disagree with the summary: {len(read['kept'])} kept rows, "
                        f"{len(read['rejected'])} rejected rows")
    kept_rows = Counter(r["row"] for r in read["kept"])
    rejected_rows = Counter(r["row"] for r in read["rejected"])
    both = sorted(set(kept_rows) & set(rejected_rows))
    if both:
        problems.append(f"rows both kept and rejected: {both[:5]}")
    if expect != "refused" and not records <= n_read <= records_max:
        want = records if records == records_max else f"{records}-{records_max}"
        problems.append(f"rows in: {n_read} read, the file has {want} records "
                        f"({n_valid} valid, {n_rejected} rejected; notes: "
                        f"{'; '.join(summary['notes'])[:200]})")
    no_reason = [r["row"] for r in read["rejected"]
                 if not _norm(r["reason_zh"]) or not _norm(r["reason_en"])]
    if no_reason:
        problems.append(f"rejected rows without a reason in both languages: {no_reason[:5]}")
    if expect == "clean" and n_valid != records:
        reasons = Counter(_norm(r["reason_en"]) for r in read["rejected"]).most_common(3)
        problems.append(f"clean file: {n_valid} of {records} rows valid; rejected for {reasons}")
    if expect == "resilient":
        floor = records - case.get("bad_rows", 0)
        if n_valid < floor:
            reasons = Counter(_norm(r["reason_en"])[:80] for r in read["rejected"]).most_common(3)
            problems.append(f"one bad row sinks others: {n_valid} valid, at least {floor} "
                            f"expected; rejected for {reasons}")
    names = case.get("names")
    if names:
        known = {_norm(n) for n in names}
        garbled = [r["name"] for r in read["kept"] if _norm(r["name"]) not in known]
        if garbled:
            problems.append(f"{len(garbled)} kept row(s) with a name the file does not hold "
                            f"(garbled or shifted), e.g. {garbled[0]!r:.80}")
    kept = {r["row"]: r for r in read["kept"]}
    for row, want in (case.get("rows") or {}).items():
        row = int(row)
        is_kept, is_rejected = row in kept, row in rejected_rows
        flagged = is_kept and kept[row]["flag"] not in (None, "", "nan", "None")
        if want == "keep" and not is_kept:
            reason = next((r["reason_en"] for r in read["rejected"] if r["row"] == row),
                          "not in the output")
            problems.append(f"row {row} should be kept; {reason}")
        elif want == "reject" and not is_rejected:
            problems.append(f"row {row} should be rejected; it was "
                            f"{'kept' if is_kept else 'lost'}")
        elif want == "flag_or_reject" and not (is_rejected or flagged):
            problems.append(f"row {row} passes unflagged (employees "
                            f"{kept[row]['employees'] if is_kept else '?'})")
        elif want == "any" and not (is_kept or is_rejected):
            problems.append(f"row {row} is neither kept nor rejected")
    for row, fields in (case.get("values") or {}).items():
        row = int(row)
        if row not in kept or kept[row]["flag"] not in (None, "", "nan", "None"):
            continue
        for name, want in fields.items():
            got = kept[row].get(name)
            same = (got is None) if want is None else (got is not None and math.isclose(
                got, want, rel_tol=1e-9))
            if not same:
                problems.append(f"row {row}: {name} read as {got}, the file says {want}")
    if validate is not None and validate.get("exit") in (0, 1, 2):
        expected_exit = 1 if n_rejected else 0
        if validate["exit"] != expected_exit:
            problems.append(f"validate exited {validate['exit']}, read_firms found "
                            f"{n_rejected} rejected rows")
        found = re.search(r"([\d,]+) rows read: ([\d,]+) valid", validate["stdout"])
        if found and int(found.group(1).replace(",", "")) != n_read:
            problems.append(f"validate printed {found.group(0)!r}, read_firms read {n_read}")
    return problems


def zone_problems(case: dict, results: list[dict], jobs: list[dict], corpus: Path) -> list[str]:
    expect = case["expect"]
    problems = []
    for k, (result, job) in enumerate(zip(results, jobs, strict=True)):
        if result.get("exit") is None:
            continue
        label = f"run {k} ({' '.join(case['runs'][k]['argv'][:2])})"
        if expect == "zones_ok" and result["exit"] != 0:
            problems.append(f"{label}: valid (or repairable) zones refused: "
                            f"{_first_line(result['stderr'])}")
        # export takes any layer; map (zone styles) and index zonal (zones) must say so
        zone_command = case["runs"][k]["argv"][0] in ("map", "index")
        if expect == "zones_wrong_type" and zone_command and result["exit"] == 0:
            text = (result["stdout"] + result["stderr"]).replace(str(corpus), "").replace(
                job["out"], "")
            if not re.search(r"polygon|多边形|面要素", text, re.IGNORECASE):
                problems.append(f"{label}: non-polygon zones accepted without an error or a "
                                f"warning")
    return problems


def case_problems(case: dict, run: dict) -> list[str]:
    results = [run["results"].get(f"{case['id']}#{k}") for k in range(len(case["runs"]))]
    jobs = [run["jobs"][f"{case['id']}#{k}"] for k in range(len(case["runs"]))]
    problems = []
    for k, (result, job) in enumerate(zip(results, jobs, strict=True)):
        if result is None:
            problems.append(f"run {k}: no result")
            continue
        problems += run_problems(case, k, result, job)
    first = results[0] if results else None
    if first is not None and case.get("read"):
        validate = first if case["runs"][0]["argv"][0] == "validate" else None
        problems += read_problems(case, first.get("read"), validate)
    if case["expect"].startswith("zones"):
        problems += zone_problems(case, [r or {} for r in results], jobs, run["corpus"])
    return problems


@pytest.mark.slow
@pytest.mark.parametrize("case_id", [c.id for c in CASES])
def test_hostile_case(corpus_run, case_id):
    case = corpus_run["cases"][case_id]
    problems = case_problems(case, corpus_run)
    assert not problems, f"{case_id} ({case['description']}):\n  " + "\n  ".join(problems)


def test_corpus_size_and_categories():
    counts = Counter(c.category for c in CASES)
    assert len(CASES) >= 200
    for category in ("encodings", "delimiters", "quoting", "sheets", "geometries", "crs",
                     "numbers", "names", "database_identifiers", "secrets"):
        assert counts[category] >= 5, category


def test_generator_is_deterministic(tmp_path):
    """Two plans give the same manifest; text inputs are byte-identical across runs."""
    again = make_hostile.plan()
    assert [c.manifest() for c in again] == [c.manifest() for c in CASES]
    texts = [{k: v for k, v in c.files.items() if isinstance(v, bytes)} for c in again]
    assert texts == [{k: v for k, v in c.files.items() if isinstance(v, bytes)} for c in CASES]


def test_output_checkers_catch_what_they_look_for(tmp_path):
    """The checks themselves: a live formula, an unprotected cell, raw markup, a password."""
    import openpyxl

    book = openpyxl.Workbook()
    book.active.append(["=1+1", "@SUM(A1)", "'=safe", "-3.5", "ok"])
    protected = book.active.cell(row=2, column=1, value="+cmd")
    protected.data_type, protected.quotePrefix = "s", True
    book.save(tmp_path / "bad.xlsx")
    problems = check_xlsx(tmp_path / "bad.xlsx")
    assert any("1 live formula" in p for p in problems), problems
    assert any("1 formula-like text cell" in p and "@SUM" in p for p in problems), problems
    (tmp_path / "bad.csv").write_bytes(
        codecs.BOM_UTF8 + b"name,x\r\n\"a\rb\",1\r\n\"'=ok\",-2\r\nx\r=1+1,3\r\n")
    assert check_csv(tmp_path / "bad.csv")  # the bare CR starts a row whose cell is =1+1
    (tmp_path / "ok.csv").write_text("name,x\r\n'=1+1,-2.5\r\n\"a\rb\",1\r\n",
                                     encoding="utf-8")
    assert check_csv(tmp_path / "ok.csv") == []
    kml = ('<?xml version="1.0"?><kml><Placemark><name>x</name><description><![CDATA['
           '<img src=x onerror=alert(1)>]]></description></Placemark></kml>')
    (tmp_path / "bad.kml").write_text(kml, encoding="utf-8")
    assert check_kml(tmp_path / "bad.kml")
    (tmp_path / "ok.kml").write_text(kml.replace("<![CDATA[<img", "&amp;lt;img").replace(
        "]]>", ""), encoding="utf-8")
    assert check_kml(tmp_path / "ok.kml") == []
    (tmp_path / "page.html").write_text(r'<div>"\u003cimg src=x onerror=alert(1)\u003e"</div>'
                                        '<td>&lt;img src=x onerror=alert(1)&gt;</td>')
    assert check_html(tmp_path / "page.html") == []
    (tmp_path / "page.html").write_text("<td><img src=x onerror=alert(1)></td>")
    assert check_html(tmp_path / "page.html")
    assert _contains_secret(b"postgresql://geo:SEC\n  RET@h/db")
    assert _contains_secret(b"postgresql://geo:SEC%52ET@h/db")
    assert not _contains_secret(b"postgresql://geo:***@h/db")


def test_firms_files_are_in_hangzhou():
    """Ordinary records lie in lon 119-120.5, lat 29.5-30.5 with GB/T 4754-2017 codes."""
    rng = np.random.default_rng(0)
    firms = make_hostile.firms(50, rng)
    assert all(119 <= f.lon <= 120.5 and 29.5 <= f.lat <= 30.5 for f in firms)
    assert {f.code for f in firms} <= set(make_hostile.CODES)
    assert {"C3911", "I6513", "G5431", "C1751"} <= set(make_hostile.CODES)


# --------------------------------------------------------------------------- browser


def _chromium():
    found = [shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")]
    driver = shutil.which("chromedriver")
    chromium = next((f for f in found if f), None)
    return chromium, driver


# markup payloads whose maps are opened in Chromium (one of each kind of vector)
BROWSER_PAYLOADS = ("img_onerror", "svg_onload", "script_close", "anchor_js", "iframe_js",
                    "details_toggle", "cdata_end", "pre_escaped", "formula_markup",
                    "header_payloads", "file_name_payload")
OPEN_EVERYTHING = """
window.__geoxss = window.__geoxss || [];
var record = function (m) { window.__geoxss.push(String(m)); };
window.alert = window.confirm = window.prompt = record;
if (typeof L === "undefined") { return "no-leaflet"; }
var maps = [], layers = [];
for (var key in window) {
  try {
    var v = window[key];
    if (v instanceof L.Map) maps.push(v);
    else if (v instanceof L.Layer) layers.push(v);
  } catch (e) {}
}
var opened = 0;
function walk(layer, f) {
  f(layer);
  if (layer.eachLayer) layer.eachLayer(function (child) { walk(child, f); });
}
maps.forEach(function (m) {
  layers.forEach(function (l) { try { if (!m.hasLayer(l)) m.addLayer(l); } catch (e) {} });
  m.eachLayer(function (top) {
    walk(top, function (l) {
      var at = null;
      try { at = l.getLatLng ? l.getLatLng() : (l.getBounds ? l.getBounds().getCenter() : null); }
      catch (e) { at = null; }
      if (!at) return;
      ["mouseover", "click"].forEach(function (type) {
        try { l.fire(type, {latlng: at, layerPoint: m.latLngToLayerPoint(at),
                            containerPoint: m.latLngToContainerPoint(at),
                            originalEvent: {target: null}}, true); opened++; } catch (e) {}
      });
      try { if (l.getTooltip && l.getTooltip()) { l.openTooltip(at); } } catch (e) {}
      try { if (l.getPopup && l.getPopup()) { l.openPopup(at); } } catch (e) {}
    });
  });
});
return "ok:" + maps.length + ":" + opened;
"""


@pytest.mark.slow
@pytest.mark.browser
def test_no_injected_script_runs_in_the_web_maps(corpus_run):
    """Open the markup cases' maps in Chromium, open every tooltip and popup, watch for alert."""
    pytest.importorskip("selenium")
    chromium, chromedriver = _chromium()
    if not chromium or not chromedriver:
        pytest.skip("needs chromium and chromedriver")
    from selenium import webdriver
    from selenium.common.exceptions import NoAlertPresentException, WebDriverException
    from selenium.webdriver.chrome.service import Service

    pages = []
    for key, job in corpus_run["jobs"].items():
        case_id, k = key.split("#")
        case = corpus_run["cases"][case_id]
        if not case["runs"][int(k)].get("browser"):
            continue
        if not any(f"names/{p}/" in case_id or case_id == f"names/{p}" for p in BROWSER_PAYLOADS):
            continue
        page = Path(job["out"]) / "map.html"
        if page.is_file():
            pages.append((case_id, page))
    if not pages:
        pytest.skip("no web map was written")
    # a page that is vulnerable on purpose: the check must see its script run
    canary = Path(corpus_run["root"]) / "canary.html"
    try:
        import xstatic.pkg.leaflet as xleaflet

        leaflet = (Path(xleaflet.BASE_DIR) / "leaflet.js").read_text(encoding="utf-8")
    except ImportError:
        leaflet = None
    if leaflet is not None:
        canary.write_text(
            "<html><body><div id='m' style='height:300px'></div><script>" + leaflet
            + "</script><script>var map_canary = L.map('m').setView([30.25, 120.15], 10);"
            "var zone_canary = L.polygon([[30.2, 120.1], [30.3, 120.1], [30.3, 120.2]])"
            ".bindTooltip(function () { return '<img src=x onerror=alert(1)>'; })"
            ".addTo(map_canary);</script></body></html>", encoding="utf-8")
        pages.insert(0, ("canary", canary))
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                     "--disable-gpu", "--window-size=1200,900", "--allow-file-access-from-files"):
        options.add_argument(argument)
    browser = webdriver.Chrome(options=options, service=Service(chromedriver))
    problems = []
    try:
        browser.set_page_load_timeout(30)
        browser.execute_cdp_cmd("Network.enable", {})
        browser.execute_cdp_cmd("Network.setBlockedURLs", {"urls": ["http://*", "https://*"]})
        for case_id, page in pages:
            fired = []
            try:
                browser.get(page.as_uri())
            except WebDriverException as exc:
                if "alert" in str(exc).lower():
                    fired.append("alert while loading")
                else:
                    problems.append(f"{case_id}: page did not load: {str(exc)[:120]}")
                    continue
            try:
                alert = browser.switch_to.alert
                fired.append(f"alert while loading: {alert.text}")
                alert.accept()
            except NoAlertPresentException:
                pass
            try:
                state = browser.execute_script(OPEN_EVERYTHING)
            except WebDriverException as exc:
                state = f"script error: {str(exc)[:100]}"
            time.sleep(0.3)
            try:
                alert = browser.switch_to.alert
                fired.append(f"alert dialog: {alert.text}")
                alert.accept()
            except NoAlertPresentException:
                pass
            try:
                fired += browser.execute_script("return window.__geoxss || [];")
            except WebDriverException:
                pass
            if case_id == "canary":
                if not fired:
                    problems.append(f"the check is blind: the canary page's script did not run "
                                    f"({state})")
            elif fired:
                problems.append(f"{case_id}: injected script ran ({fired[:3]})")
            elif not str(state).startswith("ok:"):
                problems.append(f"{case_id}: map could not be inspected ({state})")
    finally:
        browser.quit()
    assert not problems, "\n".join(problems)


# --------------------------------------------------------------------------- PostGIS


@pytest.fixture(scope="module")
def postgis_dsn():
    import glob
    import socket

    bindirs = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
    if not bindirs or not glob.glob("/usr/share/postgresql/*/extension/postgis.control"):
        pytest.skip("PostgreSQL with PostGIS not installed")
    bindir = bindirs[-1]
    root = Path(tempfile.mkdtemp(prefix="geo-hostile-pg-"))
    root.chmod(0o755)
    data, sock = root / "data", root / "sock"
    sock.mkdir()
    prefix = []
    if os.geteuid() == 0:
        if shutil.which("runuser") is None:
            pytest.skip("running as root without runuser")
        shutil.chown(root, "postgres")
        shutil.chown(sock, "postgres")
        prefix = ["runuser", "-u", "postgres", "--"]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]

    def run(*args):
        return subprocess.run([*prefix, *args], check=True, capture_output=True, text=True,
                              timeout=120)

    try:
        run(f"{bindir}/initdb", "-D", str(data), "-A", "trust", "-U", "geo")
        run(f"{bindir}/pg_ctl", "-D", str(data), "-w", "-l", str(root / "log"), "-o",
            f"-p {port} -k {sock} -c listen_addresses=''", "start")
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        shutil.rmtree(root, ignore_errors=True)
        pytest.skip(f"cannot start PostgreSQL: {exc}")
    try:
        psql = [f"{bindir}/psql", "-h", str(sock), "-p", str(port), "-U", "geo", "-d"]
        run(*psql, "postgres", "-c", "CREATE DATABASE geo_hostile")
        run(*psql, "geo_hostile", "-c", "CREATE EXTENSION postgis")
        yield f"postgresql://geo@/geo_hostile?host={sock}&port={port}"
    finally:
        run(f"{bindir}/pg_ctl", "-D", str(data), "-m", "immediate", "stop")
        shutil.rmtree(root, ignore_errors=True)


@pytest.mark.slow
def test_database_identifiers_against_a_real_postgis(postgis_dsn, tmp_path):
    """Long, shared-prefix, reserved and quoted layer/column/schema names: no traceback."""
    corpus = tmp_path / "corpus"
    chosen = [c for c in CASES if c.category == "database_identifiers"]
    make_hostile.generate(corpus, chosen)
    jobs = []
    own_schema = {}
    for k, case in enumerate(c.manifest() for c in chosen):
        file = case.get("file")
        source = str(corpus / file) if file else str(corpus / "common" / "zones_small.geojson")
        schema = case.get("schema", f"hostile_{k}")
        if "schema" not in case:
            own_schema[case["id"]] = schema
        for replace in ("--no-replace", "--replace"):
            out = tmp_path / case["id"].replace("/", "__") / replace
            out.mkdir(parents=True)
            jobs.append({"key": f"{case['id']}{replace}#0", "argv": [
                "export", source, "--to", postgis_dsn, "--schema", schema, replace],
                "cwd": str(out), "out": str(out), "corpus": str(corpus) + "/",
                "timeout": DEFAULT_TIMEOUT, "read": None, "watch": [str(out)],
                "watch_top": []})
    results = run_jobs(jobs, tmp_path, shards=1)
    layers = {c.id: c.params["layers"] for c in chosen}
    problems = []
    for key, result in sorted(results.items()):
        if "Traceback (most recent call last)" in result["stderr"] or result["exit"] not in (0, 2):
            problems.append(f"{key}: exit {result['exit']}: {_traceback_tail(result['stderr'])}"
                            if "Traceback" in result["stderr"] else
                            f"{key}: exit {result['exit']}: {_first_line(result['stderr'])}")
            continue
        # layers in = tables out: no layer silently dropped or overwritten by a name clash
        case_id = key.split("--")[0]
        written = re.search(r"(\d+) tables? written", result["stdout"])
        want = layers[case_id]
        if result["exit"] == 0 and (written is None or int(written.group(1)) != want):
            problems.append(f"{key}: {want} layers, but: {_first_line(result['stdout'])}")
    import psycopg

    with psycopg.connect(postgis_dsn) as connection, connection.cursor() as cursor:
        for case_id, schema in own_schema.items():
            cursor.execute("SELECT count(*) FROM information_schema.tables "
                           "WHERE table_schema = %s", (schema,))
            (count,) = cursor.fetchone()
            if count != layers[case_id]:
                problems.append(f"{case_id}: {layers[case_id]} layers, {count} tables in the "
                                f"database (schema {schema})")
    assert not problems, "\n".join(problems)


# --------------------------------------------------------------------------- properties


PROPERTY_SETTINGS = settings(
    max_examples=120, deadline=None, derandomize=True, database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                           HealthCheck.filter_too_much],
)
PAYLOAD_TEXTS = [v for k, v in make_hostile.PAYLOADS.items() if k != "long_100k"]
# characters openpyxl refuses in cells (XML 1.0); writers must cope with them somehow,
# but the property of the formula rule is about the others
_XML_ILLEGAL = "".join(chr(c) for c in [*range(0, 9), 11, 12, *range(14, 32)])

texts = st.text(max_size=24)
prefixed = st.builds(lambda p, t: p + t, st.sampled_from(
    ["=", "+", "-", "@", "\t", "\r", "'", "<script>", "<img src=x onerror=alert(1)>",
     "javascript:", "]]>", "\u202e", "\u200b", "\x00", "\x1b[31m"]), st.text(max_size=12))
hostile_text = st.one_of(texts, prefixed, st.sampled_from(PAYLOAD_TEXTS))
cell = st.one_of(hostile_text, st.none(), st.integers(-10**18, 10**18),
                 st.floats(allow_nan=True, allow_infinity=True))
codes = st.one_of(
    st.sampled_from(["C3911", "I6513", "G5431", "C1751", "3911", "c3911", "３９１１", "0111",
                     "111", "C9999", "Z1", "", "=C3911", "C39", "C", "纺织业", "制造业", "I",
                     "6513.0", " C3911 ", "C3911C"]),
    texts, cell)


def _coordinate(low: float, high: float):
    return st.one_of(
        st.floats(low, high).map(lambda v: f"{v:.6f}"),
        st.floats(low, high),
        st.sampled_from(["NaN", "nan", "inf", "-inf", "Infinity", "", "abc", "1e400", "120,15",
                         "１２０．１５", "0", "-0", "30.27", "120.15", " 120.15 ", "1e-400"]),
        st.floats(allow_nan=True, allow_infinity=True),
        st.integers(-10**20, 10**20),
        texts, st.none(),
    )


numbers = st.one_of(st.integers(-10, 10**16).map(str), st.sampled_from(
    ["", "NaN", "1,234", "1e15", "-5", "约50人", "１２", "1.2E+03", "inf"]), cell)
ids = st.one_of(st.sampled_from(["1", "1", "2", "", " "]), texts, cell)
record = st.fixed_dictionaries({
    "firm_id": ids, "name": st.one_of(hostile_text, cell), "industry_code": codes,
    "lon": _coordinate(119.0, 120.5), "lat": _coordinate(29.5, 30.5), "employees": numbers,
})
HEADERS = {
    "en": dict(zip(make_hostile.EN, make_hostile.EN, strict=True)),
    "zh": dict(zip(make_hostile.EN, make_hostile.ZH, strict=True)),
}


@pytest.fixture(scope="module")
def districts():
    import shapely

    from geo.io.zones import load_layer

    layer = load_layer("districts")
    # the study area once, not on every example (normalise_firms would union the districts)
    return layer, shapely.union_all(layer.to_crs("EPSG:4326").geometry.to_numpy())


@settings(PROPERTY_SETTINGS, max_examples=80)
@given(rows=st.lists(record, min_size=1, max_size=25), header=st.sampled_from(["en", "zh"]))
def test_normalise_firms_accounts_for_every_row(districts, rows, header):
    """Random registers: only GeoError, and every row is kept or rejected exactly once."""
    from geo.errors import GeoError
    from geo.io.firms import normalise_firms

    frame = pd.DataFrame([{HEADERS[header][k]: v for k, v in r.items()} for r in rows],
                         dtype=object)
    layer, area = districts
    try:
        table = normalise_firms(frame, source="hypothesis", districts=layer, study_area=area)
    except GeoError:
        return
    s = table.summary
    assert s["n_read"] == len(rows)
    assert s["n_valid"] + s["n_rejected"] == s["n_read"]
    assert len(table.firms) == s["n_valid"] and len(table.rejects) == s["n_rejected"]
    kept = list(table.firms["source_row"])
    rejected = list(table.rejects["source_row"])
    assert sorted(kept + rejected) == list(range(2, len(rows) + 2))
    for zh, en in zip(table.rejects["reason_zh"], table.rejects["reason_en"], strict=True):
        assert isinstance(zh, str) and zh.strip() and isinstance(en, str) and en.strip()
    lon = table.firms["lon"].to_numpy(dtype=float)
    lat = table.firms["lat"].to_numpy(dtype=float)
    assert np.isfinite(lon).all() and np.isfinite(lat).all()
    assert ((lon >= -180) & (lon <= 180) & (lat >= -90) & (lat <= 90)).all()
    employees = table.firms["employees"].to_numpy(dtype=float)
    assert not (employees < 0).any()
    if s["n_rejected"]:
        with tempfile.TemporaryDirectory() as tmp:
            path = table.write_rejects(Path(tmp) / "rejects.csv")
            assert path is not None
            assert check_csv(path) == []


def _safety():
    try:
        import geo.safety as safety
    except ImportError:
        pytest.skip("geo.safety (the escaping helpers) does not exist yet")
    return safety


@PROPERTY_SETTINGS
@given(value=st.one_of(hostile_text, st.text()))
def test_escape_html_leaves_no_markup(value):
    safety = _safety()
    if not hasattr(safety, "escape_html"):
        pytest.skip("no geo.safety.escape_html")
    escaped = safety.escape_html(value)
    assert not set("<>\"") & set(escaped)
    assert html.unescape(escaped) == value


@PROPERTY_SETTINGS
@given(value=st.recursive(st.one_of(hostile_text, st.integers(), st.booleans(), st.none()),
                          lambda inner: st.lists(inner, max_size=3)
                          | st.dictionaries(texts, inner, max_size=3), max_leaves=8))
def test_script_json_cannot_close_the_script(value):
    safety = _safety()
    if not hasattr(safety, "script_json"):
        pytest.skip("no geo.safety.script_json")
    text = safety.script_json(value)
    assert "<" not in text and ">" not in text
    assert "\u2028" not in text and "\u2029" not in text
    assert json.loads(text) == value


@PROPERTY_SETTINGS
@given(value=st.one_of(hostile_text, st.text()))
def test_formula_rule_is_at_least_owasp(value):
    safety = _safety()
    if not hasattr(safety, "formula_risk"):
        pytest.skip("no geo.safety.formula_risk")
    if formula_risk(value):
        assert safety.formula_risk(value)


@PROPERTY_SETTINGS
@given(values=st.lists(st.one_of(hostile_text, st.none(), st.integers(), st.floats()),
                       min_size=1, max_size=8),
       column=hostile_text)
def test_formula_neutralising_is_a_prefix_and_complete(values, column):
    """neutralise_formulas: every risky text cell (and name) gets a ' and nothing else changes."""
    safety = _safety()
    if not hasattr(safety, "neutralise_formulas"):
        pytest.skip("no geo.safety.neutralise_formulas")
    table = pd.DataFrame({column: pd.Series(values, dtype=object)})
    out = safety.neutralise_formulas(table)
    (name,) = out.columns
    assert name in (column, "'" + column) and not formula_risk(name)
    for before, after in zip(values, out.iloc[:, 0].tolist(), strict=True):
        if isinstance(before, str):
            assert after == ("'" + before if formula_risk(before) else before)
        elif before is None or (isinstance(before, float) and math.isnan(before)):
            assert after is None or (isinstance(after, float) and math.isnan(after))
        else:
            assert after == before


passwords = st.text(alphabet="abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789!$*-_.~",
                    min_size=6, max_size=16)


@PROPERTY_SETTINGS
@given(password=passwords, form=st.integers(0, 5))
def test_database_urls_are_masked(password, form):
    """geo.redact: a URL's password never survives mask_dsn or redact, in any usual form."""
    from hypothesis import assume

    try:
        import geo.redact as redact
    except ImportError:
        pytest.skip("geo.redact does not exist yet")
    dsn = [
        f"postgresql://geo:{password}@db.example:5432/gis",
        f"postgresql+psycopg://geo:{password}@db.example/gis",
        f"postgres://geo:{password}@[::1]:5432/gis?sslmode=require",
        f"host=db.example port=5432 user=geo password={password} dbname=gis",
        f"postgresql://geo@db.example/gis?password={password}",
        f"postgresql://geo:{password}@/gis?host=/var/run/postgresql",
    ][form]
    assume(password not in dsn.replace(password, "", 1))
    for name in ("mask_dsn", "redact"):
        if hasattr(redact, name):
            text = getattr(redact, name)(f"connection to {dsn} failed"
                                         if name == "redact" else dsn)
            assert password not in text, (name, text)


@settings(PROPERTY_SETTINGS, max_examples=40)
@given(values=st.lists(st.one_of(hostile_text, st.floats(allow_nan=False), st.integers()),
                       min_size=1, max_size=12),
       column=st.one_of(st.just("name"), hostile_text.filter(lambda t: t.strip() != "")))
def test_write_tables_never_writes_a_live_formula(values, column):
    """geo.export.layers.write_tables (xlsx and csv) with hostile text: no formula in the files."""
    from geo.errors import GeoError
    from geo.export.layers import write_tables

    values = [v.translate({ord(c): None for c in _XML_ILLEGAL}) if isinstance(v, str) else v
              for v in values]
    column = column.translate({ord(c): None for c in _XML_ILLEGAL}) or "name"
    table = pd.DataFrame({column: pd.Series(values, dtype=object), "n": range(len(values))})
    with tempfile.TemporaryDirectory() as tmp:
        for suffix in (".xlsx", ".csv"):
            try:
                written = write_tables({"hostile": table}, Path(tmp) / f"t{suffix}")
            except GeoError:
                continue
            for path in written:
                problems = check_xlsx(path) if suffix == ".xlsx" else check_csv(path)
                assert problems == []


@settings(PROPERTY_SETTINGS, max_examples=30)
@given(names=st.lists(hostile_text, min_size=1, max_size=4))
def test_kml_export_carries_no_markup(names):
    """geo.export.layers.export_layers to KML with hostile names: no live markup in any text."""
    import geopandas as gpd
    import shapely

    from geo.errors import GeoError
    from geo.export.layers import export_layers

    names = [n.translate({ord(c): None for c in _XML_ILLEGAL}) for n in names]
    frame = gpd.GeoDataFrame(
        {"zone_id": [str(k) for k in range(len(names))], "name_zh": names,
         "source": names},
        geometry=[shapely.box(120 + k / 10, 30, 120.05 + k / 10, 30.05)
                  for k in range(len(names))], crs="EPSG:4326")
    with tempfile.TemporaryDirectory() as tmp:
        try:
            written = export_layers({"zones": frame}, Path(tmp) / "kml", "kml")
        except GeoError:
            return
        for path in written:
            if path.suffix == ".kml":
                assert check_kml(path) == []
