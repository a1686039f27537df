"""Build ``centres.csv``: the centre points geocoders fall back on, per division.

Source: the PyPI package **cpca 0.5.5** (MIT), file ``cpca/resources/adcodes.csv``
(sha256 pinned below). That table was synced by cpca from the ``adcode`` data set of
Vonng (CC BY 4.0), whose documentation states that all its coordinates are GCJ-02 and
that the centres of the county-level and higher divisions are Amap's (高德地图行政区划),
as of about February 2018. The coordinates are written unchanged (GCJ-02, the
package's 6 decimals); nothing is typed in by hand.

Run from the repository root, either with cpca installed (only its data file is read,
the package is not imported)::

    pip install --no-deps cpca==0.5.5
    python geo/data/geocoder/build_centres.py

or from the downloaded wheel, without installing it::

    pip download --no-deps -d /tmp/cpca cpca==0.5.5
    python geo/data/geocoder/build_centres.py --wheel /tmp/cpca/cpca-0.5.5-py3-none-any.whl

What is written (``adcode,name_zh,level,lon,lat,datum,source``, sorted by adcode):

- every province-, prefecture- and county-level division of the table that has a
  coordinate; the level follows from the 6-digit code (``xx0000`` province, ``xxxx00``
  city, otherwise district, so county-level cities under a province such as 仙桃市 are
  districts);
- the virtual city-level units of the municipalities (``110100 市辖区``, ``500200 县``)
  are named with their province in front (``北京市市辖区``) so that the name is unique;
- Taiwan, Hong Kong and Macau (one province-level row each) are left out: the source
  warns that their coordinates mix WGS84 and GCJ-02.

The script checks the pinned version and checksum, that every point lies in mainland
China, that no adcode repeats and that each district lies near its city's centre, and
prints the counts by level and the Hangzhou rows.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import math
import sys
import zipfile
from collections import Counter
from importlib import metadata
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_OUT = HERE / "centres.csv"

PACKAGE = "cpca"
PACKAGE_VERSION = "0.5.5"
DATA_MEMBER = "cpca/resources/adcodes.csv"
DATA_SHA256 = "66948fa1519ba053f22b8c2d05c897c9b19c44cdc3044e464b52f0143ff418fe"
DATUM = "gcj02"
SOURCE = f"{PACKAGE}=={PACKAGE_VERSION}"
COLUMNS = ["adcode", "name_zh", "level", "lon", "lat", "datum", "source"]

EXCLUDED_PROVINCES = {"71": "台湾", "81": "香港", "82": "澳门"}  # datum mixed in the source
VIRTUAL_NAMES = {"市辖区", "县"}  # city-level placeholders of the municipalities
MAINLAND_BBOX = (73.0, 3.0, 136.0, 54.0)  # lon_min, lat_min, lon_max, lat_max
FAR_FROM_CITY_KM = 800.0  # farther from its city's centre means a broken coordinate


def read_source(wheel: Path | None) -> tuple[str, bytes]:
    """Return a description of where the table came from and its bytes.

    Parameters
    ----------
    wheel : Path or None
        A downloaded ``cpca`` wheel; ``None`` reads the installed distribution.

    Returns
    -------
    tuple of (str, bytes)
        The origin (for the log) and the raw CSV.
    """
    if wheel is not None:
        with zipfile.ZipFile(wheel) as zf:
            meta = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
            version = _version_from_metadata(zf.read(meta).decode("utf-8"))
            raw = zf.read(DATA_MEMBER)
        origin = str(wheel)
    else:
        try:
            dist = metadata.distribution(PACKAGE)
        except metadata.PackageNotFoundError:
            sys.exit(
                f"{PACKAGE} is not installed: `pip install --no-deps {SOURCE}` or pass --wheel PATH"
            )
        version = dist.version
        path = Path(str(dist.locate_file(DATA_MEMBER)))
        raw = path.read_bytes()
        origin = str(path)
    if version != PACKAGE_VERSION:
        sys.exit(f"expected {SOURCE}, found version {version} at {origin}")
    digest = hashlib.sha256(raw).hexdigest()
    if digest != DATA_SHA256:
        sys.exit(f"{DATA_MEMBER} sha256 {digest} differs from the pinned {DATA_SHA256}")
    return origin, raw


def _version_from_metadata(text: str) -> str:
    for line in text.splitlines():
        if line.startswith("Version:"):
            return line.split(":", 1)[1].strip()
    return "unknown"


def level_of(code6: str) -> str:
    """Return ``province``, ``city`` or ``district`` for a 6-digit adcode."""
    if code6[2:] == "0000":
        return "province"
    if code6[4:] == "00":
        return "city"
    return "district"


def build_rows(raw: bytes) -> tuple[list[dict[str, str]], Counter]:
    """Turn the package's table into output rows.

    Parameters
    ----------
    raw : bytes
        ``adcodes.csv`` of the package (12-digit codes, name, longitude, latitude).

    Returns
    -------
    tuple of (list of dict, Counter)
        The rows, sorted by adcode, and counts of the source rows left out, by reason.
    """
    reader = csv.DictReader(io.StringIO(raw.decode("utf-8")))
    records = list(reader)
    names = {r["adcode"][:6]: r["name"] for r in records if r["adcode"].endswith("000000")}
    rows: list[dict[str, str]] = []
    skipped: Counter = Counter()
    seen: set[str] = set()
    for rec in records:
        code12, name = rec["adcode"], rec["name"].strip()
        lon_s, lat_s = rec["longitude"].strip(), rec["latitude"].strip()
        if len(code12) != 12 or not code12.isdigit() or code12[6:] != "000000":
            skipped["not a province/city/county code"] += 1
            continue
        code6 = code12[:6]
        if code6[:2] in EXCLUDED_PROVINCES:
            skipped["Taiwan/Hong Kong/Macau (mixed datum)"] += 1
            continue
        if not lon_s or not lat_s:
            skipped["no coordinate in the source"] += 1
            continue
        lon, lat = float(lon_s), float(lat_s)
        if not (math.isfinite(lon) and math.isfinite(lat)):
            sys.exit(f"{code6} {name}: coordinate {lon_s},{lat_s} is not a number")
        if code6 in seen:
            sys.exit(f"adcode {code6} appears twice in the source")
        seen.add(code6)
        level = level_of(code6)
        if level == "city" and name in VIRTUAL_NAMES:
            name = names.get(code6[:2] + "0000", "") + name
        rows.append(
            {
                "adcode": code6,
                "name_zh": name,
                "level": level,
                "lon": lon_s,
                "lat": lat_s,
                "datum": DATUM,
                "source": SOURCE,
            }
        )
    rows.sort(key=lambda r: r["adcode"])
    return rows, skipped


def haversine_km(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Great-circle distance in kilometres (spherical Earth, R = 6371 km)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(a))


def check(rows: list[dict[str, str]]) -> list[str]:
    """Return the problems found in the rows.

    A problem is a point outside mainland China, or a district farther than
    ``FAR_FROM_CITY_KM`` from its city's centre (the largest real distance is
    about 760 km, 南沙群岛 from 三沙市).
    """
    problems: list[str] = []
    lon0, lat0, lon1, lat1 = MAINLAND_BBOX
    by_code = {r["adcode"]: r for r in rows}
    for r in rows:
        lon, lat = float(r["lon"]), float(r["lat"])
        if not (lon0 <= lon <= lon1 and lat0 <= lat <= lat1):
            problems.append(f"{r['adcode']} {r['name_zh']}: {lon},{lat} outside China")
        if r["level"] == "district":
            city = by_code.get(r["adcode"][:4] + "00")
            if city is not None:
                d = haversine_km(lon, lat, float(city["lon"]), float(city["lat"]))
                if d > FAR_FROM_CITY_KM:
                    problems.append(
                        f"{r['adcode']} {r['name_zh']} is {d:.0f} km from "
                        f"{city['name_zh']}'s centre"
                    )
    return problems


def write_csv(rows: list[dict[str, str]], out: Path) -> None:
    """Write the rows as UTF-8 CSV with Unix line ends."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def main(argv: list[str] | None = None) -> int:
    """Build the table, print the checks, and return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wheel", type=Path, help=f"a downloaded {SOURCE} wheel")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output CSV")
    args = parser.parse_args(argv)

    origin, raw = read_source(args.wheel)
    rows, skipped = build_rows(raw)
    problems = check(rows)
    for p in problems:
        print(p, file=sys.stderr)
    if problems:
        print(f"{len(problems)} problem(s); {args.out} not written", file=sys.stderr)
        return 1
    write_csv(rows, args.out)

    print(f"read {origin}")
    print(f"wrote {len(rows)} rows to {args.out}")
    for level, n in sorted(Counter(r["level"] for r in rows).items()):
        print(f"  {level:<8} {n}")
    for reason, n in sorted(skipped.items()):
        print(f"  left out: {n} ({reason})")
    print("Hangzhou (330100 and 3301xx):")
    for r in rows:
        if r["adcode"].startswith("3301"):
            print("  " + ",".join(r[c] for c in COLUMNS))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
