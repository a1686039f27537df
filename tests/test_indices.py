"""Zonal indices against hand-computed values, published examples and invariants."""

import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from geo.errors import ConfigError, InputError
from geo.io.crs import DEFAULT_ANALYSIS_CRS
from geo.io.industry import load_classification
from geo.stats.indices import (
    BOTH_ABSENT,
    H_ONE,
    NO_FIRMS_GROUP,
    NO_FIRMS_ZONE,
    ONE_FIRM,
    ONE_ZONE,
    coagglomeration_lq,
    egk_coagglomeration,
    ellison_glaeser,
    ellison_glaeser_coagglomeration,
    herfindahl,
    hoover,
    location_quotient,
    locational_gini,
)
from geo.stats.schemes import load_scheme
from geo.stats.zonal import zonal_indices

# ---------------------------------------------------------------------------
# Published worked examples
# ---------------------------------------------------------------------------


def test_lq_farhauer_kroell_example():
    """Farhauer & Kröll (2013), Standorttheorien, as printed in R package REAT (locq.Rd).

    e_ij = 1714 employees of the industry in the region, e_j = 79,006 in the region,
    e_i = 879,213 in the industry nationally, e = 15,593,224 in all; printed LQ 0.3847623.
    """
    lq = location_quotient([[1714]], [79006], [879213], 15593224)
    assert lq.value[0, 0] == pytest.approx(0.3847623, abs=5e-8)
    # the arithmetic: (1714 / 79006) / (879213 / 15593224)
    assert lq.value[0, 0] == pytest.approx((1714 / 79006) / (879213 / 15593224))


def test_herfindahl_doersam_example():
    """Dörsam (2004), Wirtschaftsstatistik anschaulich dargestellt, via REAT herf.Rd.

    Shares 20, 50, 20, 10 (of 100): 0.2^2 + 0.5^2 + 0.2^2 + 0.1^2 = 0.34 (printed 0.34).
    """
    assert herfindahl(np.array([20, 50, 20, 10])).value[0] == pytest.approx(0.34)


def test_locational_gini_lorenz_example():
    """EconGeo ``Hoover.Gini`` example (Balland, after Krugman 1991): ind = 0,10,10,30,50;
    pop = 10,15,20,25,30.

    s = (0, .1, .1, .3, .5), x = (.1, .15, .2, .25, .3); s/x = 0, .667, .5, 1.2, 1.667,
    so the order is zones 1, 3, 2, 4, 5: X = .1, .3, .45, .7, 1; Y = 0, .1, .2, .5, 1.
    Sum of dX (Y_j + Y_j-1) = .1*0 + .2*.1 + .15*.3 + .25*.7 + .3*1.5 = .69, G = .31.
    """
    gini = locational_gini(np.array([0, 10, 10, 30, 50]), np.array([10, 15, 20, 25, 30]))
    assert gini.value[0] == pytest.approx(0.31)


def test_ellison_glaeser_farhauer_kroell_example():
    """Farhauer & Kröll (2014), via REAT ellison.a.Rd: printed gamma 0.05990628.

    Ten firms in Wien (200, 650, 12000, 100, 50), Linz (16000, 13000, 1500, 1500),
    Graz (25000); regional employment 500,000 / 400,000 / 100,000.
    s = (13000, 32000, 25000)/70000, x = (.5, .4, .1), sum x^2 = .42,
    G = sum (s - x)^2 = 0.168163265, H = sum (e_j / 70000)^2 = 0.244688776.
    """
    firms = np.array([200, 650, 12000, 100, 50, 16000, 13000, 1500, 1500, 25000], float)
    industry = np.array([13000, 32000, 25000], float)
    totals = np.array([500000, 400000, 100000], float)
    H = np.sum((firms / firms.sum()) ** 2)
    eg = ellison_glaeser(industry, totals, [H])
    assert eg.sum_x2 == pytest.approx(0.42)
    assert eg.G[0] == pytest.approx(0.168163265, abs=1e-9)
    assert eg.H[0] == pytest.approx(0.244688776, abs=1e-9)
    assert eg.gamma[0] == pytest.approx(0.05990628, abs=5e-9)


def _firm_frame(codes, zone_ids, employees):
    classified = load_classification().classify(pd.Series(codes))
    frame = classified.assign(employees=np.asarray(employees, float), synthetic=False)
    frame["firm_id"] = [f"f{i}" for i in range(len(frame))]
    return frame, pd.Series(zone_ids, dtype=object)


