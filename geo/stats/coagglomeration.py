r"""Co-agglomeration of many industry pairs: Kd, cross-L, M and co-location quotients.

Studies of co-agglomeration ask one question of every pair of industries:
Duranton & Overman (2005, 2008) the K-density of each pair against
counterfactuals, Ellison, Glaeser & Kerr (2010) every pair of manufacturing
industries. Here each statistic is computed for a list of type pairs with one
pass over the site pairs for all of them (:mod:`geo.stats.typepairs`), so the cost
hardly grows with the number of pairs.

The counterfactual is the same for every pair and every statistic: the type of
every firm (with its employment for Kd; M keeps weights with the locations, as
dbmss's ``RandomLabeling``) is permuted over all sites, one permutation per
simulation drawn from ``numpy.random.default_rng(seed)`` as
:func:`geo.stats.kdensity.kd_function`, :func:`geo.stats.ripley.kfunction` (with
``relabel="all"``), :func:`geo.stats.mfunction.m_function` and
:func:`geo.stats.colocation.colocation_quotients` draw them. Each pair's result
therefore equals the pair-by-pair function with the same seed.

Types are industries at a level of GB/T 4754 (``division`` such as ``C39``,
``group`` ``C391``, ``class`` ``C3911``) or the values of a column. A pair
list is ``all`` (every pair of types), ``LEFT*RIGHT`` (every type of the
firms matching LEFT with every type of those matching RIGHT, e.g.
``manufacturing*producer_services``; ``×`` also separates) or a CSV file with
columns ``a`` and ``b`` holding either.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numba
import numpy as np
import pandas as pd

from geo.errors import ConfigError
from geo.stats.ripley import FunctionResult, Window, add_envelope

if TYPE_CHECKING:
    import scipy.sparse as sp

LEVELS = ("division", "group", "class")
_CODE_LENGTH = {"division": 3, "group": 4, "class": 5}  # letter + digits
_SEPARATOR = re.compile(r"\s*(?:×|\*|\s[xX]\s)\s*")
HISTOGRAM_MEMORY = 256 * 2**20  # bytes of Kd pair histograms held at once
# the value each statistic's matrix shows, and whether larger is stronger co-agglomeration
MATRIX_VALUE = {"Kd": "Gamma", "cross-L": "l_excess_m", "M": "m_max", "CLQ": "clq"}


@dataclass
class PairStudy:
    """One statistic for many type pairs.

    Attributes
    ----------
    statistic : str
        ``Kd``, ``cross-L``, ``M`` or ``CLQ``.
    table : DataFrame
        One row per pair: ``a``, ``b``, ``n_a``, ``n_b`` and the statistic's
        summaries (see each function).
    results : list of FunctionResult
        The function of each pair (empty for CLQ), in the table's order.
    parameters : dict
        Everything needed to reproduce the study.
    """

    statistic: str
    table: pd.DataFrame
    results: list[FunctionResult] = field(default_factory=list)
    parameters: dict = field(default_factory=dict)

    def matrix(self, value: str | None = None) -> pd.DataFrame:
        """Pair matrix of ``value`` (rows ``a``, columns ``b``; default the headline value)."""
        value = value or MATRIX_VALUE[self.statistic]
        return self.table.pivot_table(index="a", columns="b", values=value, aggfunc="first")

    def strongest(self, k: int = 10) -> pd.DataFrame:
        """Return the ``k`` pairs with the largest headline value (significant ones first)."""
        value = MATRIX_VALUE[self.statistic]
        table = self.table.dropna(subset=[value])
        key = "significant" if "significant" in table else None
        by = ([key] if key else []) + [value]
        return table.sort_values(by, ascending=False, kind="stable").head(k)

    def curves(self) -> pd.DataFrame:
        """Every pair's function as one tidy table: ``a``, ``b``, ``r`` and the curves."""
        frames = []
        for result in self.results:
            frame = result.to_frame()
            frame.insert(1, "a", result.parameters.get("a", result.parameters.get("reference")))
            frame.insert(2, "b", result.parameters.get("b", result.parameters.get("neighbour")))
            frames.append(frame)
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


# ----------------------------------------------------------------- types and pairs


def industry_types(firms: pd.DataFrame, level: str = "division",
                   type_column: str | None = None) -> np.ndarray:
    """Type of each firm: its industry at ``level`` (``C39``), or a column's values.

    Parameters
    ----------
    firms : DataFrame
        Normalised firms (``industry_code`` such as ``C3911``).
    level : {"division", "group", "class"}
        GB/T 4754 level.
    type_column : str, optional
        Take the types from this column instead (raw values as text).

    Returns
    -------
    ndarray of object
        The type, or None where the firm has none at that level.
    """
    if type_column:
        if type_column not in firms.columns:
            raise ConfigError(f"no column '{type_column}' in the enterprise table")
        values = firms[type_column]
        return np.where(values.isna(), None, values.astype(str)).astype(object)
    if level not in LEVELS:
        raise ConfigError(f"unknown level '{level}': use {', '.join(LEVELS)}")
    codes = firms["industry_code"].astype("string")
    length = _CODE_LENGTH[level]
    cut = codes.str[:length]
    ok = codes.notna() & (codes.str.len() >= length)
    return np.where(ok.to_numpy(), cut.fillna("").to_numpy(dtype=object), None).astype(object)


def _side(firms: pd.DataFrame, types: np.ndarray, spec: str, type_column: str | None,
          where: str) -> list[str]:
    """Types of the firms that ``spec`` selects (a group, field, code prefix or a type)."""
    from geo.stats.distance import type_mask

    spec = spec.strip()
    present = types != None  # noqa: E711 (elementwise on an object array)
    if spec.lower() == "all":
        chosen = present
    elif type_column or spec in set(types[present]):
        chosen = types == spec
    else:
        normalised = spec.replace("-", "_").lower() if spec[:1].isalpha() and not \
            spec[1:].isdigit() else spec
        try:
            chosen = type_mask(firms, normalised) & present
        except ConfigError as error:
            raise ConfigError(f"{where}: {error}") from None
    found = sorted(set(types[chosen]))
    if not found:
        raise ConfigError(f"{where}: no firms of type '{spec}'")
    return found


