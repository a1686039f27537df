"""Benchmark: ``geo validate`` on a large Excel-saved GBK register.

Writes a register the way a planning institute receives one (GBK, CRLF,
Chinese headers 企业名称 / 统一社会信用代码 / 行业门类 / 行业代码 / 所属区县 /
经度 / 纬度 / 从业人员 / 注册资本 / 成立日期, GCJ-02 positions, codes with
their leading zeros stripped, 1 % of firms on geocoder fallback points, a few
bad rows), then runs ``geo validate`` on it in a child process and prints the
file size, wall time and the child's peak resident memory.

Run: ``python bench/validate_register.py`` (``--rows 1000000`` by default).
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from geo.io.crs import wgs84_to_gcj02
from geo.io.industry import load_sections
from geo.io.seed import generate_firms


def write_register(path: Path, rows: int, seed: int) -> None:
    """Write a damaged GBK register of ``rows`` firms (drawn from the seed population)."""
    rng = np.random.default_rng(seed)
    base = generate_firms(min(rows, 200_000), seed).firms
    pick = rng.integers(0, len(base), rows)
    firms = base.iloc[pick].reset_index(drop=True)
    lon, lat = wgs84_to_gcj02(firms["lon"].to_numpy() + rng.normal(0, 2e-4, rows),
                              firms["lat"].to_numpy() + rng.normal(0, 2e-4, rows))
    sections = dict(zip(load_sections()["section"], load_sections()["name_zh"], strict=True))
    digits = firms["industry_code"].str[1:]
    # Excel stores codes as numbers: 0111 -> 111
    codes = digits.str.lstrip("0")
    fallback = rng.random(rows) < 0.01
    lon = np.where(fallback, 120.209789, np.round(lon, 6))
    lat = np.where(fallback, 30.24692, np.round(lat, 6))
    frame = pd.DataFrame({
        "企业名称": firms["name"].str.replace("合成企业", "企业"),
        "统一社会信用代码": [f"91330100MA{i:08d}" for i in range(rows)],
        "行业门类": firms["section"].map(sections),
        "行业代码": codes,
        "所属区县": "",
        "经度": lon,
        "纬度": lat,
        "从业人员": firms["employees"].round().astype("Int64"),
        "注册资本": [f"{v}万元人民币" for v in rng.integers(10, 5000, rows)],
        "成立日期": [f"{y}/{m}/{d}" for y, m, d in zip(rng.integers(1990, 2025, rows),
                                                    rng.integers(1, 13, rows),
                                                    rng.integers(1, 29, rows), strict=True)],
    })
    bad = rng.choice(rows, size=max(rows // 1000, 1), replace=False)
    frame.loc[bad, "经度"] = np.nan
    frame.to_csv(path, index=False, encoding="gbk", lineterminator="\r\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "register.csv"
        start = time.perf_counter()
        write_register(path, args.rows, args.seed)
        print(f"wrote {args.rows:,} rows ({path.stat().st_size / 2**20:,.0f} MiB GBK) in "
              f"{time.perf_counter() - start:.0f} s")
        start = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-m", "geo", "validate", str(path), "--coords", "gcj02",
             "--lang", "en"],
            capture_output=True, text=True,
        )
        seconds = time.perf_counter() - start
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20
        print(proc.stdout.strip().splitlines()[-12:] and "\n".join(
            proc.stdout.strip().splitlines()[-12:]))
        if proc.returncode not in (0, 1):
            print(proc.stderr)
            raise SystemExit(proc.returncode)
        print(f"geo validate: {args.rows:,} rows in {seconds:.1f} s, peak RSS {peak:.2f} GiB")


if __name__ == "__main__":
    main()