def _three_zones():
    return gpd.GeoDataFrame(
        {"zone_id": ["wien", "linz", "graz"], "name_zh": ["维也纳", "林茨", "格拉茨"]},
        geometry=[shapely.box(i * 10, 0, i * 10 + 10, 10) for i in range(3)],
        crs=DEFAULT_ANALYSIS_CRS,
    )


def test_ellison_glaeser_example_end_to_end_with_employment_weighting():
    """The same published example through zonal_indices: other firms fill the regions."""
    employees = [200, 650, 12000, 100, 50, 16000, 13000, 1500, 1500, 25000,
                 500000 - 13000, 400000 - 32000, 100000 - 25000]
    zones_of = ["wien"] * 5 + ["linz"] * 4 + ["graz"] + ["wien", "linz", "graz"]
    codes = ["C3911"] * 10 + ["F4700"] * 3  # computers; building construction (other)
    frame, zone_of = _firm_frame(codes, zones_of, employees)
    result = zonal_indices(frame, _three_zones(), zone_of_firm=zone_of, weighting="employment")
    row = result.industry_measures.set_index("industry").loc["39"]
    assert row["eg_gamma"] == pytest.approx(0.05990628, abs=5e-9)
    assert row["eg_sum_x2"] == pytest.approx(0.42)
    # the high-tech group holds exactly the same firms
    ht = result.industry_measures.set_index("industry").loc["high_tech"]
    assert ht["eg_gamma"] == pytest.approx(0.05990628, abs=5e-9)
    assert result.parameters["weighting"] == "employment"
    assert (result.industry_measures["weighting"] == "employment").all()


# ---------------------------------------------------------------------------
# Hand-computed cases
# ---------------------------------------------------------------------------


def test_lq_small_matrix_and_weighted_mean_is_one():
    # zones A, B; group m: 2 and 8; all firms: 10 and 40 -> m's share 10/50 = 0.2
    lq = location_quotient([[2], [8]], [10, 40])
    assert lq.value[:, 0] == pytest.approx([0.2 / 0.2, 0.2 / 0.2])
    lq = location_quotient([[6], [4]], [10, 40])  # shares .6 and .1 vs .2 overall
    assert lq.value[:, 0] == pytest.approx([3.0, 0.5])
    x = np.array([10, 40]) / 50
    assert np.sum(x * lq.value[:, 0]) == pytest.approx(1.0)


def test_hoover_hand_computed():
    # s = (0, .1, .1, .3, .5); x = (.1, .15, .2, .25, .3): half of .1+.05+.1+.05+.2 = .25
    value = hoover(np.array([0, 10, 10, 30, 50]), np.array([10, 15, 20, 25, 30])).value[0]
    assert value == pytest.approx(0.25)


def test_gini_is_zero_when_industry_is_spread_like_all_activity():
    totals = np.array([10.0, 20.0, 70.0])
    assert locational_gini(totals * 0.3, totals).value[0] == pytest.approx(0.0, abs=1e-12)
    assert hoover(totals * 0.3, totals).value[0] == pytest.approx(0.0, abs=1e-12)


def test_egk_hand_computed_and_symmetric():
    # x = (.5, .5); a: s = (1, 0); b: s = (.75, .25); c: s = (0, 1)
    totals = np.array([100.0, 100.0])
    weights = np.array([[4.0, 3.0, 0.0], [0.0, 1.0, 5.0]])
    gamma = egk_coagglomeration(weights, weights, totals).value
    # (a, b): ((1-.5)(.75-.5) + (0-.5)(.25-.5)) / (1 - .5) = (.125 + .125) / .5 = .5
    assert gamma[0, 1] == pytest.approx(0.5)
    # (a, c): (.5 * -.5 + -.5 * .5) / .5 = -1
    assert gamma[0, 2] == pytest.approx(-1.0)
    assert np.allclose(gamma, gamma.T)


def test_coagglomeration_index_variants():
    # LQm = 0.3847623 (the published LQ above), LQs = 1.2
    lq_m, lq_s = 0.3847623, 1.2
    quality, level = coagglomeration_lq(np.array([lq_m, 1.0, 0.0]), np.array([lq_s, 1.0, 0.0]))
    expected = 1 - abs(lq_m - lq_s) / (lq_m + lq_s)  # 1 - 0.8152377 / 1.5847623 = 1 - 0.5144227
    assert quality.value[0] == pytest.approx(expected)
    assert quality.value[0] == pytest.approx(0.4855773, abs=1e-7)
    assert level.value[0] == pytest.approx(expected + lq_m + lq_s)
    assert quality.value[1] == 1.0 and level.value[1] == 3.0  # equal LQs: perfect quality
    assert math.isnan(quality.value[2]) and quality.reason[2] == BOTH_ABSENT
    assert math.isnan(level.value[2])