def resolve_pairs(
    spec: str,
    firms: pd.DataFrame,
    types: np.ndarray,
    *,
    type_column: str | None = None,
    min_firms: int = 2,
    symmetric: bool = True,
) -> tuple[list[tuple[str, str]], list[str]]:
    """Resolve a ``--pairs`` specification into type pairs.

    Parameters
    ----------
    spec : str
        ``all``, ``LEFT*RIGHT`` (or ``LEFT×RIGHT``) or a CSV file with columns
        ``a`` and ``b`` (each cell a type or a selection such as ``manufacturing``).
    firms : DataFrame
        Normalised firms.
    types : ndarray
        Type of each firm (:func:`industry_types`).
    type_column : str, optional
        Types come from this column (selections are then its values).
    min_firms : int
        Types with fewer firms are left out (and listed in the notes).
    symmetric : bool
        The statistic is symmetric (Kd): ``(a, b)`` and ``(b, a)`` are one pair.

    Returns
    -------
    tuple
        The pairs ``(a, b)`` in a stable order, and notes on what was left out.
    """
    present = types != None  # noqa: E711
    counts = pd.Series(types[present]).value_counts()
    small = set(counts.index[counts < min_firms])
    raw: list[tuple[str, str]] = []
    path = Path(spec)
    if spec.strip().lower() == "all":
        names = sorted(counts.index)
        raw = [(a, b) for i, a in enumerate(names) for b in names[i + 1:]]
    elif path.suffix.lower() in (".csv", ".txt") or path.is_file():
        raw = _pairs_from_file(path, firms, types, type_column)
    else:
        sides = _SEPARATOR.split(spec.strip())
        if len(sides) != 2 or not all(sides):
            raise ConfigError(f"--pairs '{spec}': use all, LEFT*RIGHT (e.g. "
                              "manufacturing*producer_services) or a CSV file with columns a,b")
        left = _side(firms, types, sides[0], type_column, "--pairs")
        right = _side(firms, types, sides[1], type_column, "--pairs")
        raw = [(a, b) for a in left for b in right if a != b]
    pairs, seen, notes = [], set(), []
    for a, b in raw:
        key = tuple(sorted((a, b))) if symmetric else (a, b)
        if key in seen:
            continue
        seen.add(key)
        if a in small or b in small:
            continue
        pairs.append((a, b))
    if small:
        notes.append(f"types with fewer than {min_firms} firms left out: "
                     + ", ".join(sorted(small)[:20]) + (" ..." if len(small) > 20 else ""))
    if not pairs:
        raise ConfigError(f"--pairs '{spec}': no pair of types with at least {min_firms} "
                          "firms each")
    return pairs, notes


def _pairs_from_file(path: Path, firms: pd.DataFrame, types: np.ndarray,
                     type_column: str | None) -> list[tuple[str, str]]:
    """Pairs listed in a CSV file (columns ``a`` and ``b``), each cell expanded."""
    from geo.io.industry import read_rules_csv

    if not path.is_file():
        raise ConfigError(f"--pairs: no file {path}")
    table = read_rules_csv(path, "pair list")
    columns = {str(c).strip().lower(): c for c in table.columns}
    if "a" not in columns or "b" not in columns:
        raise ConfigError(f"{path}: the pair list needs columns a and b "
                          f"(found {', '.join(map(str, table.columns)) or 'none'})")
    pairs = []
    for row, (a, b) in enumerate(zip(table[columns["a"]], table[columns["b"]], strict=True),
                                 start=2):
        if not str(a).strip() or not str(b).strip():
            raise ConfigError(f"{path}, row {row}: a and b must both be given")
        left = _side(firms, types, str(a), type_column, f"{path}, row {row}, column a")
        right = _side(firms, types, str(b), type_column, f"{path}, row {row}, column b")
        pairs += [(x, y) for x in left for y in right if x != y or (len(left) == len(right) == 1)]
    return pairs


def _permutations(n: int, nsim: int, seed: int):
    """Yield the observed order, then one seeded permutation of the sites per simulation."""
    rng = np.random.default_rng(seed)
    for s in range(1 + nsim):
        yield np.arange(n) if s == 0 else rng.permutation(n)


