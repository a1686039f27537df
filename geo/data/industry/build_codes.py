"""Build the full GB/T 4754-2017 code list (``codes_2017.csv``) from an npm package.

Source: the npm package ``element-china-category-data`` 1.0.4 (MIT licence,
https://www.npmjs.com/package/element-china-category-data), a cascader data set
of 《国民经济行业分类》 whose README cites the NBS 2019 amended edition
(GB/T 4754-2017 with amendment No. 1). Its ``src/data.js`` maps each parent
code to ``{child code: Chinese name}``: key ``"0"`` holds the 20 sections, a
section letter its divisions, a division its groups, a group its classes.

Fetch the package with npm's ordinary client (nothing is installed; the
tarball is only read), then run this script from the repository root::

    cd /tmp && npm pack element-china-category-data@1.0.4
    python geo/data/industry/build_codes.py /tmp/element-china-category-data-1.0.4.tgz

The argument may also be the unpacked folder (the one holding ``package.json``).

Output: ``geo/data/industry/codes_2017.csv`` (UTF-8, no BOM) with columns
``code,level,section,name_zh``: ``code`` is the section letter or the digits
(2 for a division, 3 for a group, 4 for a class); ``level`` is ``section``,
``division``, ``group`` or ``class``; rows come level by level in that order,
sorted by code within a level.

Processing, all of it printed when the script runs:

- **Undivided groups get their class.** The package lists classes only for
  groups that are subdivided. In the standard a group that is not subdivided
  still has one class, coded as the group code followed by ``0`` and carrying
  the group's name (e.g. group 161 / class 1610). Those classes are added here.
  Pass ``--no-derived-classes`` to leave them out.
- **Group 403 is added.** The package leaves out group C403 钟表与计时仪器制造
  (clocks, watches and timing instruments; its division 40 jumps from 402 to
  404). The standard has it as an undivided group, so it is added with its
  class 4030; with it the counts are the amended edition's 473 groups and
  1,382 classes.
- Names are stripped of surrounding whitespace and ASCII parentheses become
  full-width ones (the package mixes both, e.g. ``三维（3D)打印``).
- Checks: codes are unique, well formed and nested in their parent; counts are
  compared with the published ones; sections and divisions are compared with
  ``sections.csv`` and ``divisions.csv``; every prefix of ``groups.csv`` must be
  a code of the list. Differences are reported, never corrected: the script
  only fails (exit status 1) when the structure itself is broken.

No package of PyPI, npm or Debian was found that ships the GB/T 4754-2011 list,
so there is no ``codes_2011.csv`` builder here (see README.md).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import re
import sys
import tarfile
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
PACKAGE_NAME = "element-china-category-data"
PACKAGE_VERSION = "1.0.4"
DATA_MEMBER = "src/data.js"
OUTPUT_2017 = HERE / "codes_2017.csv"
# Groups of the standard the package omits: {division: {group: name}}.
SUPPLEMENT = {"40": {"403": "钟表与计时仪器制造"}}

LEVELS = ("section", "division", "group", "class")
CODE_PATTERNS = {
    "section": re.compile(r"[A-T]"),
    "division": re.compile(r"\d{2}"),
    "group": re.compile(r"\d{3}"),
    "class": re.compile(r"\d{4}"),
}
# Published totals: the 2017 edition as issued and as cited for the 2019 amendment.
PUBLISHED_COUNTS = {
    "GB/T 4754-2017": {"section": 20, "division": 97, "group": 473, "class": 1380},
    "GB/T 4754-2017 + amendment No. 1 (2019)": {
        "section": 20,
        "division": 97,
        "group": 473,
        "class": 1382,
    },
}


def read_package(source: Path) -> tuple[dict, dict[str, dict[str, str]]]:
    """Read ``package.json`` and the parsed ``src/data.js`` of the npm package.

    Parameters
    ----------
    source : Path
        The ``.tgz`` made by ``npm pack`` or the unpacked package folder.

    Returns
    -------
    tuple of dict
        The package metadata and the data object (parent code to children).
    """
    if source.is_dir():
        meta_text = (source / "package.json").read_text(encoding="utf-8")
        data_text = (source / DATA_MEMBER).read_text(encoding="utf-8")
    else:
        with tarfile.open(source, "r:gz") as tar:

            def member(name: str) -> str:
                handle = tar.extractfile(f"package/{name}")
                if handle is None:
                    raise SystemExit(f"{source}: package/{name} is missing")
                return handle.read().decode("utf-8")

            meta_text = member("package.json")
            data_text = member(DATA_MEMBER)
    # data.js is "module.exports = {...}" with every key and value quoted: JSON.
    start = data_text.index("{")
    body = data_text[start:].strip().rstrip(";")
    return json.loads(meta_text), json.loads(body)


def clean_name(name: str) -> str:
    """Strip whitespace and turn ASCII parentheses into full-width ones.

    Parameters
    ----------
    name : str
        A name as given in the package.

    Returns
    -------
    str
        The cleaned name.
    """
    return name.strip().replace("(", "（").replace(")", "）")


def build_rows(
    data: dict[str, dict[str, str]], derive_classes: bool
) -> tuple[list[dict[str, str]], list[str], list[str]]:
    """Flatten the package's tree into rows, checking its structure.

    Parameters
    ----------
    data : dict
        Parent code to ``{child code: name}`` as in ``src/data.js``.
    derive_classes : bool
        Add the class ``<group>0`` for every group the package does not subdivide.

    Returns
    -------
    rows : list of dict
        One row per code with ``code``, ``level``, ``section``, ``name_zh``.
    derived : list of str
        The class codes that were derived.
    errors : list of str
        Structural problems (empty when the tree is sound).
    """
    rows: list[dict[str, str]] = []
    derived: list[str] = []
    errors: list[str] = []
    seen: set[str] = set()
    used_parents = {"0"}

    def add(code: str, level: str, section: str, name: str) -> None:
        if not CODE_PATTERNS[level].fullmatch(code):
            errors.append(f"{level} code {code!r} is malformed")
        if code in seen:
            errors.append(f"code {code} appears twice")
        if not name.strip():
            errors.append(f"code {code} has no name")
        seen.add(code)
        rows.append({"code": code, "level": level, "section": section, "name_zh": name})

    for section, section_name in data["0"].items():
        add(section, "section", section, clean_name(section_name))
        used_parents.add(section)
        for division, division_name in data.get(section, {}).items():
            add(division, "division", section, clean_name(division_name))
            used_parents.add(division)
            if division not in data:
                errors.append(f"division {division} has no groups")
            for group, group_name in data.get(division, {}).items():
                if not group.startswith(division):
                    errors.append(f"group {group} is listed under division {division}")
                add(group, "group", section, clean_name(group_name))
                used_parents.add(group)
                classes = data.get(group)
                if classes is None:
                    if derive_classes:
                        add(group + "0", "class", section, clean_name(group_name))
                        derived.append(group + "0")
                    continue
                for klass, class_name in classes.items():
                    if not klass.startswith(group):
                        errors.append(f"class {klass} is listed under group {group}")
                    add(klass, "class", section, clean_name(class_name))
    for parent in sorted(set(data) - used_parents):
        errors.append(f"entry {parent!r} hangs under no listed code")
    rows.sort(key=lambda row: (LEVELS.index(row["level"]), row["code"]))
    return rows, derived, errors


def compare_with_bundled(rows: list[dict[str, str]]) -> list[str]:
    """Compare sections and divisions with ``sections.csv``/``divisions.csv``.

    Also checks that every prefix of ``groups.csv`` is a code of the list.

    Parameters
    ----------
    rows : list of dict
        Rows from :func:`build_rows`.

    Returns
    -------
    list of str
        One line per difference.
    """
    by_code = {row["code"]: row for row in rows}
    notes = []
    with open(HERE / "sections.csv", encoding="utf-8", newline="") as handle:
        for rec in csv.DictReader(handle):
            row = by_code.get(rec["section"])
            if row is None:
                notes.append(f"section {rec['section']}: missing from the package")
            elif row["name_zh"] != rec["name_zh"]:
                notes.append(
                    f"section {rec['section']}: sections.csv {rec['name_zh']!r}, "
                    f"package {row['name_zh']!r}"
                )
    with open(HERE / "divisions.csv", encoding="utf-8", newline="") as handle:
        divisions = {rec["division"]: rec for rec in csv.DictReader(handle)}
    for code, rec in divisions.items():
        row = by_code.get(code)
        if row is None:
            notes.append(f"division {code}: missing from the package")
            continue
        if row["section"] != rec["section"]:
            notes.append(
                f"division {code}: section {rec['section']} in divisions.csv, "
                f"{row['section']} in the package"
            )
        if row["name_zh"] != rec["name_zh"]:
            notes.append(
                f"division {code}: divisions.csv {rec['name_zh']!r}, package {row['name_zh']!r}"
            )
    extra = sorted(
        r["code"] for r in rows if r["level"] == "division" and r["code"] not in divisions
    )
    notes += [f"division {code}: in the package, not in divisions.csv" for code in extra]
    with open(HERE / "groups.csv", encoding="utf-8", newline="") as handle:
        for rec in csv.DictReader(handle):
            if rec["code_prefix"] not in by_code:
                notes.append(f"groups.csv prefix {rec['code_prefix']}: not a code of the list")
    return notes


def gaps_in_numbering(rows: list[dict[str, str]]) -> list[str]:
    """List groups whose number skips within a division (possible omissions).

    Gaps are normal (``9`` is kept for "other"), so this is only a hint to
    check against the printed standard.

    Parameters
    ----------
    rows : list of dict
        Rows from :func:`build_rows`.

    Returns
    -------
    list of str
        ``"<division>: <digits present>"`` for divisions with an inner gap below 9.
    """
    digits: dict[str, list[int]] = {}
    for row in rows:
        if row["level"] == "group":
            digits.setdefault(row["code"][:2], []).append(int(row["code"][2]))
    hints = []
    for division, present in sorted(digits.items()):
        below_nine = sorted(d for d in present if d != 9)
        if below_nine and below_nine != list(range(below_nine[0], below_nine[-1] + 1)):
            hints.append(f"{division}: {''.join(map(str, sorted(present)))}")
    return hints


def write_csv(rows: list[dict[str, str]], path: Path) -> None:
    """Write the rows as UTF-8 CSV without BOM, with LF line ends.

    Parameters
    ----------
    rows : list of dict
        Rows from :func:`build_rows`.
    path : Path
        The output file.
    """
    buffer = io.StringIO()
    writer = csv.DictWriter(
        buffer, fieldnames=["code", "level", "section", "name_zh"], lineterminator="\n"
    )
    writer.writeheader()
    writer.writerows(rows)
    path.write_text(buffer.getvalue(), encoding="utf-8", newline="")


def main(argv: list[str] | None = None) -> int:
    """Build ``codes_2017.csv`` and print the checks.

    Parameters
    ----------
    argv : list of str, optional
        Command-line arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        0 on success, 1 if the package's structure is broken.
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("package", type=Path, help="npm pack tarball or unpacked folder")
    parser.add_argument("--output", type=Path, default=OUTPUT_2017)
    parser.add_argument(
        "--no-derived-classes",
        action="store_true",
        help="do not add class <group>0 for undivided groups",
    )
    args = parser.parse_args(argv)

    meta, data = read_package(args.package)
    if meta.get("name") != PACKAGE_NAME:
        print(f"error: {args.package} is {meta.get('name')!r}, not {PACKAGE_NAME}")
        return 1
    if meta.get("version") != PACKAGE_VERSION:
        print(f"warning: built for {PACKAGE_VERSION}, got {meta.get('version')}; check the diff")

    for division, groups in SUPPLEMENT.items():
        for group, name in groups.items():
            if group not in data.get(division, {}):
                data.setdefault(division, {})[group] = name
                print(f"  added group {group} {name} (missing from the package)")
    rows, derived, errors = build_rows(data, derive_classes=not args.no_derived_classes)
    for error in errors:
        print(f"error: {error}")
    if errors:
        return 1

    counts = Counter(row["level"] for row in rows)
    print(
        f"{PACKAGE_NAME} {meta.get('version')}: "
        + ", ".join(f"{counts[level]} {level}" for level in LEVELS)
    )
    print(f"  classes derived for undivided groups: {len(derived)}")
    for edition, published in PUBLISHED_COUNTS.items():
        diff = {lvl: counts[lvl] - n for lvl, n in published.items() if counts[lvl] != n}
        print(
            f"  vs {edition}: "
            + (", ".join(f"{k} {v:+d}" for k, v in diff.items()) if diff else "counts agree")
        )
    hints = gaps_in_numbering(rows)
    if hints:
        print(
            "  divisions whose group numbers skip (check against the standard): " + "; ".join(hints)
        )
    notes = compare_with_bundled(rows)
    print(
        "  against sections.csv / divisions.csv / groups.csv: "
        + ("no differences" if not notes else f"{len(notes)} difference(s)")
    )
    for note in notes:
        print(f"    {note}")

    write_csv(rows, args.output)
    print(f"wrote {args.output} ({len(rows)} rows)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
