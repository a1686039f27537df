"""Gi*, local and global Moran and bivariate local Moran against spdep; planted clusters; FDR."""

import shutil
import subprocess
import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from geo.errors import ConfigError
from geo.stats.hotspots import global_moran, hot_spots, local_moran, spatial_weights

DATA = Path(__file__).parent / "data" / "spdep"


def _grid(frame):
    cells = [shapely.box(x - 0.5, y - 0.5, x + 0.5, y + 0.5)
             for x, y in zip(frame.cx, frame.cy, strict=True)]
    return gpd.GeoDataFrame({"zone_id": [f"c{i}" for i in range(len(frame))]},
                            geometry=cells, crs="EPSG:4549")


def _compare(reference, folder=DATA):
    grid = pd.read_csv(DATA / "grid.csv")
    cells = _grid(grid)
    w = spatial_weights(cells, "queen")
    gi = hot_spots(cells, grid.services.to_numpy(), w, permutations=99, seed=1)
    np.testing.assert_allclose(gi["gi_z"], reference["gi_z"], rtol=1e-9)
    lisa = local_moran(cells, grid.services.to_numpy(), w, permutations=99, seed=1)
    # esda scales I by (n - 1) / sum(z^2), spdep by n / sum(z^2)
    n = len(grid)
    np.testing.assert_allclose(lisa["lisa_i"] * n / (n - 1), reference["lisa_i"], rtol=1e-9)
    # analytical z under conditional randomisation: spdep's Z.Ii
    np.testing.assert_allclose(lisa["lisa_z"], reference["lisa_z"], rtol=1e-9, atol=1e-12)
    glob = pd.read_csv(folder / "reference_global.csv")
    for variable, rows in glob.groupby("variable"):
        values = grid[variable].to_numpy() if variable in grid else \
            grid["services"].to_numpy()[np.argsort((np.arange(n) * 59) % n)]
        ours = global_moran(values, w, permutations=9999, seed=3)
        for row in rows.itertuples():
            kind = "randomisation" if row.randomisation else "normality"
            assert ours.I == pytest.approx(row.I, rel=1e-9)
            assert ours.expected == pytest.approx(row.expected, rel=1e-12)
            assert getattr(ours, f"variance_{kind}") == pytest.approx(row.variance, rel=1e-9)
            assert getattr(ours, f"z_{kind}") == pytest.approx(row.z, rel=1e-9)
            assert getattr(ours, f"p_{kind}") == pytest.approx(row.p, rel=1e-6)
        # permutation p-values: two Monte Carlo draws of 9999 agree within their error
        want = rows["mc_p_greater"].iloc[0]
        se = np.sqrt(2 * want * (1 - want) / 9999) + 1e-4
        assert abs(ours.p_sim_greater - want) < 5 * se, variable


def test_gi_star_and_local_and_global_moran_match_stored_spdep_values():
    """Values written by tests/data/spdep/reference.R (spdep 1.2-7)."""
    _compare(pd.read_csv(DATA / "reference.csv"))


