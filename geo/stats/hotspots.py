"""Grid statistics of clusters: Getis–Ord Gi* hot spots, local Moran, bivariate local Moran.

The values of a zone layer (usually a square, hexagonal or H3 grid from
:mod:`geo.io.grids`) are tested against their neighbours, with spatial weights
from libpysal and conditional-permutation inference from esda:

- **Gi*** (Getis & Ord 1992; Ord & Getis 1995, Geographical Analysis 27(4)):
  the z-value of the weighted sum of a cell and its neighbours against its
  expectation; binary weights including the cell itself (``star``), as in
  ArcGIS and spdep ``localG`` with ``include.self``.
- **Local Moran's I** (Anselin 1995, Geographical Analysis 27(2)) with
  row-standardised weights and the quadrants HH, LH, LL, HL; its analytical z
  under conditional randomisation (Sokal, Oden & Thomson 1998, eqs. A7-A8),
  spdep ``localmoran``'s ``Z.Ii``.
- **Global Moran's I** (Moran 1950; Cliff & Ord 1981): esda's ``Moran`` with
  the normality and randomisation moments (spdep ``moran.test``) and seeded
  permutations (``moran.mc``).
- **Bivariate local Moran** (Anselin, Syabri & Smirnov 2002; esda
  ``Moran_Local_BV``): the focal cell's standardised ``x`` (producer services)
  times the spatial lag of standardised ``y`` (manufacturing). HH: service-rich
  cells amid manufacturing-rich ones (co-agglomeration); HL: service-rich
  cells amid little manufacturing; LH and LL likewise.

Significance: pseudo p-values from ``permutations`` conditional permutations
(seeded), then Benjamini–Hochberg false-discovery-rate control across cells
(Caldas de Castro & Singer 2006): a cell is significant at level ``a`` when its
p-value is at most the FDR threshold of ``a``. Gi* classes: hot or cold at
99, 95 and 90 %.

Which cells are tested (:func:`grid_cluster_statistics`, ``cells``): by default
only the *occupied* cells, those holding at least one of the firms passed in
(of any group). Over a whole city's grid most cells are mountains, lakes and
farmland with no firm at all; tested with the rest, they form one vast "cold
spot" that says nothing about where services agglomerate. Cold spots are then
relative to the occupied cells, the built-up economy, not to the empty
countryside. Empty cells next to occupied ones are not kept either: a ring of
zeros around every settlement would bring back, along each urban edge, the
cold band the mask removes. The weights are built on the tested cells only, so
an occupied cell whose neighbours are all empty is an island: no
neighbourhood, p-value 1, NaN z, never significant. ``cells="all"`` tests
every cell, as before. Untested cells keep their counts; their statistics are
NaN and their classes ``not tested``.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import geopandas as gpd
import numba
import numpy as np
import pandas as pd

from geo.errors import ConfigError

if TYPE_CHECKING:
    from libpysal import weights

# esda and libpysal are imported where they are used: importing them takes 1-2 s
# (libpysal loads its graph, example and IO modules), which every geo command that
# imports this module would otherwise pay, hot spots or not.

LEVELS = (0.01, 0.05, 0.10)
QUADRANTS = {1: "HH", 2: "LH", 3: "LL", 4: "HL"}
# which cells the grid statistics test (see the module docstring)
HOTSPOT_CELLS = ("occupied", "all")
HOTSPOT_RULES = {
    "occupied": "cells with at least one firm (any group) are tested; empty cells are not",
    "all": "every cell is tested",
}
NOT_TESTED = "not tested"
# local Moran's moments divide by n - 2: fewer cells cannot be tested
MIN_TESTED = 3


@dataclass(frozen=True)
class GlobalMoran:
    """Global Moran's I with analytical and permutation inference.

    Attributes
    ----------
    I : float
        Moran's I (row-standardised weights).
    expected : float
        ``-1 / (n - 1)``.
    variance_normality, variance_randomisation : float
        Variance of I under normality and under randomisation (Cliff & Ord 1981).
    z_normality, z_randomisation : float
        ``(I - E[I]) / sd``.
    p_normality, p_randomisation : float
        Two-sided p-values of the z-values.
    permutations : int
        Random permutations of the values over the zones (0: none).
    p_sim : float
        Folded pseudo p-value: ``(1 + #{as extreme in the observed tail}) /
        (1 + permutations)`` (esda); NaN without permutations.
    p_sim_greater : float
        One-sided ``(1 + #{I_sim >= I}) / (1 + permutations)`` (spdep ``moran.mc``).
    z_sim : float
        ``(I - mean(I_sim)) / sd(I_sim)``.
    seed : int
        Seed of the permutations.
    """

    I: float  # noqa: E741 - the statistic's published name
    expected: float
    variance_normality: float
    variance_randomisation: float
    z_normality: float
    z_randomisation: float
    p_normality: float
    p_randomisation: float
    permutations: int
    p_sim: float
    p_sim_greater: float
    z_sim: float
    seed: int


def global_moran(values: np.ndarray, w: weights.W, *, permutations: int = 999,
                 seed: int = 0) -> GlobalMoran:
    """Global Moran's I of ``values`` over zones with row-standardised weights (esda ``Moran``).

    Parameters
    ----------
    values : ndarray
        Value of each zone.
    w : libpysal.weights.W
        Neighbour weights (row-standardised here).
    permutations : int
        Random permutations for the pseudo p-values (0: none).
    seed : int
        Seed of the permutations.

    Returns
    -------
    GlobalMoran
    """
    from esda import Moran

    y = np.asarray(values, dtype=float)
    w = _copy(w)
    w.transform = "R"
    # esda draws from numpy's legacy global generator (it takes no seed): seed it, then
    # give it back its state
    state = np.random.get_state()  # noqa: NPY002
    np.random.seed(seed)  # noqa: NPY002
    try:
        with _esda_quiet():
            stat = Moran(y, w, transformation="r", permutations=permutations, two_tailed=True)
    finally:
        np.random.set_state(state)  # noqa: NPY002
    greater = (1 + np.sum(stat.sim >= stat.I)) / (permutations + 1) if permutations else np.nan
    return GlobalMoran(
        I=float(stat.I), expected=float(stat.EI), variance_normality=float(stat.VI_norm),
        variance_randomisation=float(stat.VI_rand), z_normality=float(stat.z_norm),
        z_randomisation=float(stat.z_rand), p_normality=float(stat.p_norm),
        p_randomisation=float(stat.p_rand), permutations=permutations,
        p_sim=float(stat.p_sim) if permutations else np.nan, p_sim_greater=float(greater),
        z_sim=float(stat.z_sim) if permutations else np.nan, seed=seed,
    )


def spatial_weights(zones: gpd.GeoDataFrame, spec: str = "queen") -> weights.W:
    """Spatial weights of a zone layer: ``queen``, ``rook``, ``knn:K`` or ``distance:METRES``.

    Distances are between zone centroids in the layer's CRS (use a projected CRS).

    Parameters
    ----------
    zones : GeoDataFrame
        The zones, in a projected CRS for distance-based weights.
    spec : str
        Weights specification.

    Returns
    -------
    libpysal.weights.W
        Binary weights; cells without neighbours are islands.
    """
    from libpysal import weights

    kind, _, value = spec.partition(":")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # islands are reported, not warned about
        if kind == "queen":
            w = weights.Queen.from_dataframe(zones, use_index=False)
        elif kind == "rook":
            w = weights.Rook.from_dataframe(zones, use_index=False)
        elif kind == "knn" and value.isdigit():
            w = weights.KNN.from_dataframe(zones.set_geometry(zones.centroid), k=int(value))
        elif kind == "distance":
            try:
                threshold = float(value)
            except ValueError:
                threshold = -1.0
            if threshold <= 0:
                raise ConfigError(f"distance weights need a positive threshold, got '{spec}'")
            w = weights.DistanceBand.from_dataframe(
                zones.set_geometry(zones.centroid), threshold=threshold, binary=True,
                silence_warnings=True,
            )
        else:
            raise ConfigError(
                f"unknown weights '{spec}': use queen, rook, knn:K or distance:METRES"
            )
    return w


def _fdr_levels(p: np.ndarray) -> dict[float, float]:
    """FDR p-value threshold for each level (0 when nothing passes)."""
    from esda import fdr

    out = {}
    for level in LEVELS:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            threshold = fdr(p, level)
        out[level] = float(threshold) if np.isfinite(threshold) else 0.0
    return out


def _significance(p: np.ndarray, use_fdr: bool) -> np.ndarray:
    """Strictest level (0.01, 0.05, 0.10) each p-value passes, else NaN."""
    thresholds = _fdr_levels(p) if use_fdr else {a: a for a in LEVELS}
    level = np.full(len(p), np.nan)
    for a in sorted(LEVELS, reverse=True):
        level[p <= thresholds[a]] = a
    return level


def hot_spots(
    zones: gpd.GeoDataFrame,
    values: np.ndarray,
    w: weights.W,
    *,
    permutations: int = 999,
    seed: int = 0,
    use_fdr: bool = True,
) -> gpd.GeoDataFrame:
    """Getis–Ord Gi* of ``values`` with permutation inference and FDR.

    Parameters
    ----------
    zones : GeoDataFrame
        The zones (cells).
    values : ndarray
        Value of each zone (count or employment).
    w : libpysal.weights.W
        Binary neighbour weights (the cell itself is added: Gi*).
    permutations : int
        Conditional permutations.
    seed : int
        Seed of the permutations.
    use_fdr : bool
        Control the false discovery rate across cells (else per-cell levels).

    Returns
    -------
    GeoDataFrame
        ``zones`` with ``gi_z`` (analytical z; NaN for islands), ``gi_p_sim``
        (pseudo p-value; 1 for islands), ``gi_level`` (0.01/0.05/0.10 or NaN)
        and ``gi_class`` (``hot 99%`` ... ``cold 90%``, ``not significant``).
    """
    from esda import G_Local

    y = np.asarray(values, dtype=float)
    w = _copy(w)
    w.transform = "B"
    # esda gives the analytical z; the permutations run in our cached kernel
    # (esda's is compiled afresh in every process, 15+ s)
    with _esda_quiet():
        g = G_Local(y, w, transform="B", permutations=0, star=True, keep_simulations=False)
    p_sim = conditional_permutation_p(y, np.ones(len(y)), y, w, permutations, seed)
    out = zones.copy()
    # an island's Gi* is its own value against the mean: a z with no neighbourhood behind it
    cards = np.array([w.cardinalities[key] for key in w.id_order])
    zs = np.where(cards > 0, g.Zs, np.nan)
    out["gi_z"] = zs
    out["gi_p_sim"] = p_sim
    out["gi_level"] = _significance(p_sim, use_fdr)
    confidence = {0.01: "99%", 0.05: "95%", 0.10: "90%"}
    label = np.full(len(y), "not significant", dtype=object)
    for a, text in confidence.items():
        hit = out["gi_level"].to_numpy() == a
        label[hit & (zs > 0)] = f"hot {text}"
        label[hit & (zs < 0)] = f"cold {text}"
    out["gi_class"] = label
    return out


def _neighbour_arrays(w: weights.W) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Neighbour counts, CSR starts and flat neighbour positions in ``w.id_order``."""
    order = {k: i for i, k in enumerate(w.id_order)}
    cards = np.zeros(len(order), np.int64)
    flat: list[int] = []
    for key in w.id_order:
        neighbours = [order[j] for j in w.neighbors[key]]
        cards[order[key]] = len(neighbours)
        flat.extend(neighbours)
    return cards, np.concatenate([[0], np.cumsum(cards)]), np.asarray(flat, np.int64)


def conditional_permutation_p(
    const: np.ndarray,
    scale: np.ndarray,
    values: np.ndarray,
    w: weights.W,
    permutations: int,
    seed: int,
) -> np.ndarray:
    """Pseudo p-values of local statistics ``const_i + scale_i * sum of neighbours' values``.

    Conditional randomisation (Anselin 1995, as esda's ``crand``): each cell
    keeps its own value; its ``k`` neighbours' values are drawn without
    replacement from the other cells (one shared draw per permutation, as in
    esda). The p-value is folded to the observed tail:
    ``(1 + min(#{sim >= obs}, #{sim < obs})) / (1 + permutations)``; cells
    without neighbours get 1. Gi*: ``const = y``, ``scale = 1``; local
    Moran: ``const = 0``, ``scale = z_i / k_i``, ``values = z``; bivariate: the
    lagged variable's z as ``values``.

    Parameters
    ----------
    const, scale, values : ndarray
        Terms of the statistic per cell.
    w : libpysal.weights.W
        Neighbour structure.
    permutations : int
        Number of permutations (>= 1).
    seed : int
        Seed.

    Returns
    -------
    ndarray
    """
    cards, starts, flat = _neighbour_arrays(w)
    n = len(cards)
    kmax = int(cards.max(initial=0))
    rng = np.random.default_rng(seed)
    if kmax and n > 1:
        keys = rng.random((permutations, n - 1))
        rids = np.argpartition(keys, kmax - 1, axis=1)[:, :kmax].astype(np.int64)
    else:
        rids = np.zeros((permutations, 0), np.int64)
    return _crand_kernel(np.asarray(const, float), np.asarray(scale, float),
                         np.asarray(values, float), cards, starts, flat, rids)


@numba.njit(cache=True)
def _crand_kernel(const, scale, values, cards, starts, flat, rids):
    n = len(values)
    permutations = rids.shape[0]
    p = np.ones(n)
    for i in range(n):
        k = cards[i]
        if k == 0:
            continue  # an island has no neighbourhood to test
        total = 0.0
        for q in range(starts[i], starts[i + 1]):
            total += values[flat[q]]
        observed = const[i] + scale[i] * total
        larger = 0
        for s in range(permutations):
            total = 0.0
            for m in range(k):
                j = rids[s, m]
                if j >= i:  # indices run over the other n - 1 cells
                    j += 1
                total += values[j]
            if const[i] + scale[i] * total >= observed:
                larger += 1
        if permutations - larger < larger:
            larger = permutations - larger
        p[i] = (larger + 1.0) / (permutations + 1.0)
    return p


def local_moran(
    zones: gpd.GeoDataFrame,
    values: np.ndarray,
    w: weights.W,
    *,
    other: np.ndarray | None = None,
    permutations: int = 999,
    seed: int = 0,
    use_fdr: bool = True,
) -> gpd.GeoDataFrame:
    """Local Moran's I (or the bivariate version with ``other``) and quadrants.

    Parameters
    ----------
    zones : GeoDataFrame
        The zones.
    values : ndarray
        Focal variable ``x`` (e.g. producer services per cell).
    w : libpysal.weights.W
        Neighbour weights (row-standardised here).
    other : ndarray, optional
        Lagged variable ``y`` of the bivariate statistic (e.g. manufacturing).
    permutations : int
        Conditional permutations.
    seed : int
        Seed of the permutations.
    use_fdr : bool
        Control the false discovery rate across cells.

    Returns
    -------
    GeoDataFrame
        ``zones`` with ``lisa_i``, ``lisa_p_sim``, ``lisa_level`` and
        ``lisa_quadrant`` (HH, LH, LL, HL where significant, else ``ns``);
        prefixed ``bv_`` instead of ``lisa_`` for the bivariate statistic. The
        univariate statistic adds ``lisa_z``: the analytical z under
        conditional randomisation (spdep ``localmoran``'s ``Z.Ii``; NaN for
        islands).
    """
    from esda import Moran_Local, Moran_Local_BV

    x = np.asarray(values, dtype=float)
    w = _copy(w)
    w.transform = "R"
    # esda gives I and the quadrants; the permutations run in our cached kernel
    with _esda_quiet():
        if other is None:
            stat = Moran_Local(x, w, transformation="r", permutations=0)
            prefix = "lisa"
            lagged = x
        else:
            lagged = np.asarray(other, dtype=float)
            stat = Moran_Local_BV(x, lagged, w, transformation="r", permutations=0)
            prefix = "bv"
    zx = (x - x.mean()) / (x.std() or 1.0)
    zy = (lagged - lagged.mean()) / (lagged.std() or 1.0)
    cards = np.array([w.cardinalities[key] for key in w.id_order])
    scale = np.divide(zx, cards, out=np.zeros(len(x)), where=cards > 0)
    p_sim = conditional_permutation_p(np.zeros(len(x)), scale, zy, w, permutations, seed)
    out = zones.copy()
    out[f"{prefix}_i"] = stat.Is
    if other is None:
        # esda's I has the factor n - 1, its moments (EIc, VIc) spdep's n
        n = len(x)
        with np.errstate(divide="ignore", invalid="ignore"):
            out["lisa_z"] = (stat.Is * n / (n - 1) - stat.EIc) / np.sqrt(stat.VIc)
    out[f"{prefix}_p_sim"] = p_sim
    level = _significance(p_sim, use_fdr)
    out[f"{prefix}_level"] = level
    quadrant = np.array([QUADRANTS.get(int(q), "ns") for q in stat.q], dtype=object)
    quadrant[np.isnan(level)] = "ns"
    out[f"{prefix}_quadrant"] = quadrant
    return out


@contextlib.contextmanager
def _esda_quiet() -> Iterator[None]:
    """Silence esda's notice that its default alternative will change.

    The pseudo p-values here are esda's current ("directed", as GeoDa's):
    ``(1 + #{permutations as extreme in the observed tail}) / (1 + permutations)``.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The alternative hypothesis")
        # esda rebuilds the weights (Gi* adds the diagonal); islands are handled here
        warnings.filterwarnings("ignore", message="The weights matrix is not fully connected")
        yield


def _copy(w: weights.W) -> weights.W:
    """Copy the weights, so changing the transform leaves the caller's alone."""
    from libpysal import weights

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # disconnected components are fine on a grid
        return weights.W(w.neighbors, {k: list(v) for k, v in w.weights.items()},
                         id_order=w.id_order, silence_warnings=True)


def tested_cells(n_firms: np.ndarray, rule: str = "occupied") -> np.ndarray:
    """Return the cells the grid statistics test under ``rule``.

    Parameters
    ----------
    n_firms : ndarray
        Firms per cell (any group, unweighted).
    rule : {"occupied", "all"}
        ``occupied``: cells with at least one firm; ``all``: every cell.

    Returns
    -------
    ndarray of bool

    Raises
    ------
    ConfigError
        For an unknown rule.
    """
    if rule not in HOTSPOT_CELLS:
        raise ConfigError(f"unknown hot-spot cells '{rule}': use {' or '.join(HOTSPOT_CELLS)}")
    counts = np.asarray(n_firms, dtype=float)
    return counts > 0 if rule == "occupied" else np.ones(len(counts), dtype=bool)


def grid_cluster_statistics(
    firms: gpd.GeoDataFrame,
    zones: gpd.GeoDataFrame,
    zone_of_firm: np.ndarray,
    *,
    focus: np.ndarray,
    other: np.ndarray | None = None,
    firm_weights: np.ndarray | None = None,
    weights_spec: str = "queen",
    analysis_crs: str = "EPSG:4549",
    permutations: int = 999,
    seed: int = 0,
    use_fdr: bool = True,
    cells: str = "occupied",
) -> gpd.GeoDataFrame:
    """Gi*, local Moran and (with ``other``) bivariate local Moran of firms per zone.

    Parameters
    ----------
    firms : GeoDataFrame
        The firms.
    zones : GeoDataFrame
        Zones (a grid) with ``zone_id``.
    zone_of_firm : ndarray
        Zone id of each firm (NaN outside).
    focus : ndarray of bool
        Firms counted as the focal variable (e.g. producer services).
    other : ndarray of bool, optional
        Firms of the second variable of the bivariate statistic (manufacturing).
    firm_weights : ndarray, optional
        Weight per firm (employment); counts by default.
    weights_spec : str
        Spatial weights (see :func:`spatial_weights`), built on the tested cells.
    analysis_crs : str
        Projected CRS for distance-based weights.
    permutations, seed, use_fdr
        Inference settings.
    cells : {"occupied", "all"}
        Cells tested: those holding at least one of ``firms`` (any group), or
        all (see :func:`tested_cells`).

    Returns
    -------
    GeoDataFrame
        One row per zone (in the zones' CRS): ``n_firms`` (firms of any
        group), ``tested``, ``focus``, ``other`` (values per zone) and the
        columns of :func:`hot_spots` and :func:`local_moran`; untested cells
        have NaN statistics and the class ``not tested``. ``attrs`` holds
        ``hotspot_cells`` (the rule), ``cells_tested``, ``cells_not_tested``
        and ``islands`` (tested cells without a tested neighbour).

    Raises
    ------
    ConfigError
        For an unknown ``cells`` rule or weights specification.
    """
    ids = zones["zone_id"].astype(str).to_numpy()
    index = {z: k for k, z in enumerate(ids)}
    pos = pd.Series(np.asarray(zone_of_firm, dtype=object)).map(index).fillna(-1)
    pos = pos.to_numpy(dtype=np.int64)
    inside = pos >= 0
    wts = np.ones(len(firms)) if firm_weights is None else np.nan_to_num(firm_weights)

    def per_zone(mask: np.ndarray, weighted: bool = True) -> np.ndarray:
        keep = inside & mask
        return np.bincount(pos[keep], weights=wts[keep] if weighted else None,
                           minlength=len(ids)).astype(float)

    out = zones[["zone_id", "geometry"]].copy()
    # occupancy counts firms, not employment: a firm with no recorded staff still occupies
    out["n_firms"] = per_zone(np.ones(len(firms), bool), weighted=False).astype(np.int64)
    tested = tested_cells(out["n_firms"].to_numpy(), cells)
    if tested.sum() < MIN_TESTED:
        tested[:] = False  # too few cells for any local statistic
    out["tested"] = tested
    out["focus"] = per_zone(np.asarray(focus, bool))
    if other is not None:
        out["other"] = per_zone(np.asarray(other, bool))
    out.attrs.update(hotspot_cells=cells, cells_tested=int(tested.sum()),
                     cells_not_tested=int((~tested).sum()), islands=0)
    sub = out[tested].reset_index(drop=True)
    if sub.empty:
        # nothing to test: the same columns, all "not tested"
        names = ["gi_z", "gi_p_sim", "gi_level", "gi_class", "lisa_i", "lisa_z",
                 "lisa_p_sim", "lisa_level", "lisa_quadrant"]
        if other is not None:
            names += ["bv_i", "bv_p_sim", "bv_level", "bv_quadrant"]
        stats = sub.assign(**{
            name: pd.Series([], dtype=object if name.endswith(("class", "quadrant")) else float)
            for name in names
        })
    else:
        w = spatial_weights(sub.to_crs(analysis_crs), weights_spec)
        focal = sub["focus"].to_numpy()
        stats = hot_spots(sub, focal, w, permutations=permutations, seed=seed,
                          use_fdr=use_fdr)
        stats = local_moran(stats, focal, w, permutations=permutations, seed=seed,
                            use_fdr=use_fdr)
        if other is not None:
            stats = local_moran(stats, focal, w, other=sub["other"].to_numpy(),
                                permutations=permutations, seed=seed, use_fdr=use_fdr)
        out.attrs["islands"] = len(w.islands)
    for column in stats.columns.difference(sub.columns, sort=False):
        values = stats[column].to_numpy()
        if values.dtype == object:  # classes and quadrants
            full = np.full(len(out), NOT_TESTED, dtype=object)
        else:
            full = np.full(len(out), np.nan)
        full[tested] = values
        out[column] = full
    return out
