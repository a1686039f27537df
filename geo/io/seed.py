"""Synthetic (seed) enterprise population for the bundled study area.

The generator lets the main job run without user data. It is calibrated, not
observed: counts per district and industry category come from
``seeds/calibration.csv`` (scaled to the requested size), industry codes from
``seeds/industry_mix.csv``, and locations from a cluster point process
(Thomas-type Gaussian clusters) around characteristic towns, industrial parks
and district cores, clipped to each district and kept out of water where a
water layer is bundled. Every record is flagged ``synthetic``; see
``seeds/README.md`` for the calibration and its limits.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.errors import ConfigError
from geo.io.crs import DEFAULT_ANALYSIS_CRS, WGS84
from geo.io.firms import FirmTable, normalise_firms
from geo.io.industry import load_classification
from geo.io.zones import layer_names, load_layer, study_area
from geo.resources import bundled_dir

CATEGORIES = (
    "manufacturing_high_tech",
    "manufacturing_other",
    "digital",
    "tech",
    "finance",
    "logistics",
    "business",
    "other_ps",
    "other",
)
BASE_SIZE = 30_000
# Towns' focus fields mapped to the seed category they attract; design towns
# host industrial and specialised design firms (M7491/M7492), counted as tech.
_TOWN_CATEGORY = {
    "digital": "digital",
    "tech": "tech",
    "design": "tech",
    "finance": "finance",
    "logistics": "logistics",
    "business": "business",
}
# Share of a district's firms of a category drawn around its matching clusters
# (towns/parks); the rest is background around the district core or anywhere.
_CLUSTER_SHARE = 0.55
_CORE_SHARE = 0.8  # of the background, around the district core; rest uniform
# Log-normal employee size (median, sigma of log): heavy-tailed like registers.
_SIZE = {
    "manufacturing_high_tech": (40.0, 1.3),
    "manufacturing_other": (25.0, 1.2),
    "other": (6.0, 1.1),
}
_SERVICE_SIZE = (8.0, 1.3)
_MAX_DRAWS = 200


@dataclass(frozen=True)
class Calibration:
    """Calibration of the seed population.

    Attributes
    ----------
    counts : pandas.DataFrame
        Firms per district (rows, indexed by adcode) and category (columns) at
        ``BASE_SIZE`` firms.
    mix : pandas.DataFrame
        Industry codes per category with sampling weights.
    centres : pandas.DataFrame
        District cores and industrial parks (lon/lat, sigma in metres).
    """

    counts: pd.DataFrame
    mix: pd.DataFrame
    centres: pd.DataFrame


def load_calibration() -> Calibration:
    """Read the bundled calibration tables from ``seeds/``.

    Returns
    -------
    Calibration
    """
    folder = bundled_dir("seeds")
    counts = pd.read_csv(folder / "calibration.csv", dtype={"adcode": str}).set_index("adcode")
    mix = pd.read_csv(folder / "industry_mix.csv", dtype=str)
    mix["weight"] = mix["weight"].astype(float)
    centres = pd.read_csv(folder / "centres.csv", dtype={"adcode": str, "categories": str})
    centres["categories"] = centres["categories"].fillna("")
    return Calibration(counts=counts, mix=mix, centres=centres)


def scale_counts(counts: pd.DataFrame, n: int) -> pd.DataFrame:
    """Scale a district x category count table to ``n`` firms in total.

    Uses largest-remainder rounding so the cells sum exactly to ``n`` and each
    cell is within one firm of its proportional share.

    Parameters
    ----------
    counts : pandas.DataFrame
        Non-negative counts (only the ``CATEGORIES`` columns are used).
    n : int
        Total number of firms wanted.

    Returns
    -------
    pandas.DataFrame
        Integer counts with the same index and the ``CATEGORIES`` columns.
    """
    table = counts.loc[:, list(CATEGORIES)].astype(float)
    exact = table.to_numpy() * (n / table.to_numpy().sum())
    floor = np.floor(exact).astype(np.int64)
    short = n - int(floor.sum())
    remainder = (exact - floor).ravel()
    # stable sort so ties resolve the same way on every machine
    top = np.argsort(-remainder, kind="stable")[:short]
    flat = floor.ravel()
    flat[top] += 1
    return pd.DataFrame(flat.reshape(floor.shape), index=table.index, columns=table.columns)


def _components(
    adcode: str, category: str, calibration: Calibration, towns: gpd.GeoDataFrame
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Cluster centres (x, y, sigma) and weights for one district and category.

    A centre with sigma = inf stands for uniform placement in the district.
    """
    xs, ys, sigmas, weights = [], [], [], []
    parks = calibration.centres[
        (calibration.centres["adcode"] == adcode)
        & (calibration.centres["kind"] == "park")
        & calibration.centres["categories"].str.split(";").apply(lambda c: category in c)
    ]
    town_rows = towns[(towns["district"] == adcode) & (towns["category"] == category)]
    clusters = [(r.x, r.y, r.sigma_m) for r in parks.itertuples()] + [
        (r.x, r.y, r.sigma_m) for r in town_rows.itertuples()
    ]
    cluster_share = _CLUSTER_SHARE if clusters else 0.0
    for x, y, sigma in clusters:
        xs.append(x)
        ys.append(y)
        sigmas.append(sigma)
        weights.append(cluster_share / len(clusters))
    core = calibration.centres[
        (calibration.centres["adcode"] == adcode) & (calibration.centres["kind"] == "core")
    ]
    if len(core) != 1:
        raise ConfigError(f"seeds/centres.csv needs exactly one core row for district {adcode}")
    background = 1.0 - cluster_share
    xs += [core["x"].iloc[0], np.nan]
    ys += [core["y"].iloc[0], np.nan]
    sigmas += [core["sigma_m"].iloc[0], np.inf]
    weights += [background * _CORE_SHARE, background * (1.0 - _CORE_SHARE)]
    return np.array(xs), np.array(ys), np.array(sigmas), np.array(weights)