@pytest.mark.skipif(shutil.which("Rscript") is None, reason="R not installed")
def test_gi_star_and_local_moran_match_live_spdep(tmp_path):
    if subprocess.run(["Rscript", "-e", "library(spdep)"], capture_output=True).returncode:
        pytest.skip("spdep not installed in R")
    work = tmp_path / "tests" / "data" / "spdep"
    work.mkdir(parents=True)
    for name in ("grid.csv", "reference.R"):
        shutil.copy(DATA / name, work / name)
    proc = subprocess.run(["Rscript", str(work / "reference.R")], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    _compare(pd.read_csv(work / "reference.csv"), work)


def _planted(rng, n=30):
    cells = gpd.GeoDataFrame(
        {"zone_id": [f"c{i}" for i in range(n * n)]},
        geometry=[shapely.box(c * 500, r * 500, c * 500 + 500, r * 500 + 500)
                  for r in range(n) for c in range(n)],
        crs="EPSG:4549",
    )
    y = rng.poisson(2, n * n).astype(float)
    planted = np.zeros((n, n), bool)
    planted[10:14, 18:22] = True
    y[planted.ravel()] += 25
    return cells, y, planted.ravel()


def test_planted_cluster_is_a_hot_spot_and_hh():
    cells, y, planted = _planted(np.random.default_rng(3))
    w = spatial_weights(cells)
    # FDR over 900 cells needs p-values finer than 1/200: 999 permutations
    gi = hot_spots(cells, y, w, permutations=999, seed=2)
    assert gi.loc[planted, "gi_class"].str.startswith("hot").all()
    lisa = local_moran(cells, y, w, permutations=999, seed=2)
    assert (lisa.loc[planted, "lisa_quadrant"] == "HH").mean() > 0.9


def test_uniform_pattern_gives_few_hot_spots_after_fdr():
    rng = np.random.default_rng(5)
    cells, _, _ = _planted(rng)
    y = rng.poisson(3, len(cells)).astype(float)
    w = spatial_weights(cells)
    gi = hot_spots(cells, y, w, permutations=199, seed=3)
    # with FDR at 10 % the expected share of false discoveries is tiny under the null
    assert (gi["gi_class"] != "not significant").mean() < 0.02
    raw = hot_spots(cells, y, w, permutations=199, seed=3, use_fdr=False)
    flagged = (gi["gi_class"] != "not significant").sum()
    assert (raw["gi_class"] != "not significant").sum() >= flagged


def test_bivariate_lisa_finds_services_next_to_manufacturing():
    rng = np.random.default_rng(8)
    cells, services, planted = _planted(rng)
    manufacturing = rng.poisson(2, len(cells)).astype(float)
    manufacturing[planted] += 25  # the same block: co-agglomeration
    w = spatial_weights(cells)
    bv = local_moran(cells, services, w, other=manufacturing, permutations=999, seed=4)
    assert (bv.loc[planted, "bv_quadrant"] == "HH").mean() > 0.8
    again = local_moran(cells, services, w, other=manufacturing, permutations=999, seed=4)
    assert bv["bv_p_sim"].equals(again["bv_p_sim"])


def test_weights_specs():
    cells, _, _ = _planted(np.random.default_rng(1), n=5)
    assert spatial_weights(cells, "queen").cardinalities[12] == 8
    assert spatial_weights(cells, "rook").cardinalities[12] == 4
    assert spatial_weights(cells, "knn:3").cardinalities[12] == 3
    assert spatial_weights(cells, "distance:760").cardinalities[12] == 8  # 500 sqrt 2 = 707
    with pytest.raises(ConfigError, match="unknown weights"):
        spatial_weights(cells, "hexagonal")
    with pytest.raises(ConfigError, match="positive threshold"):
        spatial_weights(cells, "distance:abc")


def test_gi_permutation_p_values_agree_with_esda():
    from esda import G_Local

    from geo.stats.hotspots import conditional_permutation_p

    rng = np.random.default_rng(11)
    cells, _, _ = _planted(rng, n=15)
    y = rng.poisson(2, 225).astype(float)
    block = (np.arange(225) // 15 >= 5) & (np.arange(225) // 15 < 8) & (np.arange(225) % 15 >= 5) \
        & (np.arange(225) % 15 < 8)
    y[block] += 30
    w = spatial_weights(cells)
    ours = conditional_permutation_p(y, np.ones(len(y)), y, w, 4999, seed=1)
    w.transform = "B"
    with warnings.catch_warnings():  # esda's notice about its future default
        warnings.simplefilter("ignore", DeprecationWarning)
        theirs = G_Local(y, w, transform="B", permutations=4999, star=True, seed=1,
                         n_jobs=1).p_sim
    # same conditional randomisation, different random draws: Monte Carlo error only
    # (standard error of a difference of two estimates: sqrt(2 p (1 - p) / permutations))
    se = np.sqrt(2 * theirs * (1 - theirs) / 4999) + 1e-4
    assert np.all(np.abs(ours - theirs) < 5 * se)
    again = conditional_permutation_p(y, np.ones(len(y)), y, w, 4999, seed=1)
    np.testing.assert_array_equal(ours, again)
    # the planted block is as extreme as it gets
    assert ours.min() == pytest.approx(1 / 5000)


def test_local_moran_permutation_p_values_match_brute_force_simulation():
    """Each cell keeps its value; k neighbour values are drawn from the other cells."""
    rng = np.random.default_rng(12)
    cells, _, _ = _planted(rng, n=15)
    y = rng.poisson(2, 225).astype(float)
    y[100:110] += 12
    w = spatial_weights(cells)
    ours = local_moran(cells, y, w, permutations=4999, seed=1, use_fdr=False)
    z = (y - y.mean()) / y.std()
    check = np.random.default_rng(99)
    for i in (0, 17, 104, 140, 224):
        neighbours = [w.id_order.index(j) for j in w.neighbors[w.id_order[i]]]
        k = len(neighbours)
        observed = z[i] * z[neighbours].mean()
        others = np.delete(z, i)
        sims = np.array([z[i] * check.choice(others, k, replace=False).mean()
                         for _ in range(4999)])
        larger = (sims >= observed).sum()
        brute = (min(larger, 4999 - larger) + 1) / 5000
        se = np.sqrt(2 * brute * (1 - brute) / 4999) + 1e-4
        assert abs(ours.loc[i, "lisa_p_sim"] - brute) < 5 * se, i


def test_islands_are_never_significant():
    cells = gpd.GeoDataFrame(
        {"zone_id": ["a", "b", "c", "far"]},
        geometry=[shapely.box(0, 0, 1, 1), shapely.box(1, 0, 2, 1), shapely.box(2, 0, 3, 1),
                  shapely.box(10, 10, 11, 11)],
        crs="EPSG:4549",
    )
    w = spatial_weights(cells)
    assert w.islands == [3]
    gi = hot_spots(cells, np.array([1.0, 2.0, 1.0, 100.0]), w, permutations=99, seed=1)
    assert gi.loc[3, "gi_p_sim"] == 1.0 and gi.loc[3, "gi_class"] == "not significant"


def test_global_moran_is_seeded_and_leaves_numpy_alone():
    cells, y, _ = _planted(np.random.default_rng(4))
    w = spatial_weights(cells)
    np.random.seed(123)  # noqa: NPY002 - the caller's legacy generator must stay as it was
    before = np.random.random()  # noqa: NPY002
    np.random.seed(123)  # noqa: NPY002
    first = global_moran(y, w, permutations=199, seed=5)
    assert np.random.random() == before  # noqa: NPY002
    assert global_moran(y, w, permutations=199, seed=5) == first
    assert first.I > 0.3 and first.p_sim == pytest.approx(1 / 200)
    assert np.isnan(global_moran(y, w, permutations=0).p_sim)


# --- which cells are tested (issue 14, item 4) ---------------------------------------


def _square_grid(n):
    """``n`` x ``n`` unit cells; cell ``r * n + c`` is row ``r``, column ``c``."""
    boxes = [shapely.box(c, r, c + 1, r + 1) for r in range(n) for c in range(n)]
    return gpd.GeoDataFrame({"zone_id": [f"z{i}" for i in range(n * n)]}, geometry=boxes,
                            crs="EPSG:4549")


def _firms_in(counts, services):
    """One row per firm, in the cells of ``counts``; the first ``services[i]`` are services."""
    cell = np.repeat(np.arange(len(counts)), counts)
    rank = np.concatenate([np.arange(k) for k in counts]) if len(cell) else np.zeros(0, int)
    focus = rank < np.repeat(services, counts)
    frame = gpd.GeoDataFrame({"group": np.where(focus, "producer_services", "manufacturing")},
                             geometry=gpd.points_from_xy(np.zeros(len(cell)), np.zeros(len(cell))),
                             crs="EPSG:4549")
    return frame, np.array([f"z{i}" for i in cell], dtype=object), focus


def _corner_city(n=20, seed=0):
    """A corner cluster of services inside a settled left half; the right half is empty."""
    rng = np.random.default_rng(seed)
    rows, cols = np.divmod(np.arange(n * n), n)
    counts = np.where(cols < n // 2, rng.poisson(3, n * n) + 1, 0)
    services = np.where(cols < n // 2, rng.binomial(counts, 0.15), 0)
    corner = (rows < 4) & (cols < 4)
    counts[corner] += 40
    services[corner] += 40
    return _square_grid(n), counts, services, corner


def _stats(grid, counts, services, **kwargs):
    from geo.stats.hotspots import grid_cluster_statistics

    firms, zone_of, focus = _firms_in(counts, services)
    return grid_cluster_statistics(firms, grid, zone_of, focus=focus, other=~focus,
                                   analysis_crs="EPSG:4549", seed=3, **kwargs)


def test_occupied_cells_are_tested_and_empty_cells_are_not():
    cells, counts, services, _ = _corner_city()
    out = _stats(cells, counts, services, permutations=199)
    empty = counts == 0
    assert empty.sum() == 200  # the rule must have something to leave out
    np.testing.assert_array_equal(out["n_firms"], counts)
    np.testing.assert_array_equal(out["tested"], ~empty)
    for column in ("gi_class", "lisa_quadrant", "bv_quadrant"):
        assert (out.loc[empty, column] == "not tested").all(), column
        assert not (out.loc[~empty, column] == "not tested").any(), column
    for column in ("gi_z", "gi_p_sim", "gi_level", "lisa_i", "lisa_z", "lisa_p_sim", "bv_i",
                   "bv_p_sim"):
        assert out.loc[empty, column].isna().all(), column
    assert out.loc[~empty, "gi_p_sim"].notna().all()
    # the counts of untested cells are kept: a planner still sees they are empty
    assert (out.loc[empty, ["focus", "other"]] == 0).all().all()
    assert out.attrs["hotspot_cells"] == "occupied"
    assert (out.attrs["cells_tested"], out.attrs["cells_not_tested"]) == (200, 200)


def test_all_cells_tests_every_cell():
    cells, counts, services, _ = _corner_city()
    out = _stats(cells, counts, services, permutations=199, cells="all")
    assert out["tested"].all() and out["gi_p_sim"].notna().all()
    assert not (out["gi_class"] == "not tested").any()
    assert (out.attrs["cells_tested"], out.attrs["cells_not_tested"]) == (400, 0)


def test_with_the_mask_no_empty_cell_is_cold():
    cells, counts, services, corner = _corner_city()
    empty = counts == 0
    everything = _stats(cells, counts, services, cells="all")
    # the failure the mask fixes: tested with the rest, the empty half turns cold
    assert everything.loc[empty, "gi_class"].str.startswith("cold").mean() > 0.5
    masked = _stats(cells, counts, services)
    assert not masked.loc[empty, "gi_class"].str.startswith("cold").any()
    assert not masked.loc[empty, "lisa_quadrant"].isin(["LL", "LH"]).any()
    # the corner cluster is still found, relative to the settled cells around it
    inner = corner & (np.arange(400) % 20 < 3) & (np.arange(400) // 20 < 3)
    assert masked.loc[inner, "gi_class"].str.startswith("hot").all()
    cold = masked["gi_class"].str.startswith("cold")
    assert (counts[cold.to_numpy()] > 0).all()


def test_weights_are_built_on_tested_cells_and_islands_are_never_significant():
    n = 12
    cells = _square_grid(n)
    counts = np.zeros(n * n, int)
    services = np.zeros(n * n, int)
    block = [r * n + c for r in range(5) for c in range(5)]
    counts[block] = 3
    services[block[:3]] = 3
    lone = [8 * n + 10, 11 * n + 2]  # occupied, every neighbour empty
    counts[lone] = 60
    services[lone] = 60  # the largest values of all: spurious hot spots if tested alone
    out = _stats(cells, counts, services, permutations=499, use_fdr=False)
    assert out.attrs["islands"] == 2
    assert out.loc[lone, "tested"].all()
    assert (out.loc[lone, "gi_p_sim"] == 1.0).all() and out.loc[lone, "gi_z"].isna().all()
    assert (out.loc[lone, "gi_class"] == "not significant").all()
    assert (out.loc[lone, "lisa_quadrant"] == "ns").all()
    assert (out.loc[lone, "bv_quadrant"] == "ns").all()
    assert out.loc[lone, "lisa_z"].isna().all()
    # with every cell tested, the same cells have neighbours (empty ones): no islands
    assert _stats(cells, counts, services, permutations=99, cells="all").attrs["islands"] == 0


def test_scattered_or_too_few_occupied_cells_do_not_crash():
    cells = _square_grid(6)
    counts = np.zeros(36, int)
    counts[[0, 14, 28]] = [2, 5, 1]  # three cells, none adjacent: all islands
    out = _stats(cells, counts, counts.copy(), permutations=99)
    assert out.attrs["islands"] == 3
    assert (out.loc[out["tested"], "gi_class"] == "not significant").all()
    counts[28] = 0  # two occupied cells: too few for local Moran (n - 2 in its moments)
    few = _stats(cells, counts, counts.copy(), permutations=99)
    assert not few["tested"].any() and (few["gi_class"] == "not tested").all()
    assert (few["bv_quadrant"] == "not tested").all() and few["gi_z"].isna().all()
    assert few.attrs["cells_not_tested"] == 36


def test_occupancy_counts_firms_not_weights():
    from geo.stats.hotspots import grid_cluster_statistics

    cells, counts, services, _ = _corner_city(n=8)
    firms, zone_of, focus = _firms_in(counts, services)
    out = grid_cluster_statistics(firms, cells, zone_of, focus=focus,
                                  firm_weights=np.where(focus, 5.0, 0.0), permutations=19)
    # manufacturers without recorded employees still occupy their cells
    np.testing.assert_array_equal(out["tested"], counts > 0)
    assert (out["tested"] & (out["focus"] == 0)).sum() > 5
    np.testing.assert_array_equal(out["focus"], 5.0 * services)


def test_unknown_cells_rule():
    from geo.stats.hotspots import tested_cells

    with pytest.raises(ConfigError, match="occupied or all"):
        tested_cells(np.array([0, 1]), "built-up")