def test_gamma_c_of_two_industries_equals_egk_and_of_one_equals_gamma():
    rng = np.random.default_rng(7)
    weights = rng.integers(0, 50, size=(6, 2)).astype(float)
    totals = weights.sum(axis=1) + rng.integers(10, 100, size=6)
    h = np.array([0.1, 0.25])
    pair = ellison_glaeser_coagglomeration(weights, totals, h)
    egk = egk_coagglomeration(weights[:, :1], weights[:, 1:], totals).value[0, 0]
    assert pair.gamma_c == pytest.approx(egk)
    one = ellison_glaeser_coagglomeration(weights[:, :1], totals, h[:1])
    assert one.gamma_c == pytest.approx(ellison_glaeser(weights[:, 0], totals, h[:1]).gamma[0])
    assert one.n_industries == 1 and "one industry" in one.reason


def test_gamma_c_hand_computed_three_industries():
    # two zones, x = (.5, .5), sum x^2 = .5; three industries, each one firm per zone of
    # equal size: industry 1 (6, 2), 2 (2, 6), 3 (4, 4); H_j = (w1^2 + w2^2)/W^2
    weights = np.array([[6.0, 2.0, 4.0], [2.0, 6.0, 4.0]])
    totals = np.array([50.0, 50.0])
    H_j = np.array([(36 + 4) / 64, (4 + 36) / 64, (16 + 16) / 64])
    res = ellison_glaeser_coagglomeration(weights, totals, H_j)
    # group: s = (12, 12)/24 = (.5, .5) -> G = 0; w = (1/3, 1/3, 1/3), sum w^2 = 1/3
    # H = sum w^2 H_j = (40/64 + 40/64 + 32/64) / 9 = 112/576
    # G_j: (.75-.5)^2*2 = .125, .125, 0 -> G_j/(1-.5) - H_j = .25-.625, .25-.625, 0-.5
    # spill = sum w^2 (...) = (-.375 - .375 - .5)/9 = -1.25/9
    # gamma_c = (0 - 112/576 + 1.25/9) / (2/3)
    expected = (0 - 112 / 576 + 1.25 / 9) / (2 / 3)
    assert res.gamma_c == pytest.approx(expected)
    assert res.H == pytest.approx(112 / 576)
    assert res.sum_w2 == pytest.approx(1 / 3)


# ---------------------------------------------------------------------------
# Invariants by simulation
# ---------------------------------------------------------------------------


def test_eg_gamma_has_expectation_zero_under_the_dartboard():
    """Firms dropped at random with probabilities x_i: E[G] = (1 - sum x^2) H, so E[gamma] = 0."""
    rng = np.random.default_rng(20261122)
    x = np.array([0.3, 0.2, 0.15, 0.1, 0.1, 0.05, 0.05, 0.03, 0.01, 0.01])
    totals = x * 1e6
    n_firms, reps = 40, 4000
    counts = rng.multinomial(n_firms, x, size=reps).T.astype(float)  # zones x reps
    gammas = ellison_glaeser(counts, totals, np.full(reps, 1 / n_firms)).gamma
    se = gammas.std(ddof=1) / math.sqrt(reps)
    assert abs(gammas.mean()) < 4 * se
    # firm sizes unequal (employment weighting): still unbiased
    sizes = rng.pareto(1.5, size=(reps, n_firms)) + 1
    zone = np.array([rng.choice(10, size=n_firms, p=x) for _ in range(reps)])
    weights = np.zeros((10, reps))
    for r in range(reps):
        np.add.at(weights[:, r], zone[r], sizes[r])
    h = np.sum((sizes / sizes.sum(axis=1, keepdims=True)) ** 2, axis=1)
    gammas = ellison_glaeser(weights, totals, h).gamma
    se = gammas.std(ddof=1) / math.sqrt(reps)
    assert abs(gammas.mean()) < 4 * se


def test_gamma_c_of_random_split_recovers_gamma():
    """An industry split at random into parts is one industry: gamma_c of the parts ~ gamma."""
    rng = np.random.default_rng(3)
    n_zones, n_firms = 30, 3000
    x = rng.dirichlet(np.ones(n_zones))
    # a common draw of zone attractiveness gives the whole industry gamma ~ 0.05
    tilt = rng.dirichlet(np.full(n_zones, 0.05 ** -1 - 1) * x)
    zone = rng.choice(n_zones, size=n_firms, p=tilt)
    part = rng.integers(0, 3, size=n_firms)
    weights = np.zeros((n_zones, 3))
    np.add.at(weights, (zone, part), 1.0)
    totals = x * 1e7
    whole = ellison_glaeser(weights.sum(axis=1), totals, [1 / n_firms]).gamma[0]
    h_parts = 1 / weights.sum(axis=0)
    split = ellison_glaeser_coagglomeration(weights, totals, h_parts).gamma_c
    assert whole > 0.01
    assert split == pytest.approx(whole, abs=0.01)


