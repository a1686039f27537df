"""Many industry pairs in one pass: each pair equals its pair-by-pair function.

The references are the one-pair functions (themselves checked against
spatstat, dbmss and hand computations elsewhere) with the same seed, and
brute-force numpy counts over every site pair.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from geo.errors import ConfigError
from geo.io.seed import generate_firms
from geo.stats.coagglomeration import (
    PairStudy,
    coagglomeration_clq,
    coagglomeration_cross_l,
    coagglomeration_kd,
    coagglomeration_m,
    industry_types,
    resolve_pairs,
)
from geo.stats.colocation import colocation_quotients
from geo.stats.distance import labelled_types, type_atoms
from geo.stats.kdensity import kd_function
from geo.stats.mfunction import m_function
from geo.stats.pair_distances import pair_distance_statistics
from geo.stats.ripley import Window, default_r, kfunction
from geo.stats.typepairs import m_sums, ordered_histograms, symmetric_histograms


@pytest.fixture(scope="module")
def register():
    firms = generate_firms(3_000, seed=11).firms
    xy = firms.to_crs("EPSG:4549").geometry
    return firms, xy.x.to_numpy(), xy.y.to_numpy()


@pytest.fixture(scope="module")
def division_pairs(register):
    firms, _, _ = register
    types = industry_types(firms, "division")
    pairs, _ = resolve_pairs("manufacturing*finance", firms, types, min_firms=15)
    return types, pairs[:4]


def _two(types: np.ndarray, a: str, b: str | None) -> np.ndarray:
    """Labels for a one-pair function: a, b or other."""
    out = np.where(types == a, a, "other").astype(object)
    if b is not None:
        out[types == b] = b
    return out


# ----------------------------------------------------------------- kernels by brute force


def _brute_pairs(x, y):
    i, j = np.triu_indices(len(x), 1)
    dx, dy = x[j] - x[i], y[j] - y[i]
    return i, j, np.sqrt(dx * dx + dy * dy)  # as the kernels compute it, to the last bit


def test_symmetric_histograms_count_every_site_pair_of_each_type_pair():
    rng = np.random.default_rng(3)
    n, nsim = 300, 4
    x, y = rng.uniform(0, 1000, n), rng.uniform(0, 1000, n)
    x[:20] = np.round(x[:20], -1)  # ties and coincident points
    y[:20] = np.round(y[:20], -1)
    x[20], y[20] = x[21], y[21]
    tl = rng.integers(-1, 3, (n, nsim)).astype(np.int16)
    pidx = np.array([[0, 1, -1], [1, 2, -1], [-1, -1, -1]])
    step = 10.0
    r = np.arange(0, 400 + step, step)
    lengths = np.array([len(r), 25, len(r)])
    weights = rng.uniform(1, 5, (n, nsim))
    got = symmetric_histograms(x, y, r, tl, pidx, lengths, weights)
    i, j, d = _brute_pairs(x, y)
    cell = np.searchsorted(r, d, side="right")
    cell[d == r[-1]] = len(r) - 1
    for s in range(nsim):
        a, b = tl[i, s], tl[j, s]
        u = np.where((a >= 0) & (b >= 0), pidx[np.maximum(a, 0), np.maximum(b, 0)], -1)
        for v in range(3):
            keep = (u == v) & (d <= r[-1]) & (cell < lengths[v])
            want = np.bincount(cell[keep], weights=(weights[i, s] * weights[j, s])[keep],
                               minlength=lengths[v])
            np.testing.assert_allclose(got[v][:, s], want, rtol=1e-12)


def test_ordered_histograms_border_match_brute_force():
    from geo.stats.pairs import TIES_LEFT
    from geo.stats.ripley import _whist_cells

    rng = np.random.default_rng(5)
    n, nsim = 250, 3
    x, y = rng.uniform(0, 800, n), rng.uniform(0, 800, n)
    window = Window.rectangle(0, 800, 0, 800)
    r = default_r(200, 21)
    tl = rng.integers(-1, 2, (n, nsim)).astype(np.int16)
    pidx = np.array([[-1, 0], [1, -1]])
    bnd = window.boundary_distance(x, y)
    cells = _whist_cells(bnd, r)
    main, cens = ordered_histograms(x, y, r, tl, pidx, 2, ties=TIES_LEFT,
                                    boundary_distance=bnd, boundary_cell=cells)
    i, j, d = _brute_pairs(x, y)
    cell = np.searchsorted(r, d, side="right")
    for s in range(nsim):
        for a, b in ((i, j), (j, i)):
            ta, tb = tl[a, s], tl[b, s]
            for u, (ca, cb) in enumerate(((0, 1), (1, 0))):
                keep = (ta == ca) & (tb == cb) & (d <= r[-1]) & (d <= bnd[a])
                if u == 0 and a is i:
                    want_main = np.zeros(len(r))
                    want_cens = np.zeros(len(r))
                want_main += np.bincount(cell[keep], minlength=len(r))[:len(r)]
                censored = keep & (cells[a] < len(r))
                want_cens += np.bincount(cells[a][censored], minlength=len(r))[:len(r)]
        # both orientations of the two ordered pairs, summed
        np.testing.assert_array_equal(main[:, 0, s] + main[:, 1, s], want_main)
        np.testing.assert_array_equal(cens[:, 0, s] + cens[:, 1, s], want_cens)


def test_pair_distance_statistics_are_exact_for_every_pair():
    rng = np.random.default_rng(8)
    n = 400
    x, y = rng.uniform(0, 3000, n), rng.uniform(0, 3000, n)
    codes = rng.integers(-1, 3, n)
    pidx = np.array([[0, 1, 2], [1, 3, -1], [2, -1, -1]])
    stats = pair_distance_statistics(x, y, codes, pidx, 1500.0, sj_bins=50)
    i, j, d = _brute_pairs(x, y)
    ci, cj = codes[i], codes[j]
    u = np.where((ci >= 0) & (cj >= 0), pidx[np.maximum(ci, 0), np.maximum(cj, 0)], -1)
    for v in range(4):
        dist = d[(u == v) & (d <= 1500.0)]
        got = stats[v]
        assert got["n"] == len(dist)
        np.testing.assert_allclose(got["mean"], dist.mean(), rtol=1e-12)
        np.testing.assert_allclose(got["sd"], dist.std(ddof=1), rtol=1e-10)
        # R's quantile type 7 is numpy's "linear"
        np.testing.assert_allclose([got["q25"], got["q75"]],
                                   np.quantile(dist, [0.25, 0.75]), rtol=1e-14)
        assert got["min"] == dist.min() and got["max"] == dist.max()
        width = (dist.max() - dist.min()) * 1.01 / 50
        bins = np.trunc(dist / width).astype(int) - int(dist.min() / width)
        np.testing.assert_array_equal(got["sj_counts"],
                                      np.bincount(bins, minlength=50)[:50])


def test_m_sums_thread_count_does_not_change_a_bit(monkeypatch):
    rng = np.random.default_rng(2)
    n = 3000
    x, y = rng.uniform(0, 5000, n), rng.uniform(0, 5000, n)
    tl = rng.integers(-1, 3, (n, 40)).astype(np.int16)
    pairs = np.array([[0, 1], [1, 0], [2, 2]])
    r = np.linspace(0, 600, 13)
    w = rng.uniform(1, 10, n)
    import geo.stats.threads

    monkeypatch.setattr(geo.stats.threads, "SMALL_WORK", 0)
    monkeypatch.setenv("GEO_THREADS", "1")
    one = m_sums(x, y, r, tl, pairs, 3, weights=w)
    monkeypatch.setenv("GEO_THREADS", "2")
    two = m_sums(x, y, r, tl, pairs, 3, weights=w)
    for a, b in zip(one, two, strict=True):
        np.testing.assert_array_equal(a, b)


# ----------------------------------------------------------------- each pair = its function


@pytest.mark.parametrize("weighted", [False, True])
def test_kd_of_every_pair_equals_kd_function(register, division_pairs, weighted):
    firms, x, y = register
    types, pairs = division_pairs
    pairs = [*pairs, (pairs[0][0], pairs[0][0])]  # and a univariate Kd
    w = firms["employees"].fillna(0).to_numpy(float) if weighted else None
    study = coagglomeration_kd(x, y, types, pairs, weights=w, rmax=4000, n_r=41, nsim=19,
                               seed=7)
    assert len(study.table) == len(pairs) == len(study.results)
    for result, (a, b) in zip(study.results, pairs, strict=True):
        b = None if a == b else b
        one = kd_function(x, y, _two(types, a, b), a, b, weights=w, rmax=4000, n_r=41, nsim=19,
                          seed=7, bin_width=result.parameters["bin_width_m"])
        np.testing.assert_allclose(result.parameters["bandwidth_m"],
                                   one.parameters["bandwidth_m"], rtol=1e-12)
        scale = one.observed.max()
        np.testing.assert_allclose(result.observed, one.observed, rtol=0, atol=1e-12 * scale)
        np.testing.assert_allclose(result.hi, one.hi, rtol=0, atol=1e-12 * scale)
        np.testing.assert_allclose(result.lo, one.lo, rtol=0, atol=1e-12 * scale)
        assert result.parameters["Gamma_localisation"] == pytest.approx(
            one.parameters["Gamma_localisation"], abs=1e-12 * scale)
    row = study.table.iloc[0]
    assert row["Gamma"] == study.results[0].parameters["Gamma_localisation"]
    assert row["significant"] == (row["Gamma"] > 0)


def test_kd_with_a_fixed_bandwidth_and_threads(register, division_pairs, monkeypatch):
    import geo.stats.threads

    _, x, y = register
    types, pairs = division_pairs
    monkeypatch.setattr(geo.stats.threads, "SMALL_WORK", 0)  # the parallel kernels, even this small
    w = np.random.default_rng(1).uniform(1, 50, len(x))
    for weights in (None, w):
        monkeypatch.setenv("GEO_THREADS", "1")
        one = coagglomeration_kd(x, y, types, pairs, rmax=3000, n_r=31, bandwidth=400.0,
                                 nsim=9, seed=2, weights=weights)
        monkeypatch.setenv("GEO_THREADS", "2")
        two = coagglomeration_kd(x, y, types, pairs, rmax=3000, n_r=31, bandwidth=400.0,
                                 nsim=9, seed=2, weights=weights)
        for a, b in zip(one.results, two.results, strict=True):
            np.testing.assert_array_equal(a.observed, b.observed)
            np.testing.assert_array_equal(a.hi, b.hi)
        assert (one.table["bandwidth_m"] == 400.0).all()


def test_overlapping_types_in_one_pass_equal_their_own_runs(register):
    """Manufacturing with producer services and with each field: one pass, as in geo run."""
    firms, x, y = register
    partners = ("producer_services", "digital", "finance")
    pieces, members = type_atoms(firms, "manufacturing", partners)
    pairs = [("manufacturing", p) for p in partners]
    kd = coagglomeration_kd(x, y, pieces, pairs, members=members, rmax=4000, n_r=41, nsim=9,
                            seed=3)
    window = Window.rectangle(x.min() - 1, x.max() + 1, y.min() - 1, y.max() + 1)
    r = default_r(2000, 33)
    cross = coagglomeration_cross_l(x, y, window, pieces, pairs, members=members, r=r,
                                    nsim=9, seed=3)
    m = coagglomeration_m(x, y, pieces, pairs, members=members, r=np.linspace(0, 2000, 17),
                          nsim=9, seed=3)
    for k, partner in enumerate(partners):
        labels = labelled_types(firms, "manufacturing", partner)
        one = kd_function(x, y, labels, "manufacturing", partner, rmax=4000, n_r=41, nsim=9,
                          seed=3, bin_width=kd.results[k].parameters["bin_width_m"])
        scale = one.observed.max()
        np.testing.assert_allclose(kd.results[k].observed, one.observed, atol=1e-12 * scale)
        np.testing.assert_allclose(kd.results[k].hi, one.hi, atol=1e-12 * scale)
        lcross = kfunction(x, y, window, types=labels, a="manufacturing", b=partner, r=r,
                           nsim=9, seed=3, fun="L", relabel="all")
        np.testing.assert_allclose(cross.results[k].observed, lcross.observed, rtol=1e-12)
        np.testing.assert_allclose(cross.results[k].hi, lcross.hi, rtol=1e-12)
        mf = m_function(x, y, labels, "manufacturing", partner, r=np.linspace(0, 2000, 17),
                        nsim=9, seed=3)
        np.testing.assert_allclose(m.results[k].observed, mf.observed, rtol=1e-12)
        np.testing.assert_allclose(m.results[k].hi, mf.hi, rtol=1e-12)
    assert kd.table["n_b"].iloc[0] == int((firms["group"] == "producer_services").sum())


@pytest.mark.parametrize("correction", ["border", "none"])
def test_cross_l_of_every_pair_equals_kfunction(register, division_pairs, correction):
    _, x, y = register
    types, pairs = division_pairs
    window = Window.rectangle(x.min() - 1, x.max() + 1, y.min() - 1, y.max() + 1)
    r = default_r(2500, 33)
    study = coagglomeration_cross_l(x, y, window, types, pairs, r=r, correction=correction,
                                    nsim=19, seed=4, envelope="global")
    labels = np.where(pd.isna(types), "none", types)
    for result, (a, b) in zip(study.results, pairs, strict=True):
        one = kfunction(x, y, window, types=labels, a=a, b=b, r=r, correction=correction,
                        nsim=19, seed=4, fun="L", relabel="all", envelope="global")
        np.testing.assert_allclose(result.observed, one.observed, rtol=1e-12)
        np.testing.assert_allclose(result.hi, one.hi, rtol=1e-12)
        assert result.p_value == one.p_value
    assert set(study.table.columns) >= {"l_excess_m", "p_value", "significant"}
    with pytest.raises(ConfigError, match="univariate"):
        coagglomeration_cross_l(x, y, window, types, [(pairs[0][0],) * 2], r=r)
    with pytest.raises(ConfigError, match="border or none"):
        coagglomeration_cross_l(x, y, window, types, pairs, r=r, correction="isotropic")


def test_m_of_every_pair_equals_m_function(register, division_pairs):
    firms, x, y = register
    types, pairs = division_pairs
    pairs = [*pairs, (pairs[0][1], pairs[0][0]), (pairs[0][0], pairs[0][0])]
    w = firms["employees"].fillna(0).to_numpy(float)
    r = np.linspace(0, 2500, 26)
    study = coagglomeration_m(x, y, types, pairs, weights=w, r=r, nsim=19, seed=6)
    labels = np.where(pd.isna(types), "none", types)
    for result, (a, b) in zip(study.results, pairs, strict=True):
        one = m_function(x, y, labels, a, b, weights=w, r=r, nsim=19, seed=6)
        np.testing.assert_allclose(result.observed, one.observed, rtol=1e-12)
        np.testing.assert_allclose(result.hi, one.hi, rtol=1e-12)
        np.testing.assert_allclose(result.lo, one.lo, rtol=1e-12)


def test_clq_of_every_pair_equals_colocation_quotients(register, division_pairs):
    _, x, y = register
    types, pairs = division_pairs
    study = coagglomeration_clq(x, y, types, pairs, nsim=19, seed=5)
    labels = np.where(pd.isna(types), "other", types)
    one = colocation_quotients(x, y, labels, pairs=pairs, nsim=19, seed=5)
    pd.testing.assert_frame_equal(study.table.drop(columns="significant"), one.table)
    assert study.parameters["global_clq"] == one.global_clq
    matrix = study.matrix()
    a, b = pairs[0]
    assert matrix.loc[a, b] == one.table["clq"].iloc[0]


# ----------------------------------------------------------------- pairs, types and tables


def test_industry_types_and_pair_specifications(register, tmp_path):
    firms, _, _ = register
    divisions = industry_types(firms, "division")
    classes = industry_types(firms, "class")
    code = firms["industry_code"].iloc[0]
    assert divisions[0] == code[:3] and classes[0] == code[:5]
    pairs, notes = resolve_pairs("manufacturing×producer-services", firms, divisions,
                                 min_firms=1)
    manufacturing = set(divisions[firms["group"] == "manufacturing"])
    services = set(divisions[firms["group"] == "producer_services"])
    assert {a for a, _ in pairs} == manufacturing and {b for _, b in pairs} == services
    assert len(pairs) == len(manufacturing) * len(services) and not notes
    every, _ = resolve_pairs("all", firms, divisions, min_firms=1)
    names = set(divisions[divisions != None])  # noqa: E711
    assert len(every) == len(names) * (len(names) - 1) // 2
    few, notes = resolve_pairs("manufacturing*finance", firms, divisions, min_firms=40)
    assert notes and "fewer than 40" in notes[0]
    counts = pd.Series(divisions).value_counts()
    assert all(counts[a] >= 40 and counts[b] >= 40 for a, b in few)
    # a pair list saved by Excel on Chinese Windows (GBK), with a group on one side
    listed = tmp_path / "pairs.csv"
    listed.write_bytes("a,b\nC39,I65\n制造业,C39\n".encode("gbk").replace(
        "制造业".encode("gbk"), b"C26"))
    got, _ = resolve_pairs(str(listed), firms, divisions, min_firms=1, symmetric=False)
    assert got == [("C39", "I65"), ("C26", "C39")]
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\nC39,I65\nC39,\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="row 3"):
        resolve_pairs(str(bad), firms, divisions)
    unknown = tmp_path / "unknown.csv"
    unknown.write_text("a,b\nC39,nonsense\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="row 2, column b"):
        resolve_pairs(str(unknown), firms, divisions)
    with pytest.raises(ConfigError, match="LEFT\\*RIGHT"):
        resolve_pairs("manufacturing", firms, divisions)
    with pytest.raises(ConfigError, match="unknown type 'C9999'"):
        resolve_pairs("manufacturing*C9999", firms, divisions)


def test_type_atoms_cut_overlapping_types_into_pieces(register):
    firms, _, _ = register
    pieces, members = type_atoms(firms, "manufacturing", ("producer_services", "digital"))
    assert members["manufacturing"] == ("manufacturing",)
    assert set(members["digital"]) == {"producer_services+digital"}
    union = np.isin(pieces, members["producer_services"])
    np.testing.assert_array_equal(union, (firms["group"] == "producer_services").to_numpy())


def test_pair_study_matrix_and_strongest():
    table = pd.DataFrame({"a": ["C39", "C39", "C26"], "b": ["I65", "L72", "I65"],
                          "n_a": [5, 5, 7], "n_b": [4, 6, 4], "Gamma": [0.3, 0.0, 0.1],
                          "significant": [True, False, True]})
    study = PairStudy("Kd", table, [], {"nsim": 9})
    matrix = study.matrix()
    assert matrix.loc["C39", "I65"] == 0.3 and np.isnan(matrix.loc["C26", "L72"])
    assert list(study.strongest(2)["b"]) == ["I65", "I65"]


# ----------------------------------------------------------------- the command line


def _cli(*args):
    from typer.testing import CliRunner

    from geo.cli import app

    result = CliRunner().invoke(app, [str(a) for a in args])
    assert "Traceback" not in result.output, result.output
    return result


def test_index_kd_pairs_writes_table_matrix_curves_and_figure(tmp_path):
    from PIL import Image

    out = tmp_path / "kd_pairs.csv"
    result = _cli("index", "kd", "--pairs", "manufacturing*finance", "--n", "3000", "--nsim",
                  "9", "--rmax", "3000", "--nr", "31", "--min-firms", "15", "--out", out)
    assert result.exit_code == 0, result.output
    assert "strongest pairs" in result.output
    table = pd.read_csv(out, encoding="utf-8-sig")
    assert {"a_name_zh", "b_name_en", "Gamma", "Psi", "bandwidth_m", "bin_width_m"} <= set(
        table.columns)
    assert table["synthetic"].all() and (table["statistic"] == "Kd").all()
    assert table["a"].str.startswith("C").all() and table["b"].str.startswith("J").all()
    matrix = pd.read_csv(tmp_path / "kd_pairs_matrix.csv", encoding="utf-8-sig")
    assert len(matrix) == table["a"].nunique()
    curves = pd.read_csv(tmp_path / "kd_pairs_curves.csv", encoding="utf-8-sig")
    assert len(curves) == 31 * len(table)
    image = np.asarray(Image.open(tmp_path / "kd_pairs_matrix.png").convert("RGB"))
    assert image.shape[0] > 300 and image.shape[1] > 300
    assert len(np.unique(image.reshape(-1, 3), axis=0)) > 20  # drawn, not blank


def test_index_clq_m_and_crossk_pairs(tmp_path):
    listed = tmp_path / "pairs.csv"
    listed.write_text("a,b\nC39,I65\nmanufacturing,L72\n", encoding="utf-8")
    out = tmp_path / "clq.csv"
    result = _cli("index", "clq", "--pairs", listed, "--n", "3000", "--nsim", "9",
                  "--min-firms", "5", "--out", out)
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out, encoding="utf-8-sig")
    assert table["b"].iloc[0] == "I65" and (table["b"].iloc[1:] == "L72").all()
    assert not (tmp_path / "clq_curves.csv").exists()
    out = tmp_path / "m.csv"
    result = _cli("index", "m", "--pairs", "C39*I65", "--n", "3000", "--nsim", "9",
                  "--out", out)
    assert result.exit_code == 0, result.output
    assert list(pd.read_csv(out, encoding="utf-8-sig")["m_max"].notna()) == [True]
    result = _cli("index", "crossk", "--pairs", "C39*I65", "--ties", "closed", "--n", "3000",
                  "--out", tmp_path / "k.csv")
    assert result.exit_code == 2 and "--pairs computes cross-L" in result.output
    result = _cli("index", "crossk", "--pairs", "manufacturing", "--n", "3000",
                  "--out", tmp_path / "k.csv")
    assert result.exit_code == 2 and "LEFT*RIGHT" in result.output
    assert not (tmp_path / "k.csv").exists()
