"""Grid statistics of clusters: Getis–Ord Gi* hot spots, local Moran, bivariate local Moran.

The values of a zone layer (usually a square, hexagonal or H3 grid from
:mod:`geo.grids`) are tested against their neighbours, with spatial weights
from libpysal and conditional-permutation inference from esda:

- **Gi*** (Getis & Ord 1992; Ord & Getis 1995, Geographical Analysis 27(4)):
  the z-value of the weighted sum of a cell and its neighbours against its
  expectation; binary weights including the cell itself (``star``), as in
  ArcGIS and spdep ``localG`` with ``include.self``.
- **Local Moran's I** (Anselin 1995, Geographical Analysis 27(2)) with
  row-standardised weights and the quadrants HH, LH, LL, HL.
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
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator

import geopandas as gpd
import numpy as np
from esda import G_Local, Moran_Local, Moran_Local_BV, fdr
from libpysal import weights

from geo.errors import ConfigError

LEVELS = (0.01, 0.05, 0.10)
QUADRANTS = {1: "HH", 2: "LH", 3: "LL", 4: "HL"}


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
        ``zones`` with ``gi_z`` (analytical z), ``gi_p_sim`` (pseudo p-value),
        ``gi_level`` (0.01/0.05/0.10 or NaN) and ``gi_class`` (``hot 99%`` ...
        ``cold 90%``, ``not significant``).
    """
    y = np.asarray(values, dtype=float)
    w = _copy(w)
    w.transform = "B"
    with _esda_quiet():
        g = G_Local(y, w, transform="B", permutations=permutations, star=True, seed=seed,
                    keep_simulations=False, n_jobs=1)
    out = zones.copy()
    out["gi_z"] = g.Zs
    out["gi_p_sim"] = g.p_sim
    out["gi_level"] = _significance(g.p_sim, use_fdr)
    confidence = {0.01: "99%", 0.05: "95%", 0.10: "90%"}
    label = np.full(len(y), "not significant", dtype=object)
    for a, text in confidence.items():
        hit = out["gi_level"].to_numpy() == a
        label[hit & (g.Zs > 0)] = f"hot {text}"
        label[hit & (g.Zs < 0)] = f"cold {text}"
    out["gi_class"] = label
    return out


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
        prefixed ``bv_`` instead of ``lisa_`` for the bivariate statistic.
    """
    x = np.asarray(values, dtype=float)
    w = _copy(w)
    w.transform = "R"
    with _esda_quiet():
        if other is None:
            stat = Moran_Local(x, w, transformation="r", permutations=permutations, seed=seed,
                               keep_simulations=False)
            prefix = "lisa"
        else:
            stat = Moran_Local_BV(x, np.asarray(other, dtype=float), w, transformation="r",
                                  permutations=permutations, seed=seed, keep_simulations=False)
            prefix = "bv"
    out = zones.copy()
    out[f"{prefix}_i"] = stat.Is
    out[f"{prefix}_p_sim"] = stat.p_sim
    level = _significance(stat.p_sim, use_fdr)
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
        yield


def _copy(w: weights.W) -> weights.W:
    """Copy the weights, so changing the transform leaves the caller's alone."""
    return weights.W(w.neighbors, {k: list(v) for k, v in w.weights.items()},
                     id_order=w.id_order, silence_warnings=True)
