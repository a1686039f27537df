import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from geo.errors import ConfigError
from geo.io.crs import DEFAULT_ANALYSIS_CRS
from geo.io.seed import BASE_SIZE, CATEGORIES, generate_firms, load_calibration, scale_counts
from geo.io.zones import layer_names, load_layer


@pytest.fixture(scope="module")
def base_population():
    return generate_firms(BASE_SIZE, seed=7)


def category_of(firms: pd.DataFrame) -> pd.Series:
    """The seed category of each firm, recomputed from its classification."""
    manufacturing = np.where(firms["high_tech"], "manufacturing_high_tech", "manufacturing_other")
    return pd.Series(
        np.where(
            firms["group"] == "manufacturing",
            manufacturing,
            np.where(firms["group"] == "producer_services", firms["field"].astype(str), "other"),
        ),
        index=firms.index,
    )


def test_scale_counts_sums_exactly_and_stays_proportional():
    counts = load_calibration().counts
    for n in (1, 999, 30_000, 1_234_567):
        scaled = scale_counts(counts, n)
        assert int(scaled.to_numpy().sum()) == n
        exact = counts[list(CATEGORIES)].to_numpy() * n / counts[list(CATEGORIES)].to_numpy().sum()
        assert np.all(np.abs(scaled.to_numpy() - exact) < 1.0)


def test_calibration_counts_by_district_and_category_match_table(base_population):
    firms = base_population.firms
    districts = load_layer("districts")
    joined = gpd.sjoin(
        firms.to_crs(DEFAULT_ANALYSIS_CRS)[["geometry"]],
        districts.to_crs(DEFAULT_ANALYSIS_CRS)[["zone_id", "geometry"]],
        predicate="within",
        how="left",
    )
    assert joined.index.is_unique and joined["zone_id"].notna().all()
    observed = pd.crosstab(joined["zone_id"], category_of(firms))
    expected = load_calibration().counts[list(CATEGORIES)]
    observed = observed.reindex(index=expected.index, columns=expected.columns, fill_value=0)
    pd.testing.assert_frame_equal(observed, expected, check_names=False, check_dtype=False)


def test_population_is_flagged_synthetic_and_valid(base_population):
    firms = base_population.firms
    assert len(firms) == BASE_SIZE
    assert len(base_population.rejects) == 0
    assert firms["synthetic"].all()
    assert firms["name"].str.startswith("合成企业").all()
    assert firms["firm_id"].is_unique
    assert "synthetic" in base_population.source


def test_employees_are_heavy_tailed(base_population):
    employees = base_population.firms["employees"]
    assert employees.min() >= 1
    assert employees.max() / employees.median() > 50
    assert employees.quantile(0.99) / employees.median() > 10


def test_producer_services_cluster_around_towns(base_population):
    """Digital firms are far denser inside digital towns than in their districts overall."""
    firms = base_population.firms.to_crs(DEFAULT_ANALYSIS_CRS)
    towns = load_layer("towns").to_crs(DEFAULT_ANALYSIS_CRS)
    digital_towns = towns[towns["focus_field"] == "digital"]
    digital = firms[firms["field"] == "digital"]
    inside = digital.within(digital_towns.union_all()).sum()
    share_of_area = digital_towns.area.sum() / load_layer("districts").to_crs(
        DEFAULT_ANALYSIS_CRS).area.sum()
    assert inside / len(digital) > 20 * share_of_area


@pytest.mark.skipif("water" not in layer_names(), reason="no water layer bundled")
def test_no_firm_in_water(base_population):
    water = load_layer("water").union_all()
    assert not base_population.firms.within(water).any()


def test_same_seed_same_population_different_seed_differs():
    a = generate_firms(2_000, seed=11).firms
    b = generate_firms(2_000, seed=11).firms
    c = generate_firms(2_000, seed=12).firms
    pd.testing.assert_frame_equal(a.drop(columns="geometry"), b.drop(columns="geometry"))
    assert not np.allclose(a["lon"].to_numpy(), c["lon"].to_numpy())


def test_non_positive_size_is_a_clear_error():
    with pytest.raises(ConfigError, match="positive"):
        generate_firms(0)
