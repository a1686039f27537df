"""Benchmark: the results pack (report.html, report.docx, tables.xlsx) of a run folder.

Makes the default run (30,000 synthetic firms) into a temporary folder unless
``--run`` names an existing one, then builds the pack ``--repeat`` times and
prints the seconds of each part (reading the run, tables and findings, charts,
HTML, Word, workbook), the sizes of the files and the peak memory. Target:
the pack of the default run in under 15 s. Run: ``python bench/report.py``.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

from geo.outputs import atomic_path
from geo.pipeline import RunConfig, run
from geo.report.data import load_run
from geo.report.document import build_report
from geo.report.html import render_html
from geo.report.word import write_docx
from geo.report.workbook import write_xlsx


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--run", type=Path, help="An existing geo run folder.")
    parser.add_argument("--n", type=int, default=30_000, help="Firms of the run to make.")
    parser.add_argument("--lang", default="zh")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.run
        if folder is None:
            folder = Path(tmp) / "run"
            start = time.perf_counter()
            run(RunConfig(seed_n=args.n, output=folder))
            print(f"geo run --n {args.n:,}: {time.perf_counter() - start:.1f} s (with its pack)")
        out = Path(tmp) / "pack"
        for attempt in range(1, args.repeat + 1):
            times = {}
            start = time.perf_counter()
            data = load_run(folder)
            times["read the run"] = time.perf_counter() - start
            report = build_report(data, args.lang)
            times["tables, findings, charts"] = time.perf_counter() - start - sum(times.values())
            with atomic_path(out / "report.html") as path:
                path.write_text(render_html(report), encoding="utf-8")
            times["report.html"] = time.perf_counter() - start - sum(times.values())
            with atomic_path(out / "report.docx") as path:
                write_docx(report, path)
            times["report.docx"] = time.perf_counter() - start - sum(times.values())
            with atomic_path(out / "tables.xlsx") as path:
                write_xlsx(report, path)
            times["tables.xlsx"] = time.perf_counter() - start - sum(times.values())
            parts = ", ".join(f"{k} {v:.2f} s" for k, v in times.items())
            print(f"pack {attempt}: {sum(times.values()):.2f} s ({parts})")
        for name in ("report.html", "report.docx", "tables.xlsx"):
            print(f"  {name}: {(out / name).stat().st_size / 1e6:.2f} MB")
        print(f"  tables {len(report.tables)}, charts "
              f"{sum(b.kind == 'chart' for s in report.sections for b in s.blocks)}, "
              f"findings {len(report.findings)}")
    print(f"peak memory {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
