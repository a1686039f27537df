"""The panel stage of ``geo run``: snapshots by year or by register, and everything built on them.

Two ways in: one register cut into the years its firms were active
(``--years 2015,2020,2024``), or one register per year (``--firms 2019=a.csv
--firms 2024=b.csv``; the run's other analyses use the last). Either way the
panel holds every zonal index per year and the test of change
(:mod:`geo.stats.panel`), the entrants' co-location with incumbent manufacturing
(:mod:`geo.stats.entrants`), the producer-service clusters followed from the first to
the last year, and cross-L of both ends (:func:`geo.stats.distance.cross_l_by_year`).
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.errors import ConfigError
from geo.io.zones import assign_points
from geo.stats.clusters import cluster_areas
from geo.stats.distance import cross_l_by_year
from geo.stats.entrants import entrant_colocation
from geo.stats.panel import (
    Panel,
    Snapshot,
    active_in_year,
    build_panel,
    match_clusters,
    panel_by_year,
)
from geo.stats.schemes import Scheme

ENTRANT_LAYERS = ("districts", "platforms")


@dataclass
class PanelOptions:
    """What the panel stage needs of the run's configuration."""

    scheme: Scheme
    weighting: str
    analysis_crs: str
    area: shapely.Geometry
    permutations: int
    seed: int
    min_cluster_size: int
    distance_nsim: int
    distance_max_points: int
    keep_flagged: bool


def zone_ids(firms: gpd.GeoDataFrame, zones: dict[str, gpd.GeoDataFrame],
             analysis_crs: str) -> dict[str, np.ndarray]:
    """Zone id of each firm in each zone layer (NaN outside), as ``geo run`` assigns them."""
    projected = firms.to_crs(analysis_crs)
    return {name: np.asarray(assign_points(projected, layer.to_crs(analysis_crs)), dtype=object)
            for name, layer in zones.items() if name != "town_centres"}


def _located(firms: gpd.GeoDataFrame, keep_flagged: bool) -> np.ndarray:
    if keep_flagged:
        return np.ones(len(firms), dtype=bool)
    return ~firms["suspect_position"].to_numpy(dtype=bool)


def _entrants(frame: gpd.GeoDataFrame, zone_of: dict, zones: dict, first: int, last: int,
              options: PanelOptions, notes: list[str]) -> pd.DataFrame | None:
    xy = frame.to_crs(options.analysis_crs).geometry
    try:
        return entrant_colocation(
            frame, xy.x.to_numpy(), xy.y.to_numpy(), first, last,
            zone_of={name: zone_of[name] for name in ENTRANT_LAYERS if name in zone_of},
            zone_names={name: dict(zip(zones[name]["zone_id"].astype(str),
                                       zones[name]["name_zh"].astype(str), strict=True))
                        for name in ENTRANT_LAYERS if name in zones},
            nsim=options.permutations, seed=options.seed)
    except ConfigError as exc:
        notes.append(f"entrants not located: {exc}")
        return None


def _ends(panel: Panel, ends: dict[str, gpd.GeoDataFrame], zones: dict,
          options: PanelOptions) -> None:
    """Clusters followed between the first and last year, and cross-L of both (well placed)."""
    areas = [cluster_areas(frame, frame["group"].eq("producer_services").to_numpy(),
                           zones=zones, min_cluster_size=options.min_cluster_size,
                           analysis_crs=options.analysis_crs, stability=False)[0]
             for frame in ends.values()]
    panel.clusters = match_clusters(*areas, tuple(ends), analysis_crs=options.analysis_crs)
    if options.distance_nsim >= 0:
        panel.functions = cross_l_by_year(
            ends, options.area, options.analysis_crs, nsim=options.distance_nsim,
            seed=options.seed, max_points=options.distance_max_points)


def _build(snapshots: list[Snapshot], zones: dict, options: PanelOptions) -> Panel:
    return build_panel(snapshots, zones, scheme=options.scheme, weighting=options.weighting,
                       analysis_crs=options.analysis_crs, permutations=options.permutations,
                       seed=options.seed)


def panel_of_years(firms: gpd.GeoDataFrame, zones: dict, zone_of: dict, years: list[int],
                   options: PanelOptions, notes: list[str]) -> Panel:
    """Build the panel of one register by activity year (``--years``)."""
    panel = panel_by_year(firms, zones, zone_of, years, scheme=options.scheme,
                          weighting=options.weighting, analysis_crs=options.analysis_crs,
                          permutations=options.permutations, seed=options.seed)
    located = _located(firms, options.keep_flagged)
    placed = firms[located].reset_index(drop=True)
    placed_zones = {name: np.asarray(ids, dtype=object)[located] for name, ids in zone_of.items()}
    panel.entrants = _entrants(placed, placed_zones, zones, years[0], years[-1], options, notes)
    _ends(panel, {str(y): placed[active_in_year(placed, y)] for y in (years[0], years[-1])},
          zones, options)
    return panel


def registers_entrant_frame(first: gpd.GeoDataFrame, last: gpd.GeoDataFrame,
                            first_year: int) -> gpd.GeoDataFrame:
    """Firms of two registers as one table for :func:`geo.stats.entrants.entrant_colocation`.

    The first register's manufacturing are the incumbents; the last register's
    producer services are the sites, and those whose ``firm_id`` the first
    register lacks are the entrants (founded, for the test, the year after).
    """
    incumbents = first[first["group"] == "manufacturing"].assign(year=first_year)
    sites = last[last["group"] == "producer_services"].copy()
    new = ~sites["firm_id"].isin(set(first["firm_id"]))
    sites["year"] = np.where(new, first_year + 1, first_year)
    frame = pd.concat([incumbents, sites], ignore_index=True)
    frame["year"] = pd.array(frame["year"], dtype="Int64")
    return gpd.GeoDataFrame(frame.drop(columns=["closed"], errors="ignore"),
                            geometry="geometry", crs=last.crs)


def panel_of_registers(registers: dict[str, gpd.GeoDataFrame], zones: dict,
                       options: PanelOptions, notes: list[str]) -> Panel:
    """Build the panel of one register per year (``--firms 2019=a.csv --firms 2024=b.csv``)."""
    labels = list(registers)
    snapshots = [Snapshot(label, frame.reset_index(drop=True),
                          zone_ids(frame, zones, options.analysis_crs))
                 for label, frame in registers.items()]
    panel = _build(snapshots, zones, options)
    panel.parameters.update({"registers": True, "active": "every valid firm of each register"})
    placed = {label: frame[_located(frame, options.keep_flagged)].reset_index(drop=True)
              for label, frame in registers.items()}
    first, last = placed[labels[0]], placed[labels[-1]]
    if all(label.isdigit() for label in (labels[0], labels[-1])):
        frame = registers_entrant_frame(first, last, int(labels[0]))
        panel.entrants = _entrants(frame, zone_ids(frame, zones, options.analysis_crs), zones,
                                   int(labels[0]), int(labels[-1]), options, notes)
    else:
        notes.append("entrants not located: the registers' labels are not years")
    _ends(panel, {labels[0]: first, labels[-1]: last}, zones, options)
    return panel
