"""A study of one statistic over many type pairs, and its labellings computed in blocks.

:class:`PairStudy` is the result; :class:`StudyPlan` a prepared Kd, cross-L
or M study whose labellings (the observed one and every simulation) can be
computed in any blocks, in any process, and put back together to the last bit
(:func:`simulation_blocks`, :func:`study_block`, :func:`combine_blocks`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from geo.errors import ConfigError
from geo.stats.ripley import FunctionResult, add_envelope

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


def _significance(result: FunctionResult, sims: np.ndarray, envelope: str, nrank: int) -> float:
    """Attach the envelope; return the global (maximum absolute deviation) test p-value."""
    add_envelope(result, sims, "global", nrank)
    p_value = result.p_value
    if envelope != "global":
        result.p_value = None
        add_envelope(result, sims, envelope, nrank)
    result.simulations = None  # hundreds of pairs: keep the bands, not every curve
    return float(p_value)


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


@dataclass
class StudyPlan:
    """A prepared Kd, cross-L or M study whose labellings can be computed in blocks.

    :func:`~geo.stats.coagglomeration.kd_plan`,
    :func:`~geo.stats.coagglomeration.cross_l_plan` and
    :func:`~geo.stats.coagglomeration.m_plan` check the
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
    compute : callable
        ``compute(plan, start, stop)``: the statistic's curves of a block of
        labellings (a module-level function, so a plan pickles for Dask).
    complete : callable
        ``complete(plan, curves)``: the study from every labelling's curves.
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
    options: dict
    compute: Callable[[StudyPlan, int, int], np.ndarray]
    complete: Callable[[StudyPlan, np.ndarray], PairStudy]

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
        return self.compute(self, start, stop)

    def finish(self, curves: np.ndarray) -> PairStudy:
        """Compute the study from the curves of every labelling (:func:`combine_blocks`)."""
        if curves.shape != self.shape:
            raise ValueError(f"curves of shape {curves.shape}, expected {self.shape}")
        return self.complete(self, curves)


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
