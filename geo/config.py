"""The run configuration: everything ``geo run`` needs, from the command line or a TOML file.

:class:`RunConfig` holds the options; :func:`load_config` reads them from a
run configuration file whose sections mirror the fields (``[inputs]``,
``[zones]``, ``[indices]``, ``[distance]``, ``[clusters]``, ``[siting]``,
``[panel]``...). Relative paths in the file are relative to the file.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from geo.errors import ConfigError
from geo.io.seed import BASE_SIZE

DEFAULT_SEED = 20261122
DEFAULT_GRID = "square:2000"
DEFAULT_ZONES = {"districts": "districts", "platforms": "platforms", "towns": "towns"}


@dataclass
class RunConfig:
    """Everything ``geo run`` needs; the TOML file mirrors these fields.

    Attributes
    ----------
    firms : Path or None
        Enterprise file; None uses the synthetic seed population.
    coords : str
        Coordinate system of ``firms`` (wgs84, gcj02, bd09, cgcs2000, EPSG code).
    columns : dict
        Schema name to file column, for headers that are not recognised.
    encoding, sheet, layer : str or None
        Reader options for CSV, XLSX and multi-layer files.
    seed_n, seed : int
        Size and seed of the synthetic population; ``seed`` also draws the
        web map's sample of local CLQ points when there are too many to show all.
    zones : dict
        Zone layer name to a bundled layer name, a file or a grid
        specification (``hex:1000``); ``districts`` is required (it defines
        the study area).
    analysis_crs : str
        Projected CRS in metres for distances and areas.
    classification : Path or None
        A user's industry classification table (same columns as the bundled one).
    output : Path
        Run folder.
    lang : str
        Language of the map, ``zh`` or ``en``.
    recipe : str
        Map recipe name or file.
    basemap : str or None
        Basemap of the web map (``osm``, ``cartodb``, ``amap``,
        ``amap-satellite``, ``tianditu``, ``none``); None: the recipe's, or
        ``none`` when ``offline``. Tianditu's key comes from ``TIANDITU_TOKEN``.
    offline : bool
        Write ``map.html`` with Leaflet inlined, so it opens without network.
    grid : str or None
        Grid zone layer for the indices (``square:2000``, ``hex:1000``,
        ``h3:8``); None for none.
    weighting : str
        Weight of a firm in the indices: ``count`` or ``employment``.
    groups : str
        Grouping scheme of the indices: ``fields``, ``sections`` or a CSV.
    distance_nsim : int
        Simulations of the distance-based functions (cross-L, Kd, co-location
        quotients); -1 skips them.
    distance_pairs : str
        Industry pairs by GB/T 4754 division for the pair studies
        (``manufacturing*producer_services``, ``all`` or a CSV file); empty
        for none.
    distance_pair_statistics : list of str
        Statistics of those pairs: ``clq`` (default; cheap), ``kd``,
        ``crossk``, ``m``.
    distance_max_points : int
        Above this many firms, cross-L and Kd use a seeded random sample of
        this size (printed and in the manifest); 0 uses every firm
        (``geo run --full``). Co-location quotients always use every firm.
    permutations : int
        Conditional permutations of the grid hot spots and LISA.
    hotspot_cells : str
        Grid cells the hot spots and LISA test: ``occupied`` (cells with at
        least one of the well-placed firms, of any group; empty mountains and
        lakes are not tested) or ``all``.
    min_cluster_size : int
        HDBSCAN's smallest producer-service cluster.
    density_bandwidth : float
        Bandwidth (metres) of the kernel density rasters.
    site_k : int
        New producer-service zones to propose (0 skips the siting).
    site_radius : float
        Service radius of a new zone (metres).
    site_method : str
        Location model: ``mclp`` or ``p-median``.
    site_cell : float
        Candidate grid cell size (metres).
    site_mask : str
        Where zones may go: ``none``, ``platforms``, ``towns``,
        ``platforms+towns`` or ``built-up``.
    exports : list of str
        Extra export formats of every layer (``shp``, ``kml``, ``geojson``...),
        written inside the run folder besides ``layers.gpkg``.
    boundary_tolerance : float
        Metres outside the study area within which firms are kept (moved 1 m
        inside, the distance recorded) instead of rejected.
    keep_flagged : bool
        Keep firms with suspect positions (geocoder fallbacks, district
        mismatches) in the distance-based statistics, clusters, hot spots and
        siting; by default they are left out of these (they stay in the firms
        layer and the zonal indices).
    allow_formulas : bool
        Trusted data: write CSV and XLSX text cells as they are. By default
        text a spreadsheet would run as a formula (``=``, ``+``, ``-``, ``@``...)
        is neutralised (:mod:`geo.safety`).
    static_extent : str
        Extent of the static maps (``[map] static_extent``): ``core`` (where
        80 % of the enterprises are), ``city`` or ``"W,S,E,N"`` in WGS84
        degrees (:func:`geo.maps.extent.parse_extent`).
    years : list of int or str, optional
        Panel by year (``[panel] years``, ``--years 2015,2020,2024``): every
        zonal index for the firms active in each year, and the change from the
        first to the last year (:mod:`geo.stats.panel`).
    registers : dict of str to Path, optional
        A panel of one register per year (``[panel] registers``, ``--firms
        2019=a.csv --firms 2024=b.csv``), read as ``firms`` is; the run's
        other analyses use the last one.
    panel_permutations : int
        Random relabellings of the test of change (``[panel] permutations``).
    """

    firms: Path | None = None
    coords: str = "wgs84"
    columns: dict[str, str] = field(default_factory=dict)
    encoding: str | None = None
    sheet: str | None = None
    layer: str | None = None
    seed_n: int = BASE_SIZE
    seed: int = DEFAULT_SEED
    zones: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_ZONES))
    analysis_crs: str = "EPSG:4549"
    classification: Path | None = None
    output: Path = Path("geo-out")
    lang: str = "zh"
    recipe: str = "default"
    basemap: str | None = None
    offline: bool = False
    grid: str | None = DEFAULT_GRID
    weighting: str = "count"
    groups: str = "fields"
    distance_nsim: int = 99
    distance_max_points: int = 50_000
    distance_pairs: str = "manufacturing*producer_services"
    distance_pair_statistics: list[str] = field(default_factory=lambda: ["clq"])
    permutations: int = 999
    hotspot_cells: str = "occupied"
    min_cluster_size: int = 50
    density_bandwidth: float = 1000.0
    site_k: int = 5
    site_radius: float = 3000.0
    site_method: str = "mclp"
    site_cell: float = 1000.0
    site_mask: str = "built-up"
    exports: list[str] = field(default_factory=list)
    boundary_tolerance: float = 0.0
    keep_flagged: bool = False
    allow_formulas: bool = False
    static_extent: str = "core"
    years: list[int] | str | None = None
    registers: dict[str, Path] | None = None
    panel_permutations: int = 999


# TOML layout: section -> {key: RunConfig field}
_TOML_KEYS = {
    "inputs": {
        "firms": "firms",
        "coords": "coords",
        "columns": "columns",
        "encoding": "encoding",
        "sheet": "sheet",
        "layer": "layer",
        "classification": "classification",
        "boundary_tolerance": "boundary_tolerance",
        "keep_flagged": "keep_flagged",
    },
    "seed": {"n": "seed_n", "seed": "seed"},
    "zones": None,  # free-form: layer name -> bundled name or file
    "crs": {"analysis": "analysis_crs"},
    "output": {"folder": "output", "lang": "lang", "recipe": "recipe", "exports": "exports",
               "allow_formulas": "allow_formulas"},
    "map": {"basemap": "basemap", "offline": "offline", "static_extent": "static_extent"},
    "indices": {"grid": "grid", "weighting": "weighting", "groups": "groups"},
    "distance": {"nsim": "distance_nsim", "max_points": "distance_max_points",
                 "pairs": "distance_pairs", "pair_statistics": "distance_pair_statistics"},
    "clusters": {"permutations": "permutations", "min_cluster_size": "min_cluster_size",
                 "density_bandwidth": "density_bandwidth", "hotspot_cells": "hotspot_cells"},
    "siting": {"k": "site_k", "radius": "site_radius", "method": "site_method",
               "cell": "site_cell", "mask": "site_mask"},
    "panel": {"years": "years", "registers": "registers", "permutations": "panel_permutations"},
}
_PATH_FIELDS = {"firms", "classification", "output"}


def load_config(path: str | Path) -> RunConfig:
    """Read a run configuration (TOML); relative paths are relative to the file.

    Parameters
    ----------
    path : str or Path
        The TOML file.

    Returns
    -------
    RunConfig

    Raises
    ------
    ConfigError
        For a missing file, invalid TOML, or an unknown section or key.

    Examples
    --------
    A configuration that runs on a user's register in GCJ-02::

        [inputs]
        firms = "firms.csv"
        coords = "gcj02"
        [output]
        folder = "out"
    """
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"run configuration not found: {path}") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"invalid TOML: {exc}", file=path) from exc
    base = path.resolve().parent
    config = RunConfig()
    for section, values in data.items():
        if section not in _TOML_KEYS:
            raise ConfigError(
                f"unknown section [{section}]; known: {', '.join(_TOML_KEYS)}", file=path
            )
        if not isinstance(values, dict):
            raise ConfigError(f"[{section}] must be a table", file=path)
        if section == "zones":
            config.zones.update({k: _resolve(str(v), base) for k, v in values.items()})
            continue
        for key, value in values.items():
            target = _TOML_KEYS[section].get(key)
            if target is None:
                known = ", ".join(_TOML_KEYS[section])
                raise ConfigError(f"unknown key '{key}' in [{section}]; known: {known}", file=path)
            if target in _PATH_FIELDS:
                value = base / value
            elif target == "registers":
                if not isinstance(value, dict):
                    raise ConfigError("[panel] registers is a table of year = file", file=path)
                value = {str(k): base / str(v) for k, v in value.items()}
            elif target == "groups":
                value = _resolve(str(value), base)
            elif target == "grid" and value in ("", "none"):
                value = None
            setattr(config, target, value)
    return config


def _resolve(value: str, base: Path) -> str:
    """Resolve a zone entry: a bundled layer name, or a file relative to the config."""
    return str(base / value) if Path(value).suffix else value
