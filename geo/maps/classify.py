"""Choropleth class breaks: user-defined, quantiles and Fisher–Jenks natural breaks.

These give exactly mapclassify's ``UserDefined``, ``Quantiles`` and
``FisherJenks`` bins and class ids (the tests compare them on many arrays).
They are written here because importing mapclassify compiles its Fisher–Jenks
kernel with an eager numba signature and no cache: 3–8 s in every process
that draws a map. The kernel below is compiled once and cached on disk
(``cache=True``). Other mapclassify schemes are still classified by
mapclassify (:func:`geo.maps.recipe.classify_values`).

References
----------
Fisher, W. D. (1958). On grouping for maximum homogeneity. JASA 53(284).
Jenks, G. F. (1977). Optimal data classification for choropleth maps.
Rey, S. J. et al. mapclassify (PySAL): ``Quantiles``, ``FisherJenks``, ``bin1d``.
"""

from __future__ import annotations

import numba
import numpy as np

# schemes classified here, by mapclassify's normalised name (lower case, no "_")
SCHEMES = ("userdefined", "quantiles", "fisherjenks")


def scheme_key(scheme: str) -> str:
    """Normalise a scheme name as mapclassify does: ``Fisher_Jenks`` -> ``fisherjenks``."""
    return scheme.lower().replace("_", "")


def bin_ids(values: np.ndarray, bins: np.ndarray) -> np.ndarray:
    """Class of each value: ``c`` where ``bins[c - 1] < value <= bins[c]`` (mapclassify ``bin1d``).

    Parameters
    ----------
    values : numpy.ndarray
        Finite values.
    bins : numpy.ndarray
        Upper bounds of the classes, increasing.

    Returns
    -------
    numpy.ndarray of int
        Class ids; as in mapclassify, a value above the last bound gets 0.
    """
    values = np.asarray(values)
    lower = [-np.inf, *bins[:-1]]
    out = np.zeros(values.shape, dtype=int)
    for k in range(len(bins) - 1, -1, -1):
        out += (values > lower[k]) * (values <= bins[k]) * k
    return out


def user_defined_bins(values: np.ndarray, bins: list[float] | tuple[float, ...]) -> np.ndarray:
    """Upper bounds given by the user, with the maximum appended when it lies above them.

    Parameters
    ----------
    values : numpy.ndarray
        Finite values.
    bins : sequence of float
        Upper bounds, increasing.

    Returns
    -------
    numpy.ndarray
        The bounds (mapclassify ``UserDefined(values, bins).bins``).
    """
    top = np.max(values)
    bounds = np.append(bins, top) if bins[-1] < top else list(bins)
    return np.array(bounds)


def quantile_bins(values: np.ndarray, k: int) -> np.ndarray:
    """Upper bounds of ``k`` quantile classes; repeated bounds collapse (fewer classes).

    The percentiles ``100 / k, 200 / k, ... 100`` are interpolated between
    order statistics as ``scipy.stats.scoreatpercentile`` does (what
    mapclassify's ``Quantiles`` uses), in the same floating-point operations.

    Parameters
    ----------
    values : numpy.ndarray
        Finite values.
    k : int
        Number of classes asked for.

    Returns
    -------
    numpy.ndarray
        Distinct upper bounds, increasing.
    """
    ordered = np.sort(np.asarray(values, dtype=float))
    step = 100.0 / k
    percents = np.arange(step, 100 + step, step)
    if percents[-1] > 100.0:
        percents[-1] = 100.0
    last = ordered.shape[0] - 1
    scores = []
    for percent in percents:
        index = percent / 100.0 * last
        low = int(index)
        if low == index:
            scores.append(ordered[low])
        else:
            below, above = low + 1 - index, index - low
            scores.append((ordered[low] * below + ordered[low + 1] * above) / (below + above))
    return np.unique(np.array(scores))


