"""The job list of ``geo batch``: studies read from TOML or CSV, every field checked."""

from __future__ import annotations

import csv
import io
import math
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from geo.errors import ConfigError

STATISTICS = {"kd": "Kd", "crossk": "cross-L", "m": "M", "clq": "CLQ"}
_ALIASES = {"cross-l": "crossk", "crossl": "crossk", "cross_l": "crossk", "lcross": "crossk"}
SYNTHETIC_SEED = 20261122  # the population geo index draws without a firms file
MANIFEST = "batch_manifest.json"
# field: (default, statistics it applies to (None: all)); a dict default is per statistic
FIELDS: dict[str, tuple[Any, tuple[str, ...] | None]] = {
    "name": (None, None), "statistic": (None, None), "pairs": (None, None),
    "firms": ("", None), "n": (30_000, None), "coords": ("wgs84", None), "columns": ({}, None),
    "year": ("", None), "window": ("study", None), "analysis_crs": ("EPSG:4549", None),
    "level": ("division", None), "type_column": ("", None), "min_firms": (10, None),
    "keep_flagged": (False, None), "nsim": (99, None), "seed": (1, None),
    "rmax": ({"kd": 10_000.0, "crossk": 3000.0, "m": 5000.0}, ("kd", "crossk", "m")),
    "nr": ({"kd": 201, "crossk": 257, "m": 65}, ("kd", "crossk", "m")),
    "weight": ("count", ("kd", "m")), "bandwidth": ("nrd0", ("kd",)),
    "adjust": (1.0, ("kd",)), "correction": ("border", ("crossk",)),
    "envelope": ("pointwise", ("crossk", "m")),
}
_CHOICES = {"level": ("division", "group", "class"), "weight": ("count", "employment"),
            "correction": ("border", "none"), "envelope": ("pointwise", "global")}
_NAME = re.compile(r"^[\w][\w.\-]*$")
_YEAR = re.compile(r"^\s*(\d{4})?\s*(\.\.)?\s*(\d{4})?\s*$")


@dataclass
class BatchJob:
    """One study of a job list, with every field resolved (see :data:`FIELDS`).

    Attributes
    ----------
    name : str
        Output name: the files are ``<name>.csv``, ``<name>_matrix.csv`` ...
    statistic : str
        ``kd``, ``crossk``, ``m`` or ``clq``.
    pairs : str
        The ``--pairs`` specification (a CSV path is resolved beside the job list).
    where : str
        Where the job is written (``row 3`` or ``[[job]] 2``), for messages.
    row : int or None
        Its row in a CSV job list (header = row 1).
    values : dict
        Every other field.
    """

    name: str
    statistic: str
    pairs: str
    where: str
    row: int | None
    values: dict[str, Any] = field(default_factory=dict)

    def __getattr__(self, key: str) -> Any:
        try:
            return self.__dict__["values"][key]
        except KeyError:
            raise AttributeError(key) from None

    def parameters(self) -> dict[str, Any]:
        """Return the job's fields as the manifest records them."""
        return {"name": self.name, "statistic": self.statistic, "pairs": self.pairs,
                **{k: str(v) if isinstance(v, Path) else v for k, v in self.values.items()}}


# ----------------------------------------------------------------- the job list