def _place(
    rng: np.random.Generator,
    polygon: shapely.Geometry,
    water: shapely.Geometry | None,
    cx: np.ndarray,
    cy: np.ndarray,
    sigma: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Draw one position per row around (cx, cy), inside polygon and not in water.

    Rejected draws are redrawn from the same centre, which keeps each
    component's share exact (a truncated Gaussian per cluster).
    """
    n = cx.size
    x = np.full(n, np.nan)
    y = np.full(n, np.nan)
    todo = np.arange(n)
    west, south, east, north = polygon.bounds
    shapely.prepare(polygon)
    for _ in range(_MAX_DRAWS):
        if todo.size == 0:
            break
        uniform = ~np.isfinite(sigma[todo])
        px = np.where(
            uniform,
            rng.uniform(west, east, todo.size),
            cx[todo] + rng.standard_normal(todo.size) * np.where(uniform, 0.0, sigma[todo]),
        )
        py = np.where(
            uniform,
            rng.uniform(south, north, todo.size),
            cy[todo] + rng.standard_normal(todo.size) * np.where(uniform, 0.0, sigma[todo]),
        )
        ok = shapely.contains_xy(polygon, px, py)
        if water is not None:
            ok &= ~shapely.contains_xy(water, px, py)
        x[todo[ok]] = px[ok]
        y[todo[ok]] = py[ok]
        todo = todo[~ok]
    if todo.size:
        raise ConfigError(
            f"could not place {todo.size} synthetic firms inside their district; a centre in "
            "seeds/centres.csv or the towns layer probably lies outside its district"
        )
    return x, y


def _project_points(lon: pd.Series, lat: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    points = gpd.GeoSeries(gpd.points_from_xy(lon, lat), crs=WGS84).to_crs(DEFAULT_ANALYSIS_CRS)
    return points.x.to_numpy(), points.y.to_numpy()


def generate_firms(n: int = BASE_SIZE, seed: int = 20261122) -> FirmTable:
    """Draw a synthetic enterprise population for the bundled study area.

    Parameters
    ----------
    n : int
        Number of firms (default 30,000, the calibration's base size).
    seed : int
        Random seed; the same seed and ``n`` give the same population.

    Returns
    -------
    FirmTable
        Normalised firms (WGS84, classified, ``synthetic`` = True) passed
        through the same validation as user files, with no rejects.

    Examples
    --------
    >>> table = generate_firms(1_000, seed=1)
    >>> len(table.firms), bool(table.firms["synthetic"].all())
    (1000, True)
    """
    if n < 1:
        raise ConfigError(f"the number of synthetic firms must be positive, got {n}")
    rng = np.random.default_rng(seed)
    calibration = load_calibration()
    counts = scale_counts(calibration.counts, n)

    districts = load_layer("districts").set_index("zone_id")
    projected = districts.to_crs(DEFAULT_ANALYSIS_CRS)
    missing = sorted(set(counts.index) - set(districts.index))
    if missing:
        raise ConfigError(f"seeds/calibration.csv names districts not in the layer: {missing}")
    water = None
    if "water" in layer_names():
        water = load_layer("water").to_crs(DEFAULT_ANALYSIS_CRS).union_all()
        shapely.prepare(water)

    towns = load_layer("towns")
    towns = towns.assign(
        category=towns["focus_field"].map(_TOWN_CATEGORY),
        # planned area as a disc; sigma of the cluster is half its radius
        sigma_m=np.sqrt(towns.to_crs(DEFAULT_ANALYSIS_CRS).area / np.pi) / 2.0,
    )
    centroids = towns.to_crs(DEFAULT_ANALYSIS_CRS).representative_point()
    towns = towns.assign(x=centroids.x.to_numpy(), y=centroids.y.to_numpy())
    centres = calibration.centres.copy()
    centres["x"], centres["y"] = _project_points(centres["lon"], centres["lat"])
    calibration = Calibration(calibration.counts, calibration.mix, centres)

    frames = []
    for adcode, row in counts.iterrows():
        cx_parts, cy_parts, sigma_parts, cat_parts = [], [], [], []
        for category in CATEGORIES:
            k = int(row[category])
            if k == 0:
                continue
            xs, ys, sigmas, weights = _components(adcode, category, calibration, towns)
            pick = rng.choice(xs.size, size=k, p=weights / weights.sum())
            cx_parts.append(xs[pick])
            cy_parts.append(ys[pick])
            sigma_parts.append(sigmas[pick])
            cat_parts.append(np.full(k, category, dtype=object))
        x, y = _place(
            rng,
            projected.geometry.loc[adcode],
            water,
            np.concatenate(cx_parts),
            np.concatenate(cy_parts),
            np.concatenate(sigma_parts),
        )
        frames.append(pd.DataFrame({"x": x, "y": y, "category": np.concatenate(cat_parts),
                                    "adcode": adcode}))
    firms = pd.concat(frames, ignore_index=True)
    # shuffle so ids and file order carry no district/category pattern
    firms = firms.iloc[rng.permutation(len(firms))].reset_index(drop=True)
    firms = _attributes(firms, calibration.mix, rng)
    # a stream of its own: the history does not move any firm or change its industry
    firms["year"] = founding_years(firms, np.random.default_rng([seed, 16]))
    lonlat = gpd.GeoSeries(
        gpd.points_from_xy(firms["x"], firms["y"]), crs=DEFAULT_ANALYSIS_CRS
    ).to_crs(WGS84)
    firms["lon"] = lonlat.x.to_numpy()
    firms["lat"] = lonlat.y.to_numpy()
    raw = firms[["firm_id", "name", "industry_code", "lon", "lat", "employees", "revenue", "year"]]
    table = normalise_firms(
        raw,
        source=f"synthetic seed population (n={n}, seed={seed})",
        coords="wgs84",
        study_area=study_area(districts.reset_index()),
        classification=load_classification(),
        synthetic=True,
        geocode_checks=False,  # drawn points: no geocoder made them
    )
    if len(table.rejects):
        reasons = table.rejects["reason_en"].value_counts().to_dict()
        raise ConfigError(f"the seed generator produced invalid firms: {reasons}")
    return table


# Founding years: 2025 minus an exponential age (years) of this mean, within 1985-2025.
# A synthetic history in the picture the bundled policy texts paint: producer services
# younger than manufacturing, and youngest in Binjiang and the Chengxi corridor (grown
# fast since the 2010s); logistics in Qiantang (the old Xiasha/Dajiangdong industrial
# zones) came early.
LAST_YEAR, FIRST_YEAR = 2025, 1985
_MEAN_AGE = {"manufacturing_high_tech": 10.0, "manufacturing_other": 13.0, "other": 9.0}
_SERVICE_MEAN_AGE = 7.0
_YOUNG_SERVICES = 4.0  # producer services in Binjiang and the Chengxi corridor
_OLD_LOGISTICS = 15.0  # logistics in Qiantang
_BINJIANG, _QIANTANG, _CHENGXI = "330108", "330114", "城西科创大走廊"


def founding_years(firms: pd.DataFrame, rng: np.random.Generator) -> np.ndarray:
    """Draw the synthetic founding year of each firm from its category and place.

    Parameters
    ----------
    firms : pandas.DataFrame
        ``category``, ``adcode`` (district) and ``x``, ``y`` in the analysis CRS.
    rng : numpy.random.Generator
        The stream to draw from.

    Returns
    -------
    numpy.ndarray of int
    """
    category = firms["category"].to_numpy()
    services = ~np.isin(category, list(_MEAN_AGE))
    mean = np.where(services, _SERVICE_MEAN_AGE,
                    [_MEAN_AGE.get(c, _SERVICE_MEAN_AGE) for c in category])
    platforms = load_layer("platforms").to_crs(DEFAULT_ANALYSIS_CRS)
    corridor = platforms.loc[platforms["name_zh"] == _CHENGXI].union_all()
    inside = shapely.contains_xy(corridor, firms["x"].to_numpy(), firms["y"].to_numpy())
    district = firms["adcode"].astype(str).to_numpy()
    mean = np.where(services & ((district == _BINJIANG) | inside), _YOUNG_SERVICES, mean)
    mean = np.where((category == "logistics") & (district == _QIANTANG), _OLD_LOGISTICS, mean)
    age = np.floor(rng.exponential(mean))
    return np.clip(LAST_YEAR - age, FIRST_YEAR, LAST_YEAR).astype(int)


def _attributes(firms: pd.DataFrame, mix: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Add ids, synthetic names, industry codes, employees and revenue."""
    n = len(firms)
    codes = np.empty(n, dtype=object)
    labels = np.empty(n, dtype=object)
    for category, rows in mix.groupby("category"):
        where = np.flatnonzero(firms["category"].to_numpy() == category)
        if where.size == 0:
            continue
        weights = rows["weight"].to_numpy()
        pick = rng.choice(len(rows), size=where.size, p=weights / weights.sum())
        codes[where] = rows["industry_code"].to_numpy()[pick]
        labels[where] = rows["label_zh"].to_numpy()[pick]
    unknown = sorted(set(firms["category"]) - set(mix["category"]))
    if unknown:
        raise ConfigError(f"seeds/industry_mix.csv has no codes for categories {unknown}")
    median = np.array([_SIZE.get(c, _SERVICE_SIZE)[0] for c in firms["category"]])
    spread = np.array([_SIZE.get(c, _SERVICE_SIZE)[1] for c in firms["category"]])
    employees = np.ceil(median * np.exp(spread * rng.standard_normal(n)))
    employees = np.clip(employees, 1, 60_000)
    # revenue in 10,000 yuan (万元) per employee, log-normal around 60
    revenue = np.round(employees * 60.0 * np.exp(0.8 * rng.standard_normal(n)), 1)
    ids = np.char.add("SYN", np.char.zfill(np.arange(1, n + 1).astype(str), 7))
    return firms.assign(
        firm_id=ids,
        name=np.char.add(np.char.add("合成企业", ids), np.char.add("·", labels.astype(str))),
        industry_code=codes,
        employees=employees,
        revenue=revenue,
    )
