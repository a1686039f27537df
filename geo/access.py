r"""Spatial accessibility of producer services for manufacturing: two-step floating catchment.

Two-step floating catchment area (Luo & Wang 2003, Environment and Planning B
30(6); Gaussian decay: Dai 2010, Landscape and Urban Planning 97(3)). With
demand :math:`P_k` at locations :math:`k` (manufacturing firms or employment),
supply :math:`S_j` at :math:`j` (producer services), a catchment radius
:math:`d_0` and a decay :math:`f`:

.. math::
    R_j = \frac{S_j}{\sum_{k:\, d_{kj} \le d_0} P_k\, f(d_{kj})}, \qquad
    A_i = \sum_{j:\, d_{ij} \le d_0} R_j\, f(d_{ij})

``uniform``: :math:`f = 1` (the original 2SFCA); ``gaussian``:
:math:`f(d) = \frac{e^{-\frac12 (d/d_0)^2} - e^{-\frac12}}{1 - e^{-\frac12}}`
(1 at the location, 0 at the edge of the catchment). :math:`A_i` is supply
per unit of demand reachable from :math:`i`; its demand-weighted mean equals
total supply over total demand when every supply has some demand in reach.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from geo.errors import ConfigError

DECAYS = ("uniform", "gaussian")


def _decay(d: np.ndarray, radius: float, kind: str) -> np.ndarray:
    if kind == "uniform":
        return np.ones_like(d)
    edge = np.exp(-0.5)
    return (np.exp(-0.5 * (d / radius) ** 2) - edge) / (1 - edge)


def two_step_fca(
    demand_xy: np.ndarray,
    demand: np.ndarray,
    supply_xy: np.ndarray,
    supply: np.ndarray,
    radius: float,
    decay: str = "gaussian",
) -> tuple[np.ndarray, np.ndarray]:
    """Compute the accessibility of each demand location and the ratio of each supply.

    Parameters
    ----------
    demand_xy, supply_xy : ndarray, shape (n, 2)
        Coordinates in metres.
    demand, supply : ndarray
        Weights (firms or employment).
    radius : float
        Catchment radius :math:`d_0` in metres.
    decay : {"uniform", "gaussian"}
        Distance decay within the catchment.

    Returns
    -------
    tuple of ndarray
        ``(A, R)``: accessibility per demand location (0 where no supply is in
        reach) and ratio per supply location (NaN where no demand is in reach).
    """
    if decay not in DECAYS:
        raise ConfigError(f"unknown decay '{decay}': use {', '.join(DECAYS)}")
    if radius <= 0:
        raise ConfigError("the catchment radius must be positive")
    demand_xy, supply_xy = np.asarray(demand_xy, float), np.asarray(supply_xy, float)
    demand, supply = np.asarray(demand, float), np.asarray(supply, float)
    pairs = cKDTree(supply_xy).sparse_distance_matrix(
        cKDTree(demand_xy), radius, output_type="ndarray"
    )
    # the ndarray output keeps coincident pairs (distance 0), unlike the sparse-matrix ones
    j, k, d = pairs["i"], pairs["j"], pairs["v"]
    weight = _decay(d, radius, decay)
    reached = np.bincount(j, weights=demand[k] * weight, minlength=len(supply))
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(reached > 0, supply / reached, np.nan)
    access = np.bincount(k, weights=np.nan_to_num(ratio[j]) * weight, minlength=len(demand))
    return access, ratio