def _labellings(codes: np.ndarray, nsim: int, seed: int,
                weights: np.ndarray | None = None, start: int = 0,
                stop: int | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """Type code (and weight) of each site in labellings ``start..stop-1``, shape (n, stop - start).

    Labelling 0 is the observed one and ``s >= 1`` the ``s``-th permutation of
    the generator seeded with ``seed``; a range starting later still draws the
    earlier permutations (the generator has no jump), so any range holds
    exactly the columns of the whole.
    """
    n = len(codes)
    stop = 1 + nsim if stop is None else stop
    if not 0 <= start < stop <= 1 + nsim:
        raise ValueError(f"labellings {start}..{stop - 1} outside 0..{nsim}")
    tl = np.empty((n, stop - start), np.int16)
    wl = None if weights is None else np.empty((n, stop - start))
    for s, perm in enumerate(_permutations(n, stop - 1, seed)):
        if s < start:
            continue  # drawn only to advance the generator
        tl[:, s - start] = codes[perm]
        if wl is not None:
            wl[:, s - start] = weights[perm]
    return tl, wl


def _check_sites(x: np.ndarray, y: np.ndarray, types: np.ndarray, nsim: int) -> None:
    if len(x) != len(y) or len(x) != len(types):
        raise ConfigError("x, y and types must have the same length")
    if nsim < 0:
        raise ConfigError("nsim must be 0 or more")


def _sum_of(values: np.ndarray, index, axis: int) -> np.ndarray:
    """Sum the slices ``index`` of ``values`` along ``axis`` one after the other.

    numpy's own reductions switch to pairwise summation when the summed axis
    is the contiguous one (as it is for a one-column block), which rounds
    differently: added in a fixed order, every labelling's numbers are the
    same whichever block it is computed in.
    """
    index = np.atleast_1d(index)
    total = np.take(values, index[0], axis=axis)
    for i in index[1:]:
        total = total + np.take(values, i, axis=axis)
    return total


# ----------------------------------------------------------------- simulation blocks


@dataclass
class StudyPlan:
    """A prepared Kd, cross-L or M study whose labellings can be computed in blocks.

    :func:`kd_plan`, :func:`cross_l_plan` and :func:`m_plan` check the
    inputs and do everything that does not depend on the labellings (types,
    pairs, bandwidths, bins, boundary distances). :func:`study_block` then
    computes the curves of any range of labellings, in any process or on any
    machine, :func:`combine_blocks` puts the ranges together and
    :meth:`finish` adds the bands and the table. Each labelling's curve is
    computed from its own column only, in a fixed order, so the study is the
    same to the last bit however the labellings are split. Nothing here
    stores site pairs: a block needs memory for ``n x (stop - start)``
    labels and its histograms only.

    Attributes
    ----------
    statistic : str
        ``Kd``, ``cross-L`` or ``M``.
    pairs : list of (str, str)
        The requested pairs.
    x, y : ndarray
        Site coordinates (metres).
    codes : ndarray of int64
        Base type code of each site (-1: in no pair).
    nsim, seed : int
        Simulations and their seed.
    r : ndarray
        Distances of the curves.
    composition : _Composition
        Requested pairs over base types.
    options : dict
        The statistic's own settings and prepared arrays.
    """

    statistic: str
    pairs: list[tuple[str, str]]
    x: np.ndarray
    y: np.ndarray
    codes: np.ndarray
    nsim: int
    seed: int
    r: np.ndarray
    composition: _Composition
    options: dict = field(default_factory=dict)

    @property
    def labellings(self) -> int:
        """Number of labellings: the observed one and one per simulation."""
        return 1 + self.nsim

    @property
    def shape(self) -> tuple[int, int, int]:
        """Shape of the study's curves: (pairs, distances, labellings)."""
        return len(self.pairs), len(self.r), self.labellings

    def block(self, start: int, stop: int) -> np.ndarray:
        """Curves of labellings ``start..stop-1``, shape (pairs, distances, stop - start)."""
        return _BLOCKS[self.statistic](self, start, stop)

    def finish(self, curves: np.ndarray) -> PairStudy:
        """Compute the study from the curves of every labelling (:func:`combine_blocks`)."""
        if curves.shape != self.shape:
            raise ValueError(f"curves of shape {curves.shape}, expected {self.shape}")
        return _FINISH[self.statistic](self, curves)


def simulation_blocks(labellings: int, size: int) -> list[tuple[int, int]]:
    """Split labellings ``0..labellings-1`` into ranges of at most ``size``.

    Parameters
    ----------
    labellings : int
        The observed labelling and the simulations (``1 + nsim``).
    size : int
        Largest number of labellings in a block (at least 1).

    Returns
    -------
    list of (int, int)
        ``(start, stop)`` ranges covering every labelling once, in order.

    Examples
    --------
    >>> simulation_blocks(20, 8)
    [(0, 8), (8, 16), (16, 20)]
    """
    if size < 1:
        raise ConfigError("a simulation block needs at least 1 labelling")
    return [(start, min(start + size, labellings)) for start in range(0, labellings, size)]


def study_block(plan: StudyPlan, start: int, stop: int) -> np.ndarray:
    """Compute the curves of labellings ``start..stop-1`` of a prepared study.

    The permutations of that range are drawn again from the plan's seed
    (advancing the generator through the earlier ones), so a block computed
    in another process or on another machine equals the same columns of the
    whole study.

    Parameters
    ----------
    plan : StudyPlan
        The prepared study.
    start, stop : int
        The range of labellings (0 is the observed one).

    Returns
    -------
    ndarray
        Shape (pairs, distances, stop - start).
    """
    return plan.block(start, stop)


def combine_blocks(plan: StudyPlan, blocks) -> np.ndarray:
    """Put the blocks of a study together, each labelling exactly once.

    Parameters
    ----------
    plan : StudyPlan
        The prepared study.
    blocks : iterable of (int, int, ndarray)
        ``(start, stop, curves)`` of each block (any order).

    Returns
    -------
    ndarray
        Curves of shape ``plan.shape``; always a new C-ordered array, so the
        bands computed from it do not depend on how the blocks came.
    """
    curves = np.empty(plan.shape)
    seen = np.zeros(plan.labellings, np.int64)
    for start, stop, values in blocks:
        if values.shape != (*plan.shape[:2], stop - start):
            raise ValueError(f"block {start}..{stop - 1} has shape {values.shape}")
        curves[:, :, start:stop] = values
        seen[start:stop] += 1
    if (seen != 1).any():
        wrong = np.flatnonzero(seen != 1)
        raise ValueError(f"labellings {wrong[:5].tolist()} are missing or given twice")
    return curves


def _run(plan: StudyPlan) -> PairStudy:
    """Compute a prepared study in this process (one block)."""
    whole = plan.block(0, plan.labellings)
    return plan.finish(combine_blocks(plan, [(0, plan.labellings, whole)]))


# ----------------------------------------------------------------- Kd


class _Composition:
    """Requested pairs over base types; a composite type (a name in ``members``) is a union.

    Every site has one base type. A requested pair's site pairs are those of
    the base pairs between its two sides' members, so its histograms are sums
    of base-pair histograms: one pass over the site pairs serves, say,
    manufacturing with producer services and with each of its fields.
    """

    def __init__(self, types: np.ndarray, pairs: list[tuple[str, str]],
                 members: dict[str, tuple[str, ...]] | None, symmetric: bool):
        members = members or {}
        self.sides = [(tuple(members.get(a, (a,))), tuple(members.get(b, (b,))))
                      for a, b in pairs]
        for (a, b), (left, right) in zip(pairs, self.sides, strict=True):
            if a != b and set(left) & set(right):
                raise ConfigError(f"the pair {a}, {b}: the two types overlap "
                                  f"({', '.join(sorted(set(left) & set(right)))})")
        self.names = sorted({t for side in self.sides for group in side for t in group})
        index = {name: k for k, name in enumerate(self.names)}
        self.codes = np.array([index.get(t, -1) if t is not None else -1 for t in types],
                              np.int64)
        base: dict[tuple[int, int], int] = {}
        self.parts: list[list[int]] = []
        for left, right in self.sides:
            parts = []
            for a in left:
                for b in right:
                    key = (index[a], index[b])
                    if symmetric:
                        key = (min(key), max(key))
                    if key not in base:
                        base[key] = len(base)
                    if base[key] not in parts:
                        parts.append(base[key])
            self.parts.append(parts)
        self.base = list(base)
        n = len(self.names)
        self.pidx = np.full((n, n), -1, np.int64)
        for v, (ca, cb) in enumerate(self.base):
            self.pidx[ca, cb] = v
            if symmetric:
                self.pidx[cb, ca] = v

    def side_codes(self, u: int) -> tuple[np.ndarray, np.ndarray]:
        """Return the base codes of the two sides of requested pair ``u``."""
        index = {name: k for k, name in enumerate(self.names)}
        return (np.array([index[t] for t in self.sides[u][0]]),
                np.array([index[t] for t in self.sides[u][1]]))


def coagglomeration_kd(
    x: np.ndarray,
    y: np.ndarray,
    types: np.ndarray,
    pairs: list[tuple[str, str]],
    *,
    members: dict[str, tuple[str, ...]] | None = None,
    weights: np.ndarray | None = None,
    rmax: float = 10_000.0,
    n_r: int = 201,
    bandwidth: str | float = "nrd0",
    adjust: float = 1.0,
    nsim: int = 99,
    seed: int = 0,
    alpha: float = 0.05,
) -> PairStudy:
    """Duranton–Overman K-density of every pair, with global bands, in one pass.

    Each pair's curve is :func:`geo.stats.kdensity.kd_function` (exact estimator)
    with the same seed, its own bandwidth (R's rule on the pair's observed
    distances up to ``2 rmax``, as dbmss) and the study's bin width (the
    finest any pair needs, ``min(h / 25, rmax / 2000)``). A pair ``(a, a)``
    is the univariate Kd of ``a``.

    Parameters
    ----------
    x, y : ndarray
        Coordinates (metres) of all sites.
    types : ndarray
        Type of each site (None: none).
    pairs : list of (str, str)
        Type pairs.
    members : dict, optional
        Composite types: a name used in ``pairs`` and the types it unites
        (``{"producer_services": ("digital", "tech", ...)}``); the two sides
        of a pair may not share a type.
    weights : ndarray, optional
        Employment of each site (pair weights are the products).
    rmax, n_r, bandwidth, adjust, nsim, seed, alpha
        As :func:`geo.stats.kdensity.kd_function`; ``bandwidth`` is ``nrd0``,
        ``SJ`` or metres.

    Returns
    -------
    PairStudy
        Table columns: ``a``, ``b``, ``n_a``, ``n_b``, ``bandwidth_m``,
        ``Gamma`` (localisation), ``Psi`` (dispersion), ``significant``
        (Gamma > 0), ``dispersed`` (Psi > 0), ``localised_from_m`` and
        ``localised_to_m`` (the distances above the upper band), ``kd_peak_m``.
    """
    return _run(kd_plan(x, y, types, pairs, members=members, weights=weights, rmax=rmax,
                        n_r=n_r, bandwidth=bandwidth, adjust=adjust, nsim=nsim, seed=seed,
                        alpha=alpha))


def kd_plan(
    x: np.ndarray,
    y: np.ndarray,
    types: np.ndarray,
    pairs: list[tuple[str, str]],
    *,
    members: dict[str, tuple[str, ...]] | None = None,
    weights: np.ndarray | None = None,
    rmax: float = 10_000.0,
    n_r: int = 201,
    bandwidth: str | float = "nrd0",
    adjust: float = 1.0,
    nsim: int = 99,
    seed: int = 0,
    alpha: float = 0.05,
) -> StudyPlan:
    """Prepare :func:`coagglomeration_kd` (bandwidths and bins) for computing in blocks.

    Parameters are those of :func:`coagglomeration_kd`. The bandwidths take
    one pass over the observed site pairs (within ``2 rmax``) here.

    Returns
    -------
    StudyPlan
        Compute it with :func:`study_block` on ranges of labellings, then
        :func:`combine_blocks` and :meth:`StudyPlan.finish`.
    """
    from geo.stats.kdensity import FINE_BINS_PER_BANDWIDTH, fine_grid

    x, y = np.asarray(x, float), np.asarray(y, float)
    types = np.asarray(types, dtype=object)
    _check_sites(x, y, types, nsim)
    if isinstance(bandwidth, str) and bandwidth not in ("nrd0", "SJ"):
        raise ConfigError(f"unknown bandwidth '{bandwidth}': use nrd0, SJ or a number of metres")
    if not isinstance(bandwidth, str) and not float(bandwidth) > 0:
        raise ConfigError("the bandwidth must be positive")
    if not rmax > 0:
        raise ConfigError("rmax must be positive")
    w = np.ones(len(x)) if weights is None else np.asarray(weights, float)
    if (~np.isfinite(w) | (w < 0)).any():
        raise ConfigError("weights must be finite and non-negative")
    plan = _Composition(types, pairs, members, symmetric=True)
    codes, n_types = plan.codes, len(plan.names)
    typed = codes >= 0
    counts = np.bincount(codes[typed], minlength=n_types)
    sums = np.bincount(codes[typed], weights=w[typed], minlength=n_types)
    squares = np.bincount(codes[typed], weights=w[typed] ** 2, minlength=n_types)
    h, within = _kd_bandwidths(x, y, plan, bandwidth, rmax)
    h = h * adjust
    usable = np.isfinite(h) & (h > 0)
    if not usable.any():
        raise ConfigError(f"no pair has two distances within {2 * rmax:g} m to choose a bandwidth")
    # bins of at most h / 25 for every pair, each a multiple of the finest so one pass serves
    # all; pairs sharing site pairs (composite types) share the finest
    step = float(h[usable].min()) / FINE_BINS_PER_BANDWIDTH
    shared = sum(len(parts) for parts in plan.parts) > len(plan.base)
    factor = np.ones(len(pairs), np.int64)
    if not shared:
        factor[usable] = np.maximum(
            np.floor(h[usable] / FINE_BINS_PER_BANDWIDTH / step + 1e-9), 1).astype(np.int64)
    lengths = np.array([len(fine_grid(hu, rmax, f * step)) if ok else 0
                        for hu, ok, f in zip(h, usable, factor, strict=True)], np.int64)
    base_lengths = np.zeros(len(plan.base), np.int64)
    base_factor = np.ones(len(plan.base), np.int64)
    for u, parts in enumerate(plan.parts):
        base_factor[parts] = factor[u]
        base_lengths[parts] = np.maximum(base_lengths[parts], lengths[u])
    totals, sizes = [], []
    for u in range(len(pairs)):
        left, right = plan.side_codes(u)
        same = np.array_equal(left, right)
        if same:
            totals.append((sums[left].sum() ** 2 - squares[left].sum()) / 2)
        else:
            totals.append(sums[left].sum() * sums[right].sum())
        sizes.append((int(counts[left].sum()), int(counts[right].sum()), bool(same)))
    return StudyPlan("Kd", list(pairs), x, y, codes, nsim, seed, np.linspace(0, rmax, n_r),
                     plan, {
                         "weights": None if weights is None else w, "h": h, "usable": usable,
                         "within": within, "step": step, "factor": factor, "lengths": lengths,
                         "base_lengths": base_lengths, "base_factor": base_factor,
                         "grid": fine_grid(float(h[usable].max()), rmax, step),
                         "totals": totals, "sizes": sizes, "rmax": rmax,
                         "bandwidth": bandwidth, "adjust": adjust, "alpha": alpha})


@numba.njit(cache=True)
def _smooth(hist, step, h, r):
    """:func:`geo.stats.kdensity.smooth_histogram` before dividing by the total, column by column.

    A matrix product (BLAS) may sum in an order that depends on the number
    of columns; here every output adds its bins in their order, so a
    labelling's curve does not depend on the block it is computed in.
    """
    n_r = len(r)
    out = np.zeros((n_r, hist.shape[1]))
    norm = h * math.sqrt(2 * math.pi)
    for j in range(hist.shape[0]):
        d = 0.0 if j == 0 else j * step - step / 2
        for k in range(n_r):
            lo = (r[k] - d) / h
            hi = (r[k] + d) / h
            weight = (math.exp(-0.5 * (lo * lo)) + math.exp(-0.5 * (hi * hi))) / norm
            for s in range(hist.shape[1]):
                out[k, s] += weight * hist[j, s]
    return out


def _kd_block(study: StudyPlan, start: int, stop: int) -> np.ndarray:
    """Kd curves of labellings ``start..stop-1`` (NaN for pairs without a bandwidth)."""
    from geo.stats.typepairs import symmetric_histograms

    o = study.options
    plan = study.composition
    tl, wl = _labellings(study.codes, study.nsim, study.seed, o["weights"], start, stop)
    width = stop - start
    curves = np.full((len(study.pairs), len(study.r), width), np.nan)
    block = max(1, min(width, HISTOGRAM_MEMORY // max(int(o["base_lengths"].sum()) * 8, 1)))
    for first in range(0, width, block):
        cols = slice(first, min(first + block, width))
        hists = symmetric_histograms(study.x, study.y, o["grid"], tl[:, cols], plan.pidx,
                                     o["base_lengths"], None if wl is None else wl[:, cols],
                                     o["base_factor"])
        for u, parts in enumerate(plan.parts):
            if o["usable"][u]:
                hist = sum(hists[v][:o["lengths"][u]] for v in parts)
                curves[u, :, cols] = _smooth(np.ascontiguousarray(hist),
                                             float(o["factor"][u] * o["step"]),
                                             float(o["h"][u]), study.r) / o["totals"][u]
    return curves


def _kd_finish(study: StudyPlan, curves: np.ndarray) -> PairStudy:
    """Kd study from every labelling's curves: bands, Gamma, Psi and the table."""
    o = study.options
    r, nsim, seed, bandwidth = study.r, study.nsim, study.seed, o["bandwidth"]
    h, usable, factor, step = o["h"], o["usable"], o["factor"], o["step"]
    weighted = o["weights"] is not None
    rows, results = [], []
    for u, (a, b) in enumerate(study.pairs):
        n_a, n_b, same = o["sizes"][u]
        row = {"a": a, "b": b, "n_a": n_a, "n_b": n_b,
               "bandwidth_m": float(h[u]) if usable[u] else np.nan,
               "bin_width_m": float(factor[u] * step) if usable[u] else np.nan,
               "distances_within_2rmax": o["within"][u]}
        if not usable[u]:
            rows.append(row | {"note": "fewer than 2 distances within 2 rmax"})
            continue
        result = _kd_result(r, curves[u], a, None if same else b, n_a, None if same else n_b,
                            o["alpha"], {"weighted": weighted, "bandwidth_m": float(h[u]),
                                         "bandwidth_rule": bandwidth
                                         if isinstance(bandwidth, str) else "given",
                                         "adjust": o["adjust"], "estimator": "exact",
                                         "bin_width_m": float(factor[u] * step), "nsim": nsim,
                                         "seed": seed, "n_sites": len(study.x)})
        row["kd_peak_m"] = float(r[np.nanargmax(result.observed)])
        if nsim:
            gamma = result.parameters["Gamma_localisation"]
            psi = result.parameters["Psi_dispersion"]
            above = r[result.observed > result.hi]
            row |= {"Gamma": gamma, "Psi": psi, "significant": gamma > 0, "dispersed": psi > 0,
                    "localised_from_m": float(above.min()) if len(above) else np.nan,
                    "localised_to_m": float(above.max()) if len(above) else np.nan}
        rows.append(row)
        results.append(result)
    return PairStudy("Kd", pd.DataFrame(rows), results, {
        "statistic": "Kd", "pairs": len(study.pairs), "rmax_m": o["rmax"], "n_r": len(r),
        "bandwidth": bandwidth, "adjust": o["adjust"], "finest_bin_m": step, "nsim": nsim,
        "seed": seed, "alpha": o["alpha"], "weighted": weighted, "n_sites": len(study.x),
        "null": "types (with employment) permuted over all sites"})


def _kd_bandwidths(x, y, plan: _Composition, bandwidth, rmax: float) -> tuple[np.ndarray, list]:
    """Bandwidth of each requested pair (before ``adjust``) and its distances within 2 rmax.

    One distance pass serves every requested pair, composite ones included
    (their sums are those of their base pairs); a second only where the
    quartiles may change the bandwidth (:mod:`geo.stats.pair_distances`).
    """
    from geo.stats.bandwidths import bandwidth as rule_bandwidth
    from geo.stats.kdensity import SJ_BINS
    from geo.stats.pair_distances import pair_distance_statistics

    n_pairs = len(plan.parts)
    if not isinstance(bandwidth, str):
        return np.full(n_pairs, float(bandwidth)), [None] * n_pairs
    stats = pair_distance_statistics(x, y, plan.codes, plan.pidx, 2 * rmax,
                                     sj_bins=SJ_BINS if bandwidth == "SJ" else 0,
                                     groups=plan.parts, quartiles="as_needed")
    h = np.array([rule_bandwidth(bandwidth, s) if s["n"] >= 2 else np.nan for s in stats])
    return h, [s["n"] for s in stats]


def _kd_result(r: np.ndarray, curves: np.ndarray, a: str, b: str | None, n_a: int,
               n_b: int | None, alpha: float, parameters: dict) -> FunctionResult:
    """One pair's Kd with its global bands, Gamma and Psi (as :func:`kd_function` returns)."""
    from geo.stats.kdensity import global_bands, localisation

    nsim = curves.shape[1] - 1
    result = FunctionResult(
        "Kd" if b is None else "Kd_bilateral", r, curves[:, 0], np.full(len(r), np.nan),
        parameters={"function": "Kd", "a": a, "b": b, **parameters, "alpha": alpha,
                    "n_a": n_a, "n_b": n_b,
                    "null": "types (with employment) permuted over all sites" if nsim else None},
    )
    if nsim:
        sims = curves[:, 1:].T
        result.theoretical = sims.mean(axis=0)
        result.lo, result.hi = global_bands(sims, alpha)
        result.envelope = "global"
        gamma, psi = localisation(result.observed, result.lo, result.hi)
        result.parameters["Gamma_localisation"] = gamma
        result.parameters["Psi_dispersion"] = psi
    return result


# ----------------------------------------------------------------- cross-L


def _significance(result: FunctionResult, sims: np.ndarray, envelope: str, nrank: int) -> float:
    """Attach the envelope; return the global (maximum absolute deviation) test p-value."""
    add_envelope(result, sims, "global", nrank)
    p_value = result.p_value
    if envelope != "global":
        result.p_value = None
        add_envelope(result, sims, envelope, nrank)
    result.simulations = None  # hundreds of pairs: keep the bands, not every curve
    return float(p_value)


def coagglomeration_cross_l(
    x: np.ndarray,
    y: np.ndarray,
    window: Window,
    types: np.ndarray,
    pairs: list[tuple[str, str]],
    *,
    r: np.ndarray,
    members: dict[str, tuple[str, ...]] | None = None,
    correction: str = "border",
    nsim: int = 99,
    seed: int = 0,
    envelope: str = "pointwise",
    nrank: int = 1,
) -> PairStudy:
    """Cross-type L function of every ordered pair (reference a, neighbour b) in one pass.

    Each pair's curve equals :func:`geo.stats.ripley.kfunction` with ``fun="L"``,
    ``relabel="all"`` and the same seed: spatstat's ``Lcross`` estimator
    (``border``: its binned reduced sample; or ``none``) with ties as spatstat.

    Parameters
    ----------
    x, y : ndarray
        Coordinates (metres) of all sites, inside ``window``.
    window : Window
        Observation window.
    types : ndarray
        Type of each site (None: none).
    pairs : list of (str, str)
        Ordered type pairs.
    r : ndarray
        Distances, evenly spaced from 0.
    members : dict, optional
        Composite types (see :func:`coagglomeration_kd`).
    correction : {"border", "none"}
        Edge correction.
    nsim, seed, envelope, nrank
        As :func:`geo.stats.ripley.kfunction`.

    Returns
    -------
    PairStudy
        Table columns: ``a``, ``b``, ``n_a``, ``n_b``, ``l_excess_m`` (the
        largest ``L(r) - r``), ``r_at_excess_m``, ``above_envelope_m`` and
        ``below_envelope_m`` (the first distance above / below the envelope),
        ``p_value`` (global maximum-absolute-deviation test), ``significant``
        (p <= 0.05 and L above the envelope somewhere).
    """
    return _run(cross_l_plan(x, y, window, types, pairs, r=r, members=members,
                             correction=correction, nsim=nsim, seed=seed, envelope=envelope,
                             nrank=nrank))


def cross_l_plan(
    x: np.ndarray,
    y: np.ndarray,
    window: Window,
    types: np.ndarray,
    pairs: list[tuple[str, str]],
    *,
    r: np.ndarray,
    members: dict[str, tuple[str, ...]] | None = None,
    correction: str = "border",
    nsim: int = 99,
    seed: int = 0,
    envelope: str = "pointwise",
    nrank: int = 1,
) -> StudyPlan:
    """Prepare :func:`coagglomeration_cross_l` (boundary distances) for computing in blocks.

    Parameters are those of :func:`coagglomeration_cross_l`; the window is
    used here only (the plan keeps its area and each site's boundary distance).

    Returns
    -------
    StudyPlan
        Compute it with :func:`study_block`, :func:`combine_blocks` and
        :meth:`StudyPlan.finish`.
    """
    from geo.stats.ripley import _check, _whist_cells

    if correction not in ("border", "none"):
        raise ConfigError(f"correction '{correction}' for many pairs: use border or none "
                          "(translate and isotropic: one pair at a time, geo index crossk)")
    r = _check(correction, r, "spatstat", None)
    x, y = np.asarray(x, float), np.asarray(y, float)
    types = np.asarray(types, dtype=object)
    _check_sites(x, y, types, nsim)
    if not window.contains(x, y).all():
        raise ConfigError("some points lie outside the window")
    same = sorted({a for a, b in pairs if a == b})
    if same:
        raise ConfigError(f"cross-L of a type with itself ({', '.join(same[:5])}): that is "
                          "Ripley's univariate L (geo index crossk without --b)")
    plan = _Composition(types, pairs, members, symmetric=False)
    counts = np.bincount(plan.codes[plan.codes >= 0], minlength=len(plan.names)).astype(float)
    sizes = []
    for u in range(len(pairs)):
        left, right = plan.side_codes(u)
        sizes.append((counts[left].sum(), counts[right].sum()))
    options = {"correction": correction, "envelope": envelope, "nrank": nrank,
               "area": window.area, "sizes": sizes}
    if correction == "border":
        options["boundary"] = window.boundary_distance(x, y)
        options["cell"] = _whist_cells(options["boundary"], r)
    return StudyPlan("cross-L", list(pairs), x, y, plan.codes, nsim, seed, r, plan, options)


def _cross_l_block(study: StudyPlan, start: int, stop: int) -> np.ndarray:
    """Cross-L curves of labellings ``start..stop-1``."""
    from geo.stats.pairs import TIES_LEFT
    from geo.stats.ripley import _reduced_sample
    from geo.stats.typepairs import ordered_histograms

    o, plan, r = study.options, study.composition, study.r
    n_types, n_r, width = len(plan.names), len(r), stop - start
    tl, _ = _labellings(study.codes, study.nsim, study.seed, None, start, stop)
    if o["correction"] == "border":
        cell = o["cell"]
        main, cens = ordered_histograms(study.x, study.y, r, tl, plan.pidx, len(plan.base),
                                        ties=TIES_LEFT, boundary_distance=o["boundary"],
                                        boundary_cell=cell)
        # reference points of each type by the cell of their boundary distance, per labelling
        by_cell = np.zeros((n_types, n_r + 1, width))
        capped = np.minimum(cell, n_r)
        for s in range(width):
            typed = tl[:, s] >= 0
            flat = tl[typed, s].astype(np.int64) * (n_r + 1) + capped[typed]
            by_cell[:, :, s] = np.bincount(flat, minlength=n_types * (n_r + 1)).reshape(
                n_types, n_r + 1)
    else:
        main, _ = ordered_histograms(study.x, study.y, r, tl, plan.pidx, len(plan.base),
                                     ties=TIES_LEFT)
    curves = np.empty((len(study.pairs), n_r, width))
    for u, parts in enumerate(plan.parts):
        left, _ = plan.side_codes(u)
        n_a, n_b = o["sizes"][u]
        with np.errstate(divide="ignore", invalid="ignore"):
            if o["correction"] == "border":
                numerator, denom = _reduced_sample(_sum_of(main, parts, 1),
                                                   _sum_of(cens, parts, 1),
                                                   _sum_of(by_cell, left, 0))
                k = numerator / (n_b / o["area"] * denom)
            else:
                k = np.cumsum(_sum_of(main, parts, 1), axis=0) / (n_a * n_b / o["area"])
            curves[u] = np.sqrt(k / np.pi)
    return curves


def _cross_l_finish(study: StudyPlan, curves: np.ndarray) -> PairStudy:
    """Cross-L study from every labelling's curves: envelopes, tests and the table."""
    o, r, nsim, seed = study.options, study.r, study.nsim, study.seed
    correction, envelope, nrank = o["correction"], o["envelope"], o["nrank"]
    rows, results = [], []
    for u, (a, b) in enumerate(study.pairs):
        n_a, n_b = o["sizes"][u]
        result = FunctionResult(
            "Lcross", r, curves[u, :, 0], r.copy(),
            parameters={"function": "Lcross", "a": a, "b": b, "correction": correction,
                        "ties": "spatstat", "border": "binned" if correction == "border"
                        else None, "nsim": nsim, "seed": seed,
                        "envelope": envelope if nsim else None, "nrank": nrank,
                        "n_a": int(n_a), "n_b": int(n_b), "window_area_m2": o["area"],
                        "null": "random labelling of all points" if nsim else None},
        )
        excess = result.observed - r
        best = int(np.nanargmax(excess)) if np.isfinite(excess).any() else 0
        row = {"a": a, "b": b, "n_a": int(n_a), "n_b": int(n_b),
               "l_excess_m": float(excess[best]), "r_at_excess_m": float(r[best])}
        if nsim:
            p_value = _significance(result, curves[u, :, 1:].T, envelope, nrank)
            above, below = r[result.observed > result.hi], r[result.observed < result.lo]
            row |= {"above_envelope_m": float(above.min()) if len(above) else np.nan,
                    "below_envelope_m": float(below.min()) if len(below) else np.nan,
                    "p_value": p_value, "significant": bool(p_value <= 0.05 and len(above))}
        rows.append(row)
        results.append(result)
    return PairStudy("cross-L", pd.DataFrame(rows), results, {
        "statistic": "cross-L", "pairs": len(study.pairs), "correction": correction,
        "rmax_m": float(r[-1]), "n_r": len(r), "nsim": nsim, "seed": seed,
        "envelope": envelope, "n_sites": len(study.x),
        "null": "random labelling of all points"})


# ----------------------------------------------------------------- M


def coagglomeration_m(
    x: np.ndarray,
    y: np.ndarray,
    types: np.ndarray,
    pairs: list[tuple[str, str]],
    *,
    members: dict[str, tuple[str, ...]] | None = None,
    weights: np.ndarray | None = None,
    r: np.ndarray,
    nsim: int = 99,
    seed: int = 0,
    envelope: str = "pointwise",
    nrank: int = 1,
) -> PairStudy:
    """Marcon–Puech M of every (reference a, neighbour b) pair in one pass.

    Each pair's curve equals :func:`geo.stats.mfunction.m_function` with the same
    seed (types permuted over the sites, weights staying with the locations).

    Parameters
    ----------
    x, y : ndarray
        Coordinates (metres) of all sites.
    types : ndarray
        Type of each site (None: none).
    pairs : list of (str, str)
        (reference, neighbour) pairs.
    members : dict, optional
        Composite types (see :func:`coagglomeration_kd`).
    weights : ndarray, optional
        Weight of each site (employment).
    r : ndarray
        Increasing distances from 0.
    nsim, seed, envelope, nrank
        As :func:`geo.stats.mfunction.m_function`.

    Returns
    -------
    PairStudy
        Table columns: ``a`` (reference), ``b`` (neighbour), ``n_a``, ``n_b``,
        ``m_max`` and ``r_at_max_m``, ``above_envelope_m``, ``p_value``
        (global test), ``significant``.
    """
    return _run(m_plan(x, y, types, pairs, members=members, weights=weights, r=r, nsim=nsim,
                       seed=seed, envelope=envelope, nrank=nrank))


def m_plan(
    x: np.ndarray,
    y: np.ndarray,
    types: np.ndarray,
    pairs: list[tuple[str, str]],
    *,
    members: dict[str, tuple[str, ...]] | None = None,
    weights: np.ndarray | None = None,
    r: np.ndarray,
    nsim: int = 99,
    seed: int = 0,
    envelope: str = "pointwise",
    nrank: int = 1,
) -> StudyPlan:
    """Prepare :func:`coagglomeration_m` for computing in blocks.

    Parameters are those of :func:`coagglomeration_m`.

    Returns
    -------
    StudyPlan
        Compute it with :func:`study_block`, :func:`combine_blocks` and
        :meth:`StudyPlan.finish`.
    """
    x, y = np.asarray(x, float), np.asarray(y, float)
    types = np.asarray(types, dtype=object)
    _check_sites(x, y, types, nsim)
    r = np.asarray(r, float)
    if len(r) < 2 or r[0] != 0 or np.any(np.diff(r) <= 0):
        raise ConfigError("r must start at 0 and increase")
    w = np.ones(len(x)) if weights is None else np.asarray(weights, float)
    if (~np.isfinite(w) | (w < 0)).any():
        raise ConfigError("weights must be finite and non-negative")
    plan = _Composition(types, pairs, members, symmetric=False)
    counts = np.bincount(plan.codes[plan.codes >= 0], minlength=len(plan.names))
    sizes = []
    for u in range(len(pairs)):
        left, right = plan.side_codes(u)
        sizes.append((int(counts[left].sum()), int(counts[right].sum())))
    return StudyPlan("M", list(pairs), x, y, plan.codes, nsim, seed, r, plan, {
        "w": w, "weighted": weights is not None, "sizes": sizes, "envelope": envelope,
        "nrank": nrank})


def _m_block(study: StudyPlan, start: int, stop: int) -> np.ndarray:
    """M curves of labellings ``start..stop-1``."""
    from geo.stats.typepairs import m_sums

    o, plan = study.options, study.composition
    n_types, w, width = len(plan.names), o["w"], stop - start
    # weights stay with the locations: permute the types only
    tl, _ = _labellings(study.codes, study.nsim, study.seed, None, start, stop)
    top, ratio, ratio_w = m_sums(study.x, study.y, study.r, tl, np.array(plan.base, np.int64),
                                 n_types, weights=w)
    weight_of_type = np.empty((n_types, width))
    for s in range(width):
        typed = tl[:, s] >= 0
        weight_of_type[:, s] = np.bincount(tl[typed, s], weights=w[typed], minlength=n_types)
    curves = np.empty((len(study.pairs), len(study.r), width))
    for u, (a, b) in enumerate(study.pairs):
        left, right = plan.side_codes(u)
        bottom = _sum_of(weight_of_type, right, 0)[None, :] * _sum_of(ratio, left, 1)
        if a == b:
            bottom = bottom - _sum_of(ratio_w, left, 1)
        with np.errstate(divide="ignore", invalid="ignore"):
            curves[u] = _sum_of(top, plan.parts[u], 1) / bottom
    return curves


def _m_finish(study: StudyPlan, curves: np.ndarray) -> PairStudy:
    """M study from every labelling's curves: envelopes, tests and the table."""
    o, r, nsim, seed = study.options, study.r, study.nsim, study.seed
    envelope, nrank = o["envelope"], o["nrank"]
    rows, results = [], []
    for u, (a, b) in enumerate(study.pairs):
        n_a, n_b = o["sizes"][u]
        result = FunctionResult(
            "M", r, curves[u, :, 0], np.ones(len(r)),
            parameters={"function": "M", "reference": a, "neighbour": b,
                        "weighted": o["weighted"], "nsim": nsim, "seed": seed,
                        "envelope": envelope if nsim else None,
                        "null": "random labelling (weights stay with locations)"
                        if nsim else None,
                        "n_reference": n_a, "n_neighbour": n_b},
        )
        finite = np.isfinite(result.observed)
        best = int(np.flatnonzero(finite)[np.argmax(result.observed[finite])]) if finite.any() \
            else 0
        row = {"a": a, "b": b, "n_a": n_a, "n_b": n_b,
               "m_max": float(result.observed[best]) if finite.any() else np.nan,
               "r_at_max_m": float(r[best])}
        if nsim:
            p_value = _significance(result, curves[u, :, 1:].T, envelope, nrank)
            above = r[result.observed > result.hi]
            row |= {"above_envelope_m": float(above.min()) if len(above) else np.nan,
                    "p_value": p_value, "significant": bool(p_value <= 0.05 and len(above))}
        rows.append(row)
        results.append(result)
    return PairStudy("M", pd.DataFrame(rows), results, {
        "statistic": "M", "pairs": len(study.pairs), "rmax_m": float(r[-1]), "n_r": len(r),
        "nsim": nsim, "seed": seed, "envelope": envelope, "weighted": o["weighted"],
        "n_sites": len(study.x), "null": "random labelling (weights stay with locations)"})


_BLOCKS = {"Kd": _kd_block, "cross-L": _cross_l_block, "M": _m_block}
_FINISH = {"Kd": _kd_finish, "cross-L": _cross_l_finish, "M": _m_finish}


# ----------------------------------------------------------------- CLQ


def coagglomeration_clq(
    x: np.ndarray,
    y: np.ndarray,
    types: np.ndarray,
    pairs: list[tuple[str, str]],
    *,
    nsim: int = 99,
    seed: int = 0,
    neighbours: sp.csr_matrix | None = None,
) -> PairStudy:
    """Co-location quotients of every ordered pair, all from the same permutations.

    Every firm keeps its type (firms in no pair are ``other``), so each
    quotient is :func:`geo.stats.colocation.colocation_quotients` over all firms.

    Parameters
    ----------
    x, y : ndarray
        Coordinates (metres) of all sites.
    types : ndarray
        Type of each site (None: ``other``).
    pairs : list of (str, str)
        Ordered (a, b) pairs: b among a's nearest neighbours.
    nsim, seed
        Permutations and their seed.
    neighbours : optional
        The sites' nearest-neighbour matrix
        (:func:`geo.stats.colocation.nearest_neighbour_matrix`), when the caller has it.

    Returns
    -------
    PairStudy
        Table as :class:`geo.stats.colocation.CLQResult` plus ``significant``
        (p_colocation <= 0.05 and CLQ > 1); the global CLQ in the parameters.
    """
    from geo.stats.colocation import colocation_quotients

    types = np.asarray(types, dtype=object)
    _check_sites(np.asarray(x), np.asarray(y), types, nsim)
    labels = np.where(pd.isna(types), "other", types).astype(object)
    result = colocation_quotients(x, y, labels, pairs=list(pairs), nsim=nsim, seed=seed,
                                  neighbours=neighbours)
    table = result.table.copy()
    if nsim:
        table["significant"] = (table["p_colocation"] <= 0.05) & (table["clq"] > 1)
    return PairStudy("CLQ", table, [], {
        "statistic": "CLQ", "pairs": len(pairs), "nsim": nsim, "seed": seed,
        "global_clq": result.global_clq, "n_sites": len(x), **result.parameters})