def read_jobs(path: str | Path) -> list[BatchJob]:
    """Read and check a job list: a TOML file (``[defaults]``, ``[[job]]``) or a CSV file.

    A CSV file has a header of field names and one row per job; an empty cell
    takes the default, and a row whose first cell starts with ``#`` is a
    comment. A TOML file has ``[[job]]`` tables and an optional
    ``[defaults]`` table whose values every job takes unless it sets its own.
    Relative paths (``firms``, a pairs CSV, a window file) are relative to the
    job list's folder. Fields: see :data:`FIELDS` and the README.

    Parameters
    ----------
    path : str or Path
        The job list (``.toml`` or ``.csv``).

    Returns
    -------
    list of BatchJob

    Raises
    ------
    ConfigError
        Naming the file, the row (or ``[[job]]``) and the column of the first problem.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"no job list {path}", zh=f"找不到任务清单 {path}")
    if path.suffix.lower() == ".toml":
        entries = _toml_entries(path)
    elif path.suffix.lower() in (".csv", ".txt"):
        entries = _csv_entries(path)
    else:
        raise ConfigError("a job list is a .toml or .csv file", file=path)
    if not entries:
        raise ConfigError("the job list has no jobs", file=path)
    jobs, seen = [], {}
    for where, row, raw, defaults in entries:
        job = _job(path, where, row, raw, defaults)
        if job.name.lower() in seen:
            raise ConfigError(f"{where}: the name '{job.name}' is also used by "
                              f"{seen[job.name.lower()]}; every job needs its own name",
                              file=path, row=row, column="name")
        seen[job.name.lower()] = where
        jobs.append(job)
    return jobs


def _toml_entries(path: Path) -> list[tuple[str, int | None, dict, dict]]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"not a valid TOML job list: {exc}", file=path) from None
    unknown = sorted(set(data) - {"defaults", "job"})
    if unknown:
        raise ConfigError(f"unknown table '{unknown[0]}': a job list has [defaults] and "
                          "[[job]] tables", file=path)
    defaults, jobs = data.get("defaults", {}), data.get("job", [])
    if not isinstance(defaults, dict) or not isinstance(jobs, list):
        raise ConfigError("write [defaults] once and each job as [[job]]", file=path)
    return [(f"[[job]] {k}", None, job, defaults) for k, job in enumerate(jobs, start=1)]


def _csv_entries(path: Path) -> list[tuple[str, int | None, dict, dict]]:
    data = path.read_bytes()
    for encoding in ("utf-8-sig", "gb18030"):  # Excel on Chinese Windows saves GBK
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise ConfigError("cannot decode the job list; save it as a UTF-8 CSV", file=path)
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if not header:
        raise ConfigError("the job list is empty", file=path)
    header = [h.strip().lower() for h in header]
    entries = []
    for row, cells in enumerate(reader, start=2):  # rows as a spreadsheet numbers them
        if not any(c.strip() for c in cells) or cells[0].lstrip().startswith("#"):
            continue
        if len(cells) > len(header):
            raise ConfigError(f"{len(cells)} cells but {len(header)} column names", file=path,
                              row=row)
        raw = {h: c.strip() for h, c in zip(header, cells, strict=False) if h and c.strip()}
        entries.append((f"row {row}", row, raw, {}))
    return entries


def _job(path: Path, where: str, row: int | None, raw: dict, defaults: dict) -> BatchJob:
    """One job from its own values and the defaults, every field checked."""
    def fail(message: str, column: str | None = None) -> ConfigError:
        return ConfigError(message if row is not None else f"{where}: {message}", file=path,
                           row=row, column=column)

    for source in (defaults, raw):
        for key in source:
            if key not in FIELDS:
                raise fail(f"unknown field '{key}'; fields: {', '.join(FIELDS)}", key)
    for key in ("name", "statistic", "pairs"):
        if str(raw.get(key, defaults.get(key, ""))).strip() == "":
            raise fail(f"{key} is required (every job has a name, a statistic and pairs)",
                       key)
    statistic = str(raw.get("statistic", defaults.get("statistic"))).strip().lower()
    statistic = _ALIASES.get(statistic, statistic)
    if statistic not in STATISTICS:
        raise fail(f"unknown statistic '{statistic}': use kd, crossk, m or clq", "statistic")
    values: dict[str, Any] = {}
    for key, (default, applies) in FIELDS.items():
        if key in ("name", "statistic", "pairs"):
            continue
        if applies is not None and statistic not in applies:
            if key in raw and raw[key] not in ("", None):
                raise fail(f"{key} is for {', '.join(applies)} jobs, not {statistic}", key)
            continue
        given = raw.get(key, defaults.get(key))
        if given is None or (isinstance(given, str) and given.strip() == ""):
            values[key] = {} if key == "columns" else (
                default[statistic] if isinstance(default, dict) else default)
            continue
        values[key] = _value(key, given, path.parent, lambda m, k=key: fail(m, k))
    name = str(raw.get("name", defaults.get("name"))).strip()
    if not _NAME.match(name) or name.startswith("."):
        raise fail(f"the name '{name}' is used for file names: use letters, digits, _ - .",
                   "name")
    pairs = str(raw.get("pairs", defaults.get("pairs"))).strip()
    if Path(pairs).suffix.lower() in (".csv", ".txt"):
        pairs_path = _beside(pairs, path.parent)
        if not pairs_path.is_file():
            raise fail(f"no pairs file {pairs_path}", "pairs")
        pairs = str(pairs_path)
    return BatchJob(name, statistic, pairs, where, row, values)


def _beside(value: str, folder: Path) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else folder / path


def _value(key: str, given: Any, folder: Path, fail: Callable[[str], ConfigError]) -> Any:
    """Check and convert one field."""
    text = str(given).strip()
    if key in ("n", "nr", "min_firms", "nsim", "seed"):
        least = {"n": 1, "nr": 2, "min_firms": 1, "nsim": 0, "seed": 0}[key]
        if isinstance(given, bool) or not re.fullmatch(r"\d+", text) or int(text) < least:
            raise fail(f"{key} must be a whole number of at least {least}, not '{text}'")
        return int(text)
    if key in ("rmax", "adjust"):
        try:
            number = float(text)
        except ValueError:
            number = math.nan
        if isinstance(given, bool) or not (math.isfinite(number) and number > 0):
            raise fail(f"{key} must be a positive number, not '{text}'")
        return number
    if key == "bandwidth":
        if text in ("nrd0", "SJ"):
            return text
        try:
            number = float(text)
        except ValueError:
            number = math.nan
        if not (math.isfinite(number) and number > 0):
            raise fail(f"bandwidth is nrd0, SJ or a positive number of metres, not '{text}'")
        return number
    if key == "keep_flagged":
        if isinstance(given, bool):
            return given
        if text.lower() in ("true", "yes", "1"):
            return True
        if text.lower() in ("false", "no", "0"):
            return False
        raise fail(f"keep_flagged is true or false, not '{text}'")
    if key in _CHOICES:
        if text not in _CHOICES[key]:
            raise fail(f"unknown {key} '{text}': use {', '.join(_CHOICES[key])}")
        return text
    if key == "year":
        match = _YEAR.match(text)
        if not match or not (match[1] or match[3]) or (not match[2] and match[3]):
            raise fail(f"year is 2020, ..2020 (to 2020), 2015.. (from 2015) or 2015..2020, "
                       f"not '{text}'")
        if match[1] and match[3] and int(match[1]) > int(match[3]):
            raise fail(f"the year range '{text}' is empty")
        return text.replace(" ", "")
    if key == "columns":
        pairs = given.items() if isinstance(given, dict) else (
            part.partition("=")[::2] for part in text.split(";") if part.strip())
        out = {}
        for schema, column in pairs:
            if not str(schema).strip() or not str(column).strip():
                raise fail("columns maps schema fields to file columns: "
                           "industry_code=行业小类;lon=经度X")
            out[str(schema).strip()] = str(column).strip()
        return out
    if key == "firms":
        firms = _beside(text, folder)
        if not firms.is_file():
            raise fail(f"no firms file {firms}")
        return firms
    if key == "window" and Path(text).suffix:
        window = _beside(text, folder)
        if not window.is_file():
            raise fail(f"no window file {window}")
        return str(window)
    return text


def year_mask(years: Any, spec: str) -> np.ndarray:
    """Firms whose ``year`` matches ``2020``, ``..2020``, ``2015..`` or ``2015..2020``.

    Parameters
    ----------
    years : array-like of int or NA
        The ``year`` column (firms without a year never match).
    spec : str
        The filter.

    Returns
    -------
    ndarray of bool

    Examples
    --------
    >>> year_mask([2014, 2018, None], "..2018").tolist()
    [True, True, False]
    """
    import pandas as pd

    values = pd.to_numeric(pd.Series(years, dtype="object"), errors="coerce").to_numpy(float)
    first, dots, last = _YEAR.match(spec).groups()
    lo = float(first) if first else -math.inf
    hi = float(last) if last else (math.inf if dots else lo)
    return np.isfinite(values) & (values >= lo) & (values <= hi)


def planned_outputs(job: BatchJob, out: Path) -> list[Path]:
    """Files a job writes in the batch folder (the reports only for a firms file)."""
    names = [".csv", "_matrix.csv", "_matrix.png"] + (["_curves.csv"]
                                                      if job.statistic != "clq" else [])
    if job.firms:
        names += ["_rejects.csv", "_flagged.csv"]
    return [out / f"{job.name}{suffix}" for suffix in names]