def fisher_jenks_bins(values: np.ndarray, k: int) -> np.ndarray:
    """Upper bounds of ``k`` Fisher–Jenks natural-break classes (mapclassify ``FisherJenks``).

    Minimises the sum of squared deviations from the class means (Fisher
    1958) by dynamic programming over the sorted values; the sums run in
    32-bit floats as in mapclassify, so ties between partitions break the
    same way.

    Parameters
    ----------
    values : numpy.ndarray
        Finite values with at least ``k`` distinct ones.
    k : int
        Number of classes.

    Returns
    -------
    numpy.ndarray
        ``k`` upper bounds, each a data value; the last is the maximum.

    Raises
    ------
    ValueError
        If there are fewer distinct values than ``k``.
    """
    distinct = len(np.unique(values))
    if distinct < k:
        raise ValueError(f"Fewer unique values ({distinct}) than specified classes ({k}).")
    return _fisher_jenks(np.sort(np.asarray(values)).astype("f8"), int(k))


@numba.njit(cache=True)
def _fisher_jenks(values, classes):  # pragma: no cover - compiled
    n = len(values)
    # lower[l, j]: first value (1-based) of the last class of the best j-class split
    # of values[:l]; cost[l, j]: its within-class sum of squares
    lower = np.zeros((n + 1, classes + 1), dtype=np.int32)
    cost = np.zeros((n + 1, classes + 1), dtype=np.float32)
    lower[1, 1:] = 1
    cost[2:, 1:] = np.inf
    variance = np.float32(0)
    for last in range(2, n + 1):
        total = np.float32(0)
        squares = np.float32(0)
        count = np.float32(0)
        for m in range(1, last + 1):
            first = last - m + 1
            value = np.float32(values[first - 1])
            squares += value * value
            total += value
            count += np.float32(1)
            variance = squares - (total * total) / count
            before = first - 1
            if before != 0:
                for j in range(2, classes + 1):
                    if cost[last, j] >= variance + cost[before, j - 1]:
                        lower[last, j] = first
                        cost[last, j] = variance + cost[before, j - 1]
        lower[last, 1] = 1
        cost[last, 1] = variance
    bounds = np.zeros(classes + 1, dtype=values.dtype)
    bounds[classes] = values[n - 1]
    bounds[0] = values[0]
    end = n
    for j in range(classes, 1, -1):
        start = lower[end, j]
        bounds[j - 1] = values[int(start - 2)]
        end = int(start - 1)
    return bounds[1:]


def class_breaks(
    values: np.ndarray, scheme: str, *, k: int = 5,
    bins: list[float] | tuple[float, ...] = (),
) -> tuple[np.ndarray, np.ndarray]:
    """Class ids and upper bounds of ``values`` by a scheme of :data:`SCHEMES`.

    Parameters
    ----------
    values : numpy.ndarray
        Finite values.
    scheme : str
        ``user_defined``, ``quantiles`` or ``fisher_jenks`` (any case, with or
        without underscores).
    k : int
        Number of classes (quantiles, Fisher–Jenks).
    bins : sequence of float
        Upper bounds (user-defined).

    Returns
    -------
    tuple of numpy.ndarray
        ``(classes, bounds)``, as mapclassify's ``yb`` and ``bins``.

    Raises
    ------
    ValueError
        If the scheme is not one of :data:`SCHEMES`, or Fisher–Jenks gets
        fewer distinct values than ``k``.

    Examples
    --------
    >>> classes, bounds = class_breaks(np.array([1.0, 2.0, 3.0, 10.0]), "quantiles", k=2)
    >>> classes.tolist(), bounds.tolist()
    ([0, 0, 1, 1], [2.5, 10.0])
    """
    values = np.asarray(values).flatten()
    key = scheme_key(scheme)
    if key == "userdefined":
        bounds = user_defined_bins(values, bins)
    elif key == "quantiles":
        bounds = quantile_bins(values, k)
    elif key == "fisherjenks":
        bounds = fisher_jenks_bins(values, k)
    else:
        raise ValueError(f"scheme '{scheme}' is not one of {', '.join(SCHEMES)}")
    return bin_ids(values, bounds), bounds