# ---------------------------------------------------------------------------
# Undefined values: NaN with a reason
# ---------------------------------------------------------------------------


def test_undefined_measures_are_nan_with_reasons():
    lq = location_quotient([[0.0, 0.0], [3.0, 0.0]], [0.0, 5.0])
    assert math.isnan(lq.value[0, 0]) and lq.reason[0, 0] == NO_FIRMS_ZONE
    assert math.isnan(lq.value[1, 1]) and "no firms in the reference" in lq.reason[1, 1]
    assert lq.value[1, 0] == pytest.approx(1.0) and lq.reason[1, 0] == ""
    eg = ellison_glaeser(np.array([[5.0, 0.0], [0.0, 0.0]]), np.array([10.0, 10.0]), [1.0, 0.5])
    assert math.isnan(eg.gamma[0]) and eg.reason[0] == H_ONE
    assert math.isnan(eg.gamma[1]) and eg.reason[1] == NO_FIRMS_GROUP
    eg = ellison_glaeser(np.array([5.0]), np.array([10.0]), [0.2])
    assert math.isnan(eg.gamma[0]) and eg.reason[0] == ONE_ZONE
    assert math.isnan(herfindahl(np.zeros(3)).value[0])


def test_zonal_indices_reasons_for_empty_zone_and_single_firm():
    frame, zone_of = _firm_frame(
        ["C3911", "I6510", "I6510", "F4700", "C2710"],
        ["wien", "wien", "linz", "linz", "linz"],
        [10, 5, 5, 1, 3],
    )
    result = zonal_indices(frame, _three_zones(), zone_of_firm=zone_of)
    zm = result.zone_measures
    graz_lq = zm[(zm.zone_id == "graz") & (zm.measure == "lq")]
    assert graz_lq["value"].isna().all() and (graz_lq["reason"] == NO_FIRMS_ZONE).all()
    finance = zm[(zm.zone_id == "wien") & (zm.measure == "lq") & (zm.group == "finance")]
    assert finance["reason"].iloc[0] == "group has no firms in the reference region"
    divisions = result.industry_measures.set_index("industry")
    assert divisions.loc["39", "eg_reason"] == ONE_FIRM
    assert math.isnan(divisions.loc["39", "eg_gamma"])
    assert result.summary["n_empty_zones"] == 1
    # wide layer: graz row all NaN for LQ, wien's manufacturing LQ = (10/15)/(13/24)... by count
    wide = result.zones.set_index("zone_id")
    # counts: wien 2 firms (1 manufacturing), all 5 firms, 2 manufacturing -> (1/2)/(2/5)
    assert wide.loc["wien", "lq_manufacturing"] == pytest.approx((1 / 2) / (2 / 5))
    assert math.isnan(wide.loc["graz", "lq_manufacturing"])
    q = wide.loc["wien", "coagg_quality_manufacturing__producer_services"]
    lq_m, lq_s = (1 / 2) / (2 / 5), (1 / 2) / (2 / 5)
    assert q == pytest.approx(1 - abs(lq_m - lq_s) / (lq_m + lq_s))


def test_firms_outside_every_zone_are_counted_and_form_a_pseudo_zone():
    frame, zone_of = _firm_frame(
        ["C3911", "C3911", "I6510", "F4700"], ["wien", None, "linz", None], [1, 1, 1, 1]
    )
    result = zonal_indices(frame, _three_zones(), zone_of_firm=zone_of)
    assert result.summary["n_outside"] == 2
    assert result.parameters["outside_pseudo_zone"] is True
    # x over wien, linz, graz, outside = (.25, .25, 0, .5); division 39: s = (.5, 0, 0, .5)
    # HHI = .25 + .25 = .5
    row = result.industry_measures.set_index("industry").loc["39"]
    assert row["hhi"] == pytest.approx(0.5)
    assert row["eg_sum_x2"] == pytest.approx(0.25**2 * 2 + 0.5**2)


