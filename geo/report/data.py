"""Read a run folder back: the tables, the manifest and the zone layers a report is made of.

The report never recomputes a statistic: every number in it comes from a file
``geo run`` wrote (design rule: presenting consumes results). This module is
the one place that knows the run folder's file names.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio

from geo.errors import InputError
from geo.function_outputs import read_function_table
from geo.io.grids import parse_grid_spec
from geo.stats.ripley import FunctionResult

# the pair of groups the report is about, and its fields (GB/T 4754 groupings of geo)
BASE_A, BASE_B = "manufacturing", "producer_services"
GRID_LAYER = "grid"


@dataclass
class RunData:
    """Everything a report reads from a run folder.

    Attributes
    ----------
    folder : Path
        The run folder.
    manifest : dict
        ``manifest.json``.
    synthetic : bool
        Whether the enterprises are the synthetic population.
    layers : list of str
        Zone layers with zonal indices, in the run's order, without grids.
    grids : list of str
        Grid layers with zonal indices (the run's grid, and zone layers given
        as ``hex:1000`` and the like): too many cells for tables of zones.
    zones : dict of str to GeoDataFrame
        Those layers' zones (attributes and geometry) from ``layers.gpkg``.
    measures : DataFrame
        ``indices_zone_measures.csv`` for ``layers`` (the grid left out).
    coagglomeration, industry, parameters : DataFrame
        ``indices_coagglomeration.csv``, ``indices_industry_measures.csv``,
        ``indices_parameters.csv``.
    egk_matrix : DataFrame or None
        ``indices_egk_matrix.csv``.
    functions : list of FunctionResult
        ``distance_functions.csv`` (empty when the run computed none).
    colocation, clusters, sites : DataFrame or None
        ``colocation.csv``, ``clusters.csv``, ``sites.csv``.
    panel : dict of str to DataFrame
        ``panel_changes.csv``, ``panel_entrants.csv`` and ``panel_clusters.csv``
        of a panel by year (``changes``, ``entrants``, ``clusters``), where
        the run made one.
    trends : list of Path
        The panel's charts (``plots/trend_*.png``).
    areas : dict of str to GeoDataFrame
        ``ps_clusters`` and ``site_zones`` from ``layers.gpkg``, where the run
        made them.
    static_maps : list of Path
        The static maps (PNG), in their file-name order.
    """

    folder: Path
    manifest: dict
    synthetic: bool
    layers: list[str]
    grids: list[str]
    zones: dict[str, gpd.GeoDataFrame]
    measures: pd.DataFrame
    coagglomeration: pd.DataFrame
    industry: pd.DataFrame
    parameters: pd.DataFrame
    egk_matrix: pd.DataFrame | None = None
    functions: list[FunctionResult] = field(default_factory=list)
    colocation: pd.DataFrame | None = None
    clusters: pd.DataFrame | None = None
    sites: pd.DataFrame | None = None
    areas: dict[str, gpd.GeoDataFrame] = field(default_factory=dict)
    panel: dict[str, pd.DataFrame] = field(default_factory=dict)
    trends: list[Path] = field(default_factory=list)
    static_maps: list[Path] = field(default_factory=list)

    @property
    def weighting(self) -> str:
        """``count`` or the weight column the indices used."""
        return str(self.manifest.get("parameters", {}).get("weighting", "count"))


def _csv(path: Path, **options) -> pd.DataFrame:
    try:
        return pd.read_csv(path, encoding="utf-8-sig", **options)
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot be read as a run table ({exc})") from exc


def _optional(path: Path, **options) -> pd.DataFrame | None:
    return _csv(path, **options) if path.exists() else None


def _layer(folder: Path, name: str) -> gpd.GeoDataFrame:
    try:
        return gpd.read_file(folder / "layers.gpkg", layer=name, engine="pyogrio")
    except Exception as exc:  # noqa: BLE001 - pyogrio raises several types
        raise InputError(f"{folder / 'layers.gpkg'}: layer '{name}' cannot be read "
                         f"({exc})") from exc


def load_run(folder: str | Path, manifest: dict | None = None) -> RunData:
    """Read the files of a ``geo run`` folder that a report needs.

    Parameters
    ----------
    folder : str or Path
        The run folder.
    manifest : dict, optional
        The manifest, when the run is still writing it (``geo run`` builds
        the report before it writes ``manifest.json``).

    Returns
    -------
    RunData

    Raises
    ------
    InputError
        If the folder is not a run folder (no manifest or no zonal indices).
    """
    folder = Path(folder)
    if manifest is None:
        path = folder / "manifest.json"
        if not path.is_file():
            raise InputError(f"{folder}: not a geo run folder (no manifest.json); "
                             "make one with: geo run --out FOLDER")
        try:
            manifest = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise InputError(f"{path}: cannot be read ({exc})") from exc
    for name in ("indices_zone_measures.csv", "indices_parameters.csv", "layers.gpkg"):
        if not (folder / name).is_file():
            raise InputError(f"{folder}: {name} is missing; the report needs a complete "
                             "geo run folder (run geo run again)")
    text = {"zone_id": str, "name_zh": str, "layer": str}
    parameters = _csv(folder / "indices_parameters.csv", dtype=text)
    sources = manifest.get("parameters", {}).get("zones") or {}
    grids = [str(x) for x in parameters["layer"]
             if str(x) == GRID_LAYER or parse_grid_spec(str(sources.get(str(x), "")))]
    layers = [str(x) for x in parameters["layer"] if str(x) not in grids]
    measures = _csv(folder / "indices_zone_measures.csv", dtype=text, engine="pyarrow")
    measures = measures[measures["layer"].isin(layers)].reset_index(drop=True)
    zones = {layer: _layer(folder, layer) for layer in layers}
    for frame in zones.values():
        frame["zone_id"] = frame["zone_id"].astype(str)
    present = set(pyogrio.list_layers(folder / "layers.gpkg")[:, 0])
    areas = {name: _layer(folder, name) for name in ("ps_clusters", "site_zones")
             if name in present}
    functions = []
    if (folder / "distance_functions.csv").exists():
        functions = read_function_table(folder / "distance_functions.csv")
    ids = {"cluster_id": str, "candidate_id": str}
    return RunData(
        folder=folder,
        manifest=manifest,
        synthetic=bool(manifest.get("synthetic")),
        layers=layers,
        grids=grids,
        zones=zones,
        measures=measures,
        coagglomeration=_csv(folder / "indices_coagglomeration.csv", dtype=text),
        industry=_csv(folder / "indices_industry_measures.csv", dtype={**text, "industry": str}),
        parameters=parameters,
        egk_matrix=_optional(folder / "indices_egk_matrix.csv",
                             dtype={**text, "industry_a": str}),
        functions=functions,
        colocation=_optional(folder / "colocation.csv"),
        clusters=_optional(folder / "clusters.csv", dtype=ids),
        sites=_optional(folder / "sites.csv", dtype=ids),
        areas=areas,
        panel={name: _csv(folder / f"panel_{name}.csv", dtype={"zone_id": str, "key": str})
               for name in ("changes", "entrants", "clusters")
               if (folder / f"panel_{name}.csv").is_file()},
        trends=sorted((folder / "plots").glob("trend_*.png")),
        static_maps=sorted((folder / "static").glob("map_*.png")),
    )
