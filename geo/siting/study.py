r"""Siting new producer-service agglomeration zones (生产性服务业集聚区选址).

The question: where would a new producer-service zone serve the most
manufacturing that is under-served today? The steps:

1. Demand: manufacturing firms, weighted by count or employment, high-tech
   manufacturing optionally weighted up. Supply: producer-service firms
   (all, or one field) with the same weighting.
2. Accessibility: two-step floating catchment (:mod:`geo.siting.access`) of supply
   for each manufacturing firm, :math:`A_i`, expressed relative to the city's
   supply per unit of demand :math:`\bar A = \sum S / \sum P`.
3. Unmet demand of a firm: :math:`P_i \max(0, 1 - A_i / \bar A)`, the part of
   its demand that the city-average level of service would meet but its
   surroundings do not.
4. Candidates (grid cells or user polygons/points), restricted to a mask and
   outside strong producer-service clusters, each scored by the unmet demand,
   demand, supply, accessibility, location quotients and co-agglomeration
   index within the service radius.
5. Selection: MCLP maximising the unmet demand within the radius of the
   chosen sites, or p-median minimising the unmet-demand-weighted distance
   (:mod:`geo.siting.locate`), with optional minimum spacing and one per platform.
   At most ``k`` zones: one that would add no unmet demand is never proposed,
   and the summary's notes say when fewer than ``k`` are.
6. Each chosen zone adds supply (by default the median supply of the existing
   strong clusters); accessibility is recomputed to report before and after.

Pure: inputs in, a :class:`SitingResult` out.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.spatial import cKDTree

from geo.errors import ConfigError, InputError
from geo.io.crs import DEFAULT_ANALYSIS_CRS, WGS84
from geo.io.grids import make_grid
from geo.io.industry import FIELDS, label
from geo.io.zones import assign_points, study_area
from geo.siting.access import DECAYS, sums_within, two_step_fca
from geo.siting.locate import covers, maximal_covering, p_median
from geo.stats.indices import coagglomeration_lq, location_quotient
from geo.stats.zonal import firm_weights

METHODS = ("mclp", "p-median")
MASKS = ("none", "platforms", "towns", "platforms+towns", "built-up")
# a candidate counts as built-up with at least this many enterprises within 500 m
BUILT_UP_FIRMS, BUILT_UP_RADIUS = 5, 500.0


@dataclass(frozen=True)
class SiteOptions:
    """Parameters of a siting run.

    Attributes
    ----------
    k : int
        Number of new zones; fewer are proposed when fewer would add unmet demand.
    radius : float
        Service radius (metres): catchment of the 2SFCA and coverage of MCLP.
    method : {"mclp", "p-median"}
        Location model.
    cell : float
        Size (metres) of the square grid cells used as candidates when no
        candidate layer is given; p-median also aggregates demand to it.
    mask : str
        Where candidates may lie: ``none``, ``platforms``, ``towns``,
        ``platforms+towns``, ``built-up`` (at least 5 enterprises within
        500 m: a proxy, no built-up layer is bundled) or ``file`` (the mask
        polygons are passed to :func:`site_zones`).
    exclude_clusters : bool
        Drop candidates inside a strong (robust) producer-service cluster area.
    field : str or None
        Producer-service field that supplies (``digital``, ``tech``...); None
        for all producer services.
    weighting : {"count", "employment"}
        Weight of a firm in demand and supply.
    high_tech_weight : float
        Multiplier of the demand of high-tech manufacturing.
    decay : {"gaussian", "uniform"}
        Distance decay of the 2SFCA.
    min_spacing : float
        Minimum distance between chosen zones (metres); 0 for none.
    one_per_platform : bool
        At most one zone per planning platform.
    zone_supply : float or None
        Supply a new zone adds (firms or employees); None: the median supply
        of the existing strong clusters.
    time_limit : float
        Solver time limit (seconds).
    seed : int
        Solver seed.
    """

    k: int = 5
    radius: float = 3000.0
    method: str = "mclp"
    cell: float = 1000.0
    mask: str = "none"
    exclude_clusters: bool = True
    field: str | None = None
    weighting: str = "count"
    high_tech_weight: float = 1.0
    decay: str = "gaussian"
    min_spacing: float = 0.0
    one_per_platform: bool = False
    zone_supply: float | None = None
    time_limit: float = 60.0
    seed: int = 0

    def check(self) -> None:
        """Raise ConfigError for an invalid option."""
        if self.method not in METHODS:
            raise ConfigError(f"unknown method '{self.method}': use {', '.join(METHODS)}")
        if self.mask not in (*MASKS, "file"):
            raise ConfigError(f"unknown mask '{self.mask}': use {', '.join(MASKS)} or a file")
        if self.decay not in DECAYS:
            raise ConfigError(f"unknown decay '{self.decay}': use {', '.join(DECAYS)}")
        if self.field is not None and self.field not in FIELDS:
            raise ConfigError(f"unknown field '{self.field}': use {', '.join(FIELDS)}")
        if self.radius <= 0 or self.cell <= 0:
            raise ConfigError("the radius and the cell size must be positive")
        if self.k < 1:
            raise ConfigError(f"k must be at least 1, got {self.k}")
        if self.high_tech_weight < 0 or self.min_spacing < 0:
            raise ConfigError("the high-tech weight and the minimum spacing cannot be negative")


@dataclass
class SitingResult:
    """Chosen zones, their catchments, every scored candidate and a summary.

    Attributes
    ----------
    sites : GeoDataFrame
        Chosen zones ranked by the unmet demand each adds, with explanation
        columns and a reason in Chinese and English (WGS84).
    catchments : GeoDataFrame
        Service-radius circle of each chosen zone (WGS84).
    candidates : GeoDataFrame
        Every candidate with its scores, ``eligible`` and ``excluded`` (why
        not eligible) (WGS84).
    summary : dict
        Totals before and after, solver, gap, timing and parameters;
        ``n_proposed`` zones, the unit of demand (``demand_unit_zh``,
        ``demand_unit_en``) and ``notes`` (e.g. why fewer than ``k`` zones).
    """

    sites: gpd.GeoDataFrame
    catchments: gpd.GeoDataFrame
    candidates: gpd.GeoDataFrame
    summary: dict = field(default_factory=dict)


def _xy(frame: gpd.GeoDataFrame) -> np.ndarray:
    return np.c_[frame.geometry.x.to_numpy(), frame.geometry.y.to_numpy()]


def _sums_within(
    centres: np.ndarray, points: np.ndarray, radius: float, columns: np.ndarray
) -> np.ndarray:
    """Sum of each column of ``columns`` (points × k) over points within ``radius``."""
    # streamed over the pairs (geo.siting.access): neighbours of dense centres reach 10^5 points
    return sums_within(centres, points, radius, columns, decay="uniform")


def _zone_names(points: gpd.GeoDataFrame, zones: dict[str, gpd.GeoDataFrame],
                crs: str) -> dict[str, pd.Series]:
    """Chinese and English names of the district, platform and town each point lies in.

    Keys are ``district``, ``district_en``, ``platform``... ('' outside every zone).
    """
    names = {}
    for layer in ("districts", "platforms", "towns"):
        key = layer[:-1]
        if layer not in zones or zones[layer].empty:
            names[key] = names[key + "_en"] = pd.Series("", index=points.index)
            continue
        projected = zones[layer].to_crs(crs)
        ids = assign_points(points, projected).to_numpy()
        for suffix, column in (("", "name_zh"), ("_en", "name_en")):
            lookup = dict(zip(projected["zone_id"], projected[column], strict=True))
            names[key + suffix] = pd.Series(ids, index=points.index).map(lookup).fillna("")
    return names


def _mask_geometry(options: SiteOptions, zones: dict[str, gpd.GeoDataFrame],
                   mask: gpd.GeoDataFrame | None, crs: str) -> shapely.Geometry | None:
    if options.mask in ("none", "built-up"):
        return None
    if options.mask == "file":
        if mask is None or mask.empty:
            raise InputError("the mask file has no polygons")
        frames = [mask]
    else:
        frames = [zones[n] for n in options.mask.split("+") if n in zones]
        if not frames:
            raise ConfigError(f"mask '{options.mask}' needs the {options.mask} zone layer")
    return shapely.union_all([shapely.make_valid(g) for f in frames
                              for g in f.to_crs(crs).geometry])


def _candidates(options: SiteOptions, zones: dict[str, gpd.GeoDataFrame],
                candidates: gpd.GeoDataFrame | None, crs: str) -> gpd.GeoDataFrame:
    """Candidate geometries (projected) with ``candidate_id`` and a site point."""
    if candidates is None:
        cells = make_grid(f"square:{options.cell:g}", study_area(zones["districts"]), crs)
        frame = cells[["zone_id", "geometry"]].rename(columns={"zone_id": "candidate_id"})
        frame["source"] = f"square grid {options.cell:g} m"
    else:
        if candidates.empty:
            raise InputError("the candidate file has no features")
        frame = candidates.copy()
        if "candidate_id" not in frame.columns:
            # zone files read by load_layer carry their ids in zone_id
            frame["candidate_id"] = (frame["zone_id"] if "zone_id" in frame.columns
                                     else [f"C{i + 1}" for i in range(len(frame))])
        # the chosen zones get their own names; the file's stays as candidate_name
        for column in ("name_zh", "name"):
            if column in frame.columns:
                frame["candidate_name"] = frame[column]
                break
        frame = frame.drop(columns=[c for c in ("name_zh", "name_en", "name", "zone_id",
                                                "source", "accuracy") if c in frame.columns])
        frame["candidate_id"] = frame["candidate_id"].astype(str)
        duplicated = frame["candidate_id"][frame["candidate_id"].duplicated()]
        if len(duplicated):
            raise InputError(f"duplicate candidate ids: {', '.join(duplicated.unique()[:5])}")
        frame["source"] = "user candidates"
    frame = frame.to_crs(crs).reset_index(drop=True)
    # a polygon's site is a point inside it (its centroid may fall outside)
    frame["site"] = frame.geometry.representative_point()
    return frame


def demand_units(weighting: str, high_tech_weight: float = 1.0) -> tuple[str, str]:
    """Name the unit of the demand figures, in Chinese and English, as weighted.

    Parameters
    ----------
    weighting : {"count", "employment"}
        Weight of a firm.
    high_tech_weight : float
        Multiplier of high-tech manufacturing; other than 1 the unit says so.

    Returns
    -------
    tuple of str
        E.g. ``("名从业人员", "employees")`` or
        ``("加权从业人员（高技术制造业×2）", "weighted employees (high-tech ×2)")``.

    Examples
    --------
    >>> demand_units("count", 1.5)
    ('加权企业数（高技术制造业×1.5）', 'weighted firms (high-tech ×1.5)')
    """
    employment = weighting == "employment"
    if high_tech_weight == 1:
        return ("名从业人员", "employees") if employment else ("家企业", "firms")
    what_zh, what_en = ("从业人员", "employees") if employment else ("企业数", "firms")
    return (f"加权{what_zh}（高技术制造业×{high_tech_weight:g}）",
            f"weighted {what_en} (high-tech ×{high_tech_weight:g})")


def _amount(value: float) -> str:
    """Format a demand figure: whole numbers, but a small positive one not as 0."""
    return f"{value:,.0f}" if value >= 10 or value == 0 else f"{value:.2g}"


def _reasons(row: pd.Series, units: tuple[str, str], radius_km: float,
             field_text: tuple[str, str]) -> tuple[str, str]:
    where_zh = "、".join(v for v in (row["district"], row["platform"], row["town"]) if v)
    where_en = ", ".join(v for v in (row["district_en"], row["platform_en"], row["town_en"]) if v)
    unit_zh, unit_en = units
    access = row["access_before"]
    if not np.isfinite(access):  # no manufacturing in reach
        access_zh, access_en = "无从计算（范围内无制造业）", "undefined (no manufacturing in reach)"
    elif access == 0:
        access_zh, access_en = "为零", "none"
    else:
        access_zh, access_en = f"为全市平均水平的 {access:.0%}", f"{access:.0%} of the city average"
    after = row["access_after"]
    after_zh = f"，可达性提升至全市平均的 {after:.0%}" if np.isfinite(after) else ""
    after_en = f" and lifts accessibility to {after:.0%} of the city average" if np.isfinite(
        after) else ""
    # LQ and co-agglomeration are undefined (NaN) with no firm in reach: say nothing then
    nearby_zh, nearby_en = [], []
    if np.isfinite(row["lq_producer_services"]):
        nearby_zh.append(f"周边生产性服务业区位熵 {row['lq_producer_services']:.2f}")
        nearby_en.append(f"Producer-service LQ nearby {row['lq_producer_services']:.2f}")
    if np.isfinite(row["coagg_quality"]):
        nearby_zh.append(f"两业协同集聚质量 {row['coagg_quality']:.2f}")
        nearby_en.append(f"co-agglomeration quality {row['coagg_quality']:.2f}")
    zh = (
        f"{where_zh or '研究区'}：{radius_km:g} km 范围内制造业需求 {_amount(row['demand'])} "
        f"{unit_zh}，{field_text[0]}可达性{access_zh}，"
        f"未满足需求 {_amount(row['unmet_demand'])}；本区新增覆盖未满足需求 "
        f"{_amount(row['unmet_covered'])}{after_zh}。"
        + ("，".join(nearby_zh) + "。" if nearby_zh else "")
    )
    nearby = ", ".join(nearby_en)
    en = (
        f"{where_en or 'Study area'}: manufacturing demand of {_amount(row['demand'])} "
        f"{unit_en} within {radius_km:g} km, {field_text[1]} accessibility {access_en}, "
        f"unmet demand {_amount(row['unmet_demand'])}; this zone newly covers "
        f"{_amount(row['unmet_covered'])} of unmet demand{after_en}."
        + (f" {nearby[:1].upper()}{nearby[1:]}." if nearby else "")
    )
    return zh, en


def site_zones(
    firms: gpd.GeoDataFrame,
    zones: dict[str, gpd.GeoDataFrame],
    options: SiteOptions | None = None,
    *,
    candidates: gpd.GeoDataFrame | None = None,
    mask: gpd.GeoDataFrame | None = None,
    clusters: gpd.GeoDataFrame | None = None,
    analysis_crs: str = DEFAULT_ANALYSIS_CRS,
) -> SitingResult:
    """Propose ``k`` new producer-service zones where manufacturing is under-served.

    Every proposed zone adds unmet demand (``unmet_covered > 0``); when fewer
    than ``k`` candidates would, fewer zones are proposed and
    ``summary["notes"]`` says so.

    Parameters
    ----------
    firms : GeoDataFrame
        Normalised firms (``group``, ``field``, ``high_tech``, optional
        ``employees``), any CRS.
    zones : dict of str to GeoDataFrame
        ``districts`` (required: the study area), and ``platforms``,
        ``towns`` to name zones and for masks and one-per-platform.
    options : SiteOptions, optional
        Parameters; defaults to ``SiteOptions()``.
    candidates : GeoDataFrame, optional
        User candidate polygons or points (optional ``candidate_id``,
        ``name``); grid cells of ``options.cell`` otherwise.
    mask : GeoDataFrame, optional
        Mask polygons when ``options.mask == "file"``.
    clusters : GeoDataFrame, optional
        Producer-service cluster areas (:func:`geo.stats.clusters.cluster_areas`);
        strong ones (``robust``) are excluded and set the default zone supply.
    analysis_crs : str
        Projected CRS in metres.

    Returns
    -------
    SitingResult

    Raises
    ------
    ConfigError
        If no candidate remains after the mask and cluster exclusion.
    InputError
        If there is no demand or supply, or no eligible candidate has unmet
        demand within the radius.
    """
    options = options or SiteOptions()
    options.check()
    crs = analysis_crs
    projected = firms.to_crs(crs)
    xy = _xy(projected)
    weight, _ = firm_weights(projected, options.weighting)
    manufacturing = projected["group"].eq("manufacturing").to_numpy()
    services = projected["group"].eq("producer_services").to_numpy()
    supplying = services & (
        projected["field"].eq(options.field).to_numpy() if options.field else True
    )
    if not manufacturing.any():
        raise InputError("no manufacturing firms: there is no demand to serve")
    if not supplying.any():
        which = f" in field {options.field}" if options.field else ""
        raise InputError(f"no producer-service firms{which}: there is no supply to measure")
    high_tech = projected["high_tech"].astype(bool).to_numpy()
    demand = np.where(manufacturing, weight * np.where(high_tech, options.high_tech_weight, 1.0),
                      0.0)
    supply = np.where(supplying, weight, 0.0)
    if demand.sum() <= 0 or supply.sum() <= 0:
        raise InputError(
            f"manufacturing demand ({demand.sum():g}) and producer-service supply "
            f"({supply.sum():g}) must both be positive; with --weight employment, are "
            "the employees (从业人员) missing?"
        )
    d_idx, s_idx = np.flatnonzero(manufacturing), np.flatnonzero(supplying)
    city_ratio = supply.sum() / demand.sum()
    access, _ = two_step_fca(xy[d_idx], demand[d_idx], xy[s_idx], supply[s_idx],
                             options.radius, options.decay)
    relative = access / city_ratio
    unmet = demand[d_idx] * np.clip(1.0 - relative, 0.0, None)

    # candidates, eligibility
    frame = _candidates(options, zones, candidates, crs)
    sites_at = frame["site"].to_numpy()
    site_xy = np.c_[shapely.get_x(sites_at), shapely.get_y(sites_at)]
    excluded = np.full(len(frame), "", dtype=object)
    area = gpd.GeoSeries([study_area(zones["districts"])], crs=WGS84).to_crs(crs).iloc[0]
    inside = shapely.covered_by(shapely.points(site_xy), area)
    excluded[~inside] = "outside the study area"
    region = _mask_geometry(options, zones, mask, crs)
    if region is not None:
        outside = ~shapely.covered_by(shapely.points(site_xy), region)
        excluded[(excluded == "") & outside] = f"outside the mask ({options.mask})"
    if options.mask == "built-up":
        nearby = cKDTree(xy).query_ball_point(site_xy, BUILT_UP_RADIUS, return_length=True)
        excluded[(excluded == "") & (nearby < BUILT_UP_FIRMS)] = (
            f"not built-up (< {BUILT_UP_FIRMS} firms within {BUILT_UP_RADIUS:g} m)"
        )
    strong = None
    if clusters is not None and not clusters.empty:
        strong = clusters[clusters["robust"].astype(bool)] if "robust" in clusters else clusters
    if options.exclude_clusters and strong is not None and not strong.empty:
        hull = shapely.union_all(strong.to_crs(crs).geometry.to_numpy())
        in_cluster = shapely.covered_by(shapely.points(site_xy), hull)
        excluded[(excluded == "") & in_cluster] = "inside a strong producer-service cluster"
    eligible = excluded == ""
    if not eligible.any():
        raise ConfigError(
            "no candidate remains after the mask and cluster exclusion: widen the mask "
            "(--mask none) or allow candidates in clusters (--keep-clusters)"
        )

    # scores of every candidate within the radius
    # one neighbour search for every sum: non-manufacturing firms add 0 to the last two
    served, unmet_all = np.zeros(len(xy)), np.zeros(len(xy))
    served[d_idx], unmet_all[d_idx] = demand[d_idx] * relative, unmet
    columns = np.c_[demand, supply, weight, np.where(manufacturing, weight, 0.0),
                    np.where(services, weight, 0.0), unmet_all, served]
    sums = _sums_within(site_xy, xy, options.radius, columns)
    with np.errstate(invalid="ignore", divide="ignore"):
        access_before = np.where(sums[:, 0] > 0, sums[:, 6] / sums[:, 0], np.nan)
    lq = location_quotient(sums[:, 3:5], sums[:, 2],
                           reference_industry=np.array([
                               weight[manufacturing].sum(), weight[services].sum()]),
                           reference_total=weight.sum()).value
    quality, level = coagglomeration_lq(lq[:, 0], lq[:, 1])
    frame = frame.assign(
        demand=sums[:, 0], supply=sums[:, 1], unmet_demand=sums[:, 5],
        access_before=access_before, lq_manufacturing=lq[:, 0],
        lq_producer_services=lq[:, 1], coagg_quality=quality.value, coagg_level=level.value,
        eligible=eligible, excluded=excluded,
    )

    # selection over the eligible candidates
    pool = np.flatnonzero(eligible)
    groups = None
    if options.one_per_platform and "platforms" in zones:
        platform_ids = assign_points(gpd.GeoDataFrame(geometry=frame["site"], crs=crs),
                                     zones["platforms"].to_crs(crs))
        groups = platform_ids.to_numpy()[pool]
    # at most k: a zone forced in only to make up the number would serve nobody
    common = dict(min_spacing=options.min_spacing, groups=groups,
                  time_limit=options.time_limit, seed=options.seed, at_most=True)
    k = min(options.k, len(pool))
    demand_xy = xy[d_idx]
    if options.method == "mclp":
        solution = maximal_covering(demand_xy, unmet, site_xy[pool], k, options.radius,
                                    **common)
    else:
        cells_xy, cells_w = _aggregate(demand_xy, unmet, options.cell)
        solution = p_median(cells_xy, cells_w, site_xy[pool], k, **common)
    chosen = pool[solution.chosen]

    # rank chosen sites by the unmet demand each adds (greedy order)
    order, marginal = _rank(demand_xy, unmet, site_xy[chosen], options.radius)
    # never propose a zone that adds no unmet demand (the greedy order puts them last)
    useful = marginal > 1e-9 * unmet.sum()
    chosen, marginal = chosen[order][useful], marginal[useful]
    if len(chosen) == 0:
        raise InputError(
            f"no eligible candidate has unmet manufacturing demand within {options.radius:g} m: "
            "the manufacturing near every candidate is served at the city average or better; "
            "widen the mask or the radius"
        )
    notes = []
    if len(chosen) < options.k:
        limits = [text for flag, text in (
            (len(pool) < options.k, f"{len(pool)} eligible candidate(s)"),
            (options.one_per_platform, "one zone per platform"),
            (options.min_spacing > 0, f"{options.min_spacing:g} m spacing"),
        ) if flag]
        notes.append(
            f"only {len(chosen)} of the {options.k} requested zones add unmet demand"
            + (f" (with {', '.join(limits)})" if limits else "")
            + f": {len(chosen)} proposed / 仅 {len(chosen)} 处新区能新增覆盖未满足需求，"
            f"少于要求的 {options.k} 处"
        )

    # accessibility after: each new zone adds supply at its site
    zone_supply = options.zone_supply
    if zone_supply is None:
        zone_supply = _median_cluster_supply(strong, xy, supply, crs)
    if zone_supply is None:  # no strong cluster: what a typical supplied candidate reaches
        reached = frame["supply"][frame["supply"] > 0]
        zone_supply = float(reached.median()) if len(reached) else supply.sum() / options.k
    # the 2SFCA adds up over supplies (a supply's ratio depends on the demand only), so
    # the new zones' own accessibility is added to the one before: no second pass over
    # every supply-demand pair
    added, _ = two_step_fca(demand_xy, demand[d_idx], site_xy[chosen],
                            np.full(len(chosen), zone_supply), options.radius, options.decay)
    after = access + added
    relative_after = after / city_ratio
    unmet_after = demand[d_idx] * np.clip(1.0 - relative_after, 0.0, None)
    after_sum = _sums_within(site_xy[chosen], demand_xy, options.radius,
                             np.c_[demand[d_idx] * relative_after])[:, 0]

    sites = frame.iloc[chosen].reset_index(drop=True)
    sites.insert(0, "rank", np.arange(1, len(chosen) + 1))
    sites["unmet_covered"] = marginal
    with np.errstate(invalid="ignore", divide="ignore"):
        sites["access_after"] = np.where(sites["demand"] > 0, after_sum / sites["demand"], np.nan)
    site_points = gpd.GeoDataFrame(geometry=sites["site"], crs=crs)
    for column, names in _zone_names(site_points, zones, crs).items():
        sites[column] = names.to_numpy()
    # a user candidate's own name leads; otherwise the platform or district says where
    own = (sites["candidate_name"].fillna("").astype(str) if "candidate_name" in sites
           else pd.Series("", index=sites.index))
    sites["name_zh"] = [
        f"拟建生产性服务业集聚区 {r}" + (f"（{n or p or d}）" if (n or p or d) else "")
        for r, n, p, d in zip(sites["rank"], own, sites["platform"], sites["district"],
                              strict=True)
    ]
    sites["name_en"] = [
        f"Proposed producer-service zone {r}" + (f" ({n or p or d})" if (n or p or d) else "")
        for r, n, p, d in zip(sites["rank"], own, sites["platform_en"], sites["district_en"],
                              strict=True)
    ]
    # short map labels; the full names are in the tooltip
    sites["label_zh"] = [f"拟建 {r}" for r in sites["rank"]]
    sites["label_en"] = [f"Proposed {r}" for r in sites["rank"]]
    field_text = ((label(options.field, "zh"), label(options.field, "en")) if options.field
                  else ("生产性服务业", "producer-service"))
    units = demand_units(options.weighting, options.high_tech_weight)
    reasons = [_reasons(row, units, options.radius / 1000, field_text)
               for _, row in sites.iterrows()]
    sites["reason_zh"] = [r[0] for r in reasons]
    sites["reason_en"] = [r[1] for r in reasons]
    sites["method"] = options.method
    sites["radius_m"] = options.radius
    sites["zone_supply"] = zone_supply

    catchments = gpd.GeoDataFrame(
        sites[["rank", "candidate_id", "name_zh", "name_en", "demand", "unmet_demand",
               "unmet_covered"]],
        geometry=shapely.buffer(sites["site"].to_numpy(), options.radius, quad_segs=32), crs=crs,
    )
    site_layer = gpd.GeoDataFrame(sites.drop(columns=["site"]), geometry="geometry", crs=crs)
    candidate_layer = gpd.GeoDataFrame(frame.drop(columns=["site"]), geometry="geometry", crs=crs)

    covered_before = _near_clusters(demand_xy, strong, options.radius, crs)
    covered_after = covered_before | covers(demand_xy, site_xy[chosen], options.radius)
    total = demand[d_idx].sum()
    summary = {
        "options": asdict(options),
        "solver": solution.solver,
        "status": solution.status,
        "gap": solution.gap if np.isfinite(solution.gap) else None,  # None: no bound proven
        "solve_seconds": round(solution.seconds, 3),
        "objective": solution.objective,
        "n_candidates": int(len(frame)),
        "n_eligible": int(eligible.sum()),
        "n_proposed": int(len(chosen)),
        "demand_unit_zh": units[0],
        "demand_unit_en": units[1],
        "n_manufacturing": int(manufacturing.sum()),
        "n_supply": int(supplying.sum()),
        "demand_total": float(total),
        "supply_total": float(supply.sum()),
        "city_supply_per_demand": float(city_ratio),
        "zone_supply": float(zone_supply),
        "unmet_before": float(unmet.sum()),
        "unmet_after": float(unmet_after.sum()),
        "unmet_covered_by_new_zones": float(marginal.sum()),
        "demand_near_clusters_before": float(demand[d_idx][covered_before].sum()),
        "demand_near_clusters_after": float(demand[d_idx][covered_after].sum()),
        "share_covered_before": float(demand[d_idx][covered_before].sum() / total),
        "share_covered_after": float(demand[d_idx][covered_after].sum() / total),
        "notes": notes,
    }
    return SitingResult(site_layer.to_crs(WGS84), catchments.to_crs(WGS84),
                        candidate_layer.to_crs(WGS84), summary)


def _rank(demand_xy: np.ndarray, unmet: np.ndarray, sites_xy: np.ndarray,
          radius: float) -> tuple[np.ndarray, np.ndarray]:
    """Greedy order of the sites by the unmet demand each adds, and those amounts."""
    # one sorted index array per chosen site (few): O(k n) time, no per-pair Python lists;
    # d^2 <= r^2 compared as cKDTree does
    r2 = float(radius) * float(radius)
    reach = [np.flatnonzero((demand_xy[:, 0] - x) ** 2 + (demand_xy[:, 1] - y) ** 2 <= r2)
             for x, y in sites_xy]
    left = unmet.copy()
    order, marginal = [], []
    remaining = list(range(len(sites_xy)))
    while remaining:
        gains = [left[reach[j]].sum() for j in remaining]
        best = remaining.pop(int(np.argmax(gains)))
        order.append(best)
        marginal.append(left[reach[best]].sum())
        left[reach[best]] = 0.0
    return np.array(order, dtype=int), np.array(marginal)


def _aggregate(xy: np.ndarray, w: np.ndarray, cell: float) -> tuple[np.ndarray, np.ndarray]:
    """Demand summed per square cell, located at its weighted centre (for p-median)."""
    positive = w > 0
    xy, w = xy[positive], w[positive]
    _, index = np.unique(np.floor(xy / cell).astype(np.int64), axis=0, return_inverse=True)
    index = index.ravel()
    total = np.bincount(index, weights=w)
    centre = np.c_[np.bincount(index, weights=w * xy[:, 0]),
                   np.bincount(index, weights=w * xy[:, 1])] / total[:, None]
    return centre, total


def _median_cluster_supply(strong: gpd.GeoDataFrame | None, xy: np.ndarray, supply: np.ndarray,
                           crs: str) -> float | None:
    if strong is None or strong.empty:
        return None
    points = gpd.GeoDataFrame(geometry=gpd.points_from_xy(xy[:, 0], xy[:, 1]), crs=crs)
    areas = strong.to_crs(crs).reset_index(drop=True).assign(zone_id=lambda f: f.index)
    ids = assign_points(points, areas)
    per_cluster = pd.Series(supply).groupby(ids.to_numpy()).sum()
    per_cluster = per_cluster[per_cluster > 0]
    return float(per_cluster.median()) if len(per_cluster) else None


def _near_clusters(demand_xy: np.ndarray, strong: gpd.GeoDataFrame | None, radius: float,
                   crs: str) -> np.ndarray:
    """Whether each demand point lies within ``radius`` of a strong cluster area."""
    if strong is None or strong.empty:
        return np.zeros(len(demand_xy), dtype=bool)
    reach = shapely.buffer(shapely.union_all(strong.to_crs(crs).geometry.to_numpy()), radius)
    return shapely.covered_by(shapely.points(demand_xy), reach)