def test_employment_weighted_mean_lq_is_one_on_districts():
    from geo.io.seed import generate_firms
    from geo.io.zones import load_layer

    firms = generate_firms(5000, 11).firms
    result = zonal_indices(firms, load_layer("districts"), weighting="employment")
    wide = result.zones
    x = wide["weight_total"] / wide["weight_total"].sum()
    assert result.summary["n_outside"] == 0
    for column in [c for c in wide.columns if c.startswith("lq_")]:
        assert np.nansum(x * wide[column]) == pytest.approx(1.0), column
    # EGK pairs: every manufacturing division x every services division present
    pairs = result.pairs[result.pairs.kind_b == "division"]
    m = result.industry_measures.query("kind == 'division'")
    assert len(pairs) == pairs.industry_a.nunique() * pairs.industry_b.nunique()
    assert set(pairs.industry_a) <= set(m.industry)
    matrix = result.pair_matrix()
    assert matrix.shape == (pairs.industry_a.nunique(), pairs.industry_b.nunique() + 6)
    assert list(matrix.columns[-5:]) == ["digital", "tech", "finance", "logistics", "business"]
    a, b, value = pairs.iloc[7][["industry_a", "industry_b", "egk_gamma"]]
    assert matrix.loc[a, b] == value
    assert set(result.coagglomeration["set"]) == {
        "manufacturing+producer_services", "manufacturing", "producer_services"
    }


def test_employment_weighting_without_employees_is_a_clear_error():
    frame, zone_of = _firm_frame(["C3911"], ["wien"], [np.nan])
    with pytest.raises(InputError, match="employees"):
        zonal_indices(frame, _three_zones(), zone_of_firm=zone_of, weighting="employment")
    with pytest.raises(ConfigError, match="weighting"):
        zonal_indices(frame, _three_zones(), zone_of_firm=zone_of, weighting="revenue")


def test_missing_employees_are_counted_not_dropped_silently():
    frame, zone_of = _firm_frame(["C3911", "C3911"], ["wien", "linz"], [5, np.nan])
    result = zonal_indices(frame, _three_zones(), zone_of_firm=zone_of, weighting="employment")
    assert result.summary["n_without_weight"] == 1


# ---------------------------------------------------------------------------
# Grouping schemes
# ---------------------------------------------------------------------------


def test_sections_scheme_groups_and_pairs():
    scheme = load_scheme("sections")
    keys = [g.key for g in scheme.groups]
    assert keys[:3] == ["manufacturing", "high_tech", "producer_services"]
    assert keys[3:] == ["ps_G", "ps_I", "ps_J", "ps_L", "ps_M", "ps_N"]
    frame, _ = _firm_frame(["G5410", "I6510", "C3911", "N7710"], [None] * 4, [1] * 4)
    members = scheme.membership(frame)
    assert members[:, keys.index("ps_G")].tolist() == [True, False, False, False]
    assert members[:, keys.index("ps_N")].tolist() == [False, False, False, True]
    assert ("manufacturing", "ps_I") in {(a.key, b.key) for a, b in scheme.pairs()}


def test_custom_scheme_longest_prefix_and_roles(tmp_path):
    path = tmp_path / "groups.csv"
    path.write_text(
        "code_prefix,group,label_zh,role\n"
        "39,electronics,电子,manufacturing\n"
        "3911,computers,计算机,manufacturing\n"
        "65,software,软件,services\n",
        encoding="gbk",
    )
    scheme = load_scheme(path)
    assert [g.key for g in scheme.groups] == ["electronics", "computers", "software"]
    frame, zone_of = _firm_frame(["C3911", "C3921", "I6510", "F4700"],
                                 ["wien", "wien", "linz", "graz"], [1] * 4)
    result = zonal_indices(frame, _three_zones(), zone_of_firm=zone_of, scheme=scheme)
    wide = result.zones.set_index("zone_id")
    # computers: 1 firm in wien of 2 there, 1 of 4 overall -> (1/2) / (1/4) = 2
    assert wide.loc["wien", "lq_computers"] == pytest.approx(2.0)
    assert wide.loc["wien", "lq_electronics"] == pytest.approx(2.0)
    assert "coagg_quality_computers__software" in wide.columns


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("code_prefix,label\n39,x\n", "missing column 'group'"),
        ("code_prefix,group\nX99,a\n", "invalid code_prefix"),
        ("code_prefix,group\n39,a\n39,b\n", "listed twice"),
        ("code_prefix,group,role\n39,a,producer\n", "role must be"),
    ],
)
def test_custom_scheme_errors_name_row_and_column(tmp_path, text, match):
    path = tmp_path / "bad.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=match) as info:
        load_scheme(path)
    assert str(path) in str(info.value)


def test_unknown_scheme_name():
    with pytest.raises(ConfigError, match="unknown grouping scheme"):
        load_scheme("nonsense")
