"""Choropleth classes (geo.maps.classify): exactly mapclassify's bins and class ids."""

import warnings

import mapclassify
import numpy as np
import pandas as pd
import pytest

from geo.maps import Choropleth, classify_values
from geo.maps.classify import class_breaks, fisher_jenks_bins


def _arrays():
    rng = np.random.default_rng(20261122)
    out = [np.array([3.0]), np.array([1.0, 1.0, 2.0]), np.array([-2.5, 0.0, 0.0, 7.25])]
    for n in (2, 5, 9, 10, 11, 50, 101, 400):
        out += [
            rng.random(n),
            rng.lognormal(0.0, 2.0, n),  # skewed, like location quotients and demand
            rng.integers(0, 6, n).astype(float),  # many ties
            rng.normal(size=n).round(1),
            -rng.pareto(1.5, n),
            np.linspace(0.0, 1.0, n) ** 3,
        ]
    return out


ARRAYS = _arrays()


def _reference(values, scheme, k, bins=()):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # mapclassify: "not enough unique values"
        if scheme == "user_defined":
            return mapclassify.UserDefined(values, list(bins))
        return mapclassify.classify(values, scheme, k=k)


@pytest.mark.parametrize("scheme", ["quantiles", "fisher_jenks"])
def test_quantiles_and_fisher_jenks_are_mapclassifys(scheme):
    compared = 0
    for values in ARRAYS:
        distinct = len(np.unique(values))
        for k in (1, 2, 3, 4, 5, 6, 7, 9):
            k = min(k, distinct)  # as geo.maps.recipe.classify_values asks
            expected = _reference(values, scheme, k)
            classes, bins = class_breaks(values, scheme, k=k)
            np.testing.assert_array_equal(bins, expected.bins, err_msg=f"{scheme} k={k} {values}")
            assert bins.dtype == np.asarray(expected.bins).dtype
            np.testing.assert_array_equal(classes, expected.yb)
            compared += 1
    assert compared == len(ARRAYS) * 8


@pytest.mark.parametrize(
    "bins", [(0.5,), (0.1, 0.5, 0.9), (-1.0, 0.0, 1.0, 100.0), (1.0, 1.0, 2.0)]
)
def test_user_defined_is_mapclassifys(bins):
    for values in ARRAYS:
        expected = _reference(values, "user_defined", 0, bins)
        classes, bounds = class_breaks(values, "user_defined", bins=bins)
        np.testing.assert_array_equal(bounds, expected.bins)
        np.testing.assert_array_equal(classes, expected.yb)


def test_scheme_names_are_normalised_as_in_mapclassify():
    values = ARRAYS[10]
    for name in ("fisher_jenks", "FisherJenks", "fisherjenks"):
        np.testing.assert_array_equal(class_breaks(values, name, k=4)[1],
                                      class_breaks(values, "fisher_jenks", k=4)[1])
    with pytest.raises(ValueError, match="not one of"):
        class_breaks(values, "equal_interval", k=4)


def test_fisher_jenks_needs_as_many_distinct_values_as_classes():
    with pytest.raises(ValueError, match="Fewer unique values"):
        fisher_jenks_bins(np.array([1.0, 1.0, 2.0]), 3)


def test_fisher_jenks_finds_the_natural_groups():
    values = np.array([1.0, 1.1, 0.9, 10.0, 10.2, 9.8, 100.0, 101.0])
    assert class_breaks(values, "fisher_jenks", k=3)[1].tolist() == [1.1, 10.2, 101.0]


@pytest.mark.parametrize(("scheme", "k", "bins"), [
    ("quantiles", 5, ()), ("fisher_jenks", 5, ()), ("user_defined", 0, (0.8, 1.25, 2.0)),
    ("equal_interval", 4, ()),  # not classified in geo: still mapclassify's
])
def test_classify_values_labels_are_mapclassifys(scheme, k, bins):
    values = pd.Series([*ARRAYS[20], np.nan, np.inf])
    spec = Choropleth(name="t", layer="grid", column="v", title_zh="t", title_en="t",
                      colors=("#ffffff", "#000000"), scheme=scheme, k=k, bins=bins)
    classes, labels = classify_values(values, spec)
    finite = values[np.isfinite(values)].to_numpy()
    expected = _reference(finite, scheme, min(k, len(np.unique(finite))), bins)
    assert (classes[-2:] == -1).all()
    np.testing.assert_array_equal(classes[:-2], expected.yb)
    edges = [finite.min(), *expected.bins]
    assert labels == [f"{edges[c]:.2f}–{edges[c + 1]:.2f}" for c in range(len(expected.bins))]
