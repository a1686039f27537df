"""``geo run``: compose the steps from a run configuration into one run folder.

The run folder holds every output and a ``manifest.json`` (inputs with
checksums, parameters, seeds, versions, timings, outputs), written atomically:
a failed run leaves the previous folder as it was.
"""

from __future__ import annotations

import hashlib
import json
import platform
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields, replace
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from geo import __version__
from geo.config import RunConfig
from geo.errors import ConfigError, InputError
from geo.export.layers import (
    EXPORT_FORMATS,
    export_layers,
    read_layers,
    write_geopackage,
    write_tables,
)
from geo.function_outputs import plot_function, write_function_table
from geo.io.crs import attribute_table, parse_coord_system
from geo.io.firms import FirmTable, read_firms
from geo.io.industry import load_classification
from geo.io.seed import generate_firms
from geo.io.zones import assign_points, load_layer, load_zones, study_area
from geo.maps import (
    MapRecipe,
    choose_basemap,
    load_recipe,
    map_class,
    save_map,
    source_note,
    web_map,
)
from geo.maps.basemaps import basemap as describe_basemap
from geo.maps.extent import parse_extent
from geo.maps.fonts import find_cjk_font
from geo.maps.static import write_static_maps
from geo.maps.styles import write_layer_styles
from geo.outputs import atomic_folder, atomic_path, check_output_folder
from geo.pair_outputs import write_pair_study
from geo.panel_outputs import panel_layers, write_panel, year_choropleths
from geo.panel_stage import PanelOptions, panel_of_registers, panel_of_years
from geo.safety import write_csv
from geo.siting.study import SiteOptions, site_zones
from geo.stats.clusters import cluster_areas
from geo.stats.density import density_layers
from geo.stats.distance import PAIR_STATISTICS, run_distance_analyses
from geo.stats.hotspots import HOTSPOT_CELLS, HOTSPOT_RULES, grid_cluster_statistics
from geo.stats.panel import Panel, parse_years
from geo.stats.schemes import load_scheme
from geo.stats.zonal import ZonalResult, result_tables, zonal_indices

SYNTHETIC_NOTE_ZH = "合成数据：企业为模拟生成，非真实登记信息"
SYNTHETIC_NOTE_EN = "Synthetic data: the enterprises are simulated, not a real register"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _versions() -> dict[str, str]:
    out = {"geo": __version__, "python": platform.python_version()}
    for name in ("numpy", "pandas", "geopandas", "shapely", "pyogrio", "pyproj", "folium"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out


@dataclass
class RunResult:
    """What a run wrote.

    Attributes
    ----------
    folder : Path
        The run folder.
    manifest : dict
        The manifest also written to ``manifest.json``.
    summary : pandas.DataFrame
        Firms by district and group.
    table : FirmTable or None
        The enterprises read (with their column mapping and row accounting).
    """

    folder: Path
    manifest: dict[str, Any]
    summary: pd.DataFrame
    table: FirmTable | None = None


def summarise_by_zone(
    firms: pd.DataFrame, zones: gpd.GeoDataFrame, zone_ids: pd.Series
) -> pd.DataFrame:
    """Count firms and employees by zone and group (plus producer-service fields).

    Parameters
    ----------
    firms : pandas.DataFrame
        Normalised firms.
    zones : GeoDataFrame
        The zones (``zone_id``, ``name_zh``, ``name_en``).
    zone_ids : pandas.Series
        Zone of each firm (NaN outside every zone), aligned with ``firms``.

    Returns
    -------
    pandas.DataFrame
        One row per zone plus an ``outside`` row when firms fall outside all
        zones and a ``total`` row; columns of counts per group and field, high-tech
        manufacturing, total firms and employees.
    """
    key = zone_ids.fillna("outside").astype(str)
    klass = map_class(firms)
    counts = pd.crosstab(key, firms["group"])
    fields_ = pd.crosstab(
        key[firms["group"].eq("producer_services")], klass[firms["group"].eq("producer_services")]
    )
    high_tech = (
        klass.eq("manufacturing_high_tech").groupby(key).sum().rename("manufacturing_high_tech")
    )
    table = pd.concat([counts, high_tech, fields_.add_prefix("ps_")], axis=1).fillna(0)
    table["firms"] = key.value_counts()
    table["employees"] = firms["employees"].groupby(key).sum(min_count=1)
    order = [*zones["zone_id"].astype(str)]
    if "outside" in table.index:
        order.append("outside")
    table = table.reindex(order).fillna(0)
    count_columns = [c for c in table.columns if c != "employees"]
    table[count_columns] = table[count_columns].astype("int64")
    table.loc["total"] = table.sum()
    names = zones.set_index(zones["zone_id"].astype(str))[["name_zh", "name_en"]]
    table = names.reindex(table.index).join(table)
    table.loc["outside", ["name_zh", "name_en"]] = ["区域外", "outside all zones"]
    table.loc["total", ["name_zh", "name_en"]] = ["合计", "total"]
    table = table.dropna(how="all", subset=["firms"])
    return table.rename_axis("zone_id").reset_index()


def run(
    config: RunConfig, on_step: Callable[[str], None] | None = None, *, force: bool = False
) -> RunResult:
    """Run the whole job described by ``config`` and write the run folder.

    Re-running into a run folder replaces what the previous run wrote; any
    other file there (a map drawn with ``geo map``, the user's notes) is kept.

    Parameters
    ----------
    config : RunConfig
        Inputs, parameters and output folder.
    on_step : callable, optional
        Called with a short description as each step starts (progress display).
    force : bool
        Replace files in the run folder that the run did not write but would
        write now (without it, such a clash stops the run before any work).

    Returns
    -------
    RunResult

    Raises
    ------
    OutputError
        Before any work, if the output folder is not a run folder or, without
        ``force``, holds a user's file of the same name as an output.
    """
    timings: dict[str, float] = {}

    @contextmanager
    def step(name: str) -> Iterator[None]:
        if on_step:
            on_step(name)
        start = time.perf_counter()
        yield
        timings[name] = round(time.perf_counter() - start, 3)

    if config.lang not in ("zh", "en"):
        raise ConfigError(f"unknown language '{config.lang}': use zh or en")
    parse_extent(config.static_extent, "[map] static_extent")  # fail before the work
    if config.hotspot_cells not in HOTSPOT_CELLS:
        raise ConfigError(f"unknown hot-spot cells '{config.hotspot_cells}': use "
                          f"{' or '.join(HOTSPOT_CELLS)}")
    if "districts" not in config.zones:
        raise ConfigError("the zones must include 'districts' (it defines the study area)")
    analysis = parse_coord_system(config.analysis_crs)
    if analysis.crs is None or not analysis.crs.is_projected:
        raise ConfigError(
            f"the analysis CRS must be projected in metres, got {config.analysis_crs}"
        )
    recipe = load_recipe(config.recipe)
    # an unknown basemap or a missing Tianditu key fails now, not after the analyses
    describe_basemap(choose_basemap(config.basemap, config.offline)
                     or recipe.default_basemap(config.lang))
    if config.distance_max_points < 0:
        raise ConfigError("[distance] max_points must be 0 (every firm) or a positive number, "
                          f"got {config.distance_max_points}")
    wanted = config.distance_pair_statistics
    if not isinstance(wanted, list) or not all(isinstance(w, str) for w in wanted) or (
            set(wanted) - set(PAIR_STATISTICS)):
        raise ConfigError("[distance] pair_statistics must be a list of "
                          f"{', '.join(PAIR_STATISTICS)}, got {wanted!r}")
    if not isinstance(config.distance_pairs, str):
        raise ConfigError("[distance] pairs must be text: manufacturing*producer_services, all, "
                          "a CSV file of pairs, or \"\" for none")
    unknown = sorted(set(config.exports) - set(EXPORT_FORMATS))
    if unknown:
        raise ConfigError(f"unknown export format(s) {unknown}: use {', '.join(EXPORT_FORMATS)}")
    if config.weighting not in ("count", "employment"):
        raise ConfigError(f"unknown weighting '{config.weighting}': use count or employment")
    scheme = load_scheme(config.groups)
    years = parse_years(config.years) if config.years else None  # fail before the work
    if config.registers:
        if years:
            raise ConfigError("a panel comes from --years or from registers by year "
                              "(--firms YEAR=FILE), not both")
        if len(config.registers) < 2:
            raise ConfigError("a panel of registers needs two or more (--firms 2019=a.csv "
                              "--firms 2024=b.csv)")
        config = replace(config, registers=dict(sorted(config.registers.items())))
        if config.firms is None:  # the run's other analyses use the last register
            config = replace(config, firms=list(config.registers.values())[-1])
    site_options = None
    if config.site_k > 0:
        site_options = SiteOptions(
            k=config.site_k, radius=config.site_radius, method=config.site_method,
            cell=config.site_cell, mask=config.site_mask, seed=config.seed,
        )
        site_options.check()  # bad siting options fail now, not after the analyses
    planned = _planned_outputs(config)
    inputs = _input_files(config)  # never replaced, even if they lie in the run folder
    check_output_folder(config.output, planned=planned, force=force,  # now, not after the work
                        inputs=inputs)

    with step("load zone layers"):
        districts = load_layer(config.zones["districts"], polygons=True)
        area = study_area(districts)
        # other layers may be grids over the study area the districts define
        zones = {
            name: districts if name == "districts" else load_zones(
                source, area=area, analysis_crs=config.analysis_crs
            )
            for name, source in config.zones.items()
        }
        if "towns" in zones and config.zones.get("towns") == "towns":
            zones["town_centres"] = load_layer("town_centres")
    with step("read enterprises" if config.firms else "draw synthetic enterprises"):
        if config.firms:
            table = _read_register(config.firms, config, districts)
        else:
            table = generate_firms(config.seed_n, config.seed)
    synthetic = bool(table.firms["synthetic"].any())
    with step("assign enterprises to zones"):
        firms = table.firms.copy()
        firms["map_class"] = map_class(firms)
        projected = firms.to_crs(analysis.crs)
        for name in ("districts", "platforms", "towns"):
            if name in zones:
                firms[name[:-1] + "_id"] = assign_points(
                    projected, zones[name].to_crs(analysis.crs)
                )
        summary = summarise_by_zone(firms, zones["districts"], firms["district_id"])
        summary.insert(0, "synthetic", synthetic)
        zone_of = {
            name: firms[name[:-1] + "_id"] for name in ("districts", "platforms", "towns")
            if name in zones
        }
        for name in zones:
            if name not in zone_of and name != "town_centres":
                zone_of[name] = assign_points(projected, zones[name].to_crs(analysis.crs))
        if config.grid:
            zones["grid"] = load_zones(config.grid, area=area, analysis_crs=config.analysis_crs)
            zone_of["grid"] = assign_points(projected, zones["grid"].to_crs(analysis.crs))
    # firms on a geocoder's fallback point or in the wrong district would put false
    # spikes into every distance-based result: those use the well-placed firms only
    located = np.ones(len(firms), dtype=bool)
    if not config.keep_flagged:
        located = ~firms["suspect_position"].to_numpy(dtype=bool)
    placed = firms[located].reset_index(drop=True)
    notes: list[str] = []  # things the user should know, kept in the manifest
    if not located.all():
        notes.append(
            f"{int((~located).sum()):,} firms with suspect positions (geocoder fallback points, "
            "district mismatches; see flagged.csv) are left out of the distance-based "
            "statistics, clusters, hot spots and siting (keep them with --keep-flagged)"
        )
    with step("zonal indices"):
        indices = [
            zonal_indices(
                firms, zones[name], zone_of_firm=ids, scheme=scheme, weighting=config.weighting,
                analysis_crs=config.analysis_crs, layer_name=name,
            )
            for name, ids in zone_of.items()
        ]
    panel = None
    registers: dict[str, FirmTable] = {}
    if years or config.registers:
        options = PanelOptions(
            scheme=scheme, weighting=config.weighting, analysis_crs=config.analysis_crs,
            area=area, permutations=config.panel_permutations, seed=config.seed,
            min_cluster_size=config.min_cluster_size, distance_nsim=config.distance_nsim,
            distance_max_points=config.distance_max_points, keep_flagged=config.keep_flagged)
        with step("panel by year"):
            if years:
                panel = panel_of_years(firms, zones, zone_of, years, options, notes)
            else:
                registers = {label: table if Path(path) == Path(config.firms)
                             else _read_register(path, config, districts)
                             for label, path in config.registers.items()}
                panel = panel_of_registers({k: v.firms for k, v in registers.items()}, zones,
                                           options, notes)
    grid_clusters = None
    if config.grid:
        with step("hot spots and bivariate LISA"):
            grid_clusters = grid_cluster_statistics(
                placed, zones["grid"], zone_of["grid"].to_numpy()[located],
                focus=placed["group"].eq("producer_services").to_numpy(),
                other=placed["group"].eq("manufacturing").to_numpy(),
                permutations=config.permutations, seed=config.seed,
                analysis_crs=config.analysis_crs, cells=config.hotspot_cells,
            ).assign(synthetic=synthetic)
    with step("producer-service cluster areas (HDBSCAN)"):
        ps_clusters, _ = cluster_areas(
            placed, placed["group"].eq("producer_services").to_numpy(), zones=zones,
            min_cluster_size=config.min_cluster_size, analysis_crs=config.analysis_crs,
        )
        ps_clusters["synthetic"] = synthetic
    siting = None
    if site_options is not None:
        with step("siting new producer-service zones"):
            try:
                siting = site_zones(placed, zones, site_options, clusters=ps_clusters,
                                    analysis_crs=config.analysis_crs)
                notes.extend(siting.summary["notes"])  # e.g. fewer zones than asked for
            except (ConfigError, InputError) as exc:
                # too few firms or candidates for siting must not cost the other outputs
                notes.append(f"siting skipped: {exc}")
    distance = None
    if config.distance_nsim >= 0:
        with step("distance-based functions and co-location"):
            distance = run_distance_analyses(
                placed, area, config.analysis_crs, nsim=config.distance_nsim, seed=config.seed,
                max_points=config.distance_max_points, pairs=config.distance_pairs,
                pair_statistics=tuple(config.distance_pair_statistics),
            )
        notes.extend(distance["parameters"]["pair_notes"])
        used = distance["parameters"]["points_used_for_k_and_kd"]
        total = distance["parameters"]["points_in_window"]
        if used < total:  # never silently
            notes.append(f"cross-L and Kd used a seeded random sample of {used:,} of the "
                         f"{total:,} firms (co-location quotients used every firm); "
                         "geo run --full uses every firm")

    time_layers = {}
    if panel is not None:  # each year's and the change's layers, and their choropleths
        recipe = year_choropleths(recipe, panel)
        time_layers = {name: frame.assign(synthetic=synthetic)
                       for name, frame in panel_layers(panel, zones).items()}
    with atomic_folder(config.output, planned=planned, force=force, inputs=inputs) as folder:
        outputs = _write_outputs(
            folder, config, recipe, zones, firms, table, summary, indices, distance,
            {**time_layers, "grid_clusters": grid_clusters, "ps_clusters": ps_clusters,
             **({"site_zones": siting.sites.assign(synthetic=synthetic),
                 "site_catchments": siting.catchments.assign(synthetic=synthetic),
                 "site_candidates": siting.candidates.assign(synthetic=synthetic)}
                if siting else {})},
            synthetic, step, notes, panel, registers,
        )
        manifest = _manifest(config, table, synthetic, timings, outputs, folder)
        if distance is not None:
            manifest["distance"] = distance["parameters"]
        if siting is not None:
            manifest["siting"] = siting.summary
        if panel is not None:
            manifest["panel"] = panel.parameters
        if grid_clusters is not None:
            manifest["hot_spots"] = {
                "cells": config.hotspot_cells, "rule": HOTSPOT_RULES[config.hotspot_cells],
                **{k: grid_clusters.attrs[k]
                   for k in ("cells_tested", "cells_not_tested", "islands")},
            }
        manifest["notes"] = notes
        with step("write the results pack"):
            # the report reads what was just written, and this manifest, from the folder
            from geo.report import write_report

            pack = write_report(folder, folder / "report", config.lang, manifest=manifest)
        manifest["outputs"].update({p.relative_to(folder).as_posix(): p.stat().st_size
                                    for p in pack})
        with atomic_path(folder / "manifest.json") as tmp:
            tmp.write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")
    return RunResult(folder=Path(config.output).resolve(), manifest=manifest, summary=summary,
                     table=table)


def _read_register(path: Path, config: RunConfig, districts: gpd.GeoDataFrame) -> FirmTable:
    """Read and validate an enterprise file with the run's reading options."""
    return read_firms(
        path,
        coords=config.coords,
        columns=config.columns or None,
        encoding=config.encoding,
        sheet=config.sheet,
        layer=config.layer,
        districts=districts,
        classification=load_classification(config.classification),
        boundary_tolerance=config.boundary_tolerance,
    )


def _input_files(config: RunConfig) -> list[Path]:
    """Return the files a run reads: enterprises, classification, zones, groupings."""
    named = [config.firms, config.classification, config.groups, *config.zones.values(),
             *(config.registers or {}).values()]
    # bundled layer names and grid specifications ("hex:1000") are not files
    return [Path(item) for item in named if item and Path(item).exists()]


def _planned_outputs(config: RunConfig) -> list[str]:
    """Glob patterns of every file the run may write (as ``_write_outputs`` names them)."""
    names = ["manifest.json", "README.txt", "map.html", "layers.gpkg", "static/map_*.png",
             "static/map_*.pdf", "summary_district_group.csv", "indices*.csv", "density_*.tif",
             "clusters.csv", "rejects.csv", "flagged.csv", "report/report.html",
             "report/report.docx", "report/tables.xlsx", "report/figures/*.png"]
    if config.site_k > 0:
        names.append("sites.csv")
    if config.distance_nsim >= 0:
        names += ["distance_functions.csv", "colocation.csv", "plots/*", "pairs_*.csv",
                  "pairs_*.png"]
    if config.years or config.registers:
        names += ["panel_*.csv", "plots/trend_*.png"]
    names += [f"export.{fmt}" if fmt in ("gpkg", "xlsx") else f"export_{fmt}"
              for fmt in config.exports]
    return names


def _write_outputs(
    folder: Path,
    config: RunConfig,
    recipe: MapRecipe,
    zones: dict[str, gpd.GeoDataFrame],
    firms: gpd.GeoDataFrame,
    table: FirmTable,
    summary: pd.DataFrame,
    indices: list[ZonalResult],
    distance: dict | None,
    analysis_layers: dict[str, gpd.GeoDataFrame | None],
    synthetic: bool,
    step: Callable[[str], Any],
    notes: list[str],
    panel: Panel | None = None,
    registers: dict[str, FirmTable] | None = None,
) -> list[str]:
    firms_note = SYNTHETIC_NOTE_EN if synthetic else f"enterprises: {table.source}"
    outputs = []
    index_layers = {f"{r.parameters['layer']}_indices": r.zones for r in indices}
    if distance is not None:
        index_layers["local_clq"] = distance["local_clq"].assign(synthetic=synthetic)
    index_layers.update({k: v for k, v in analysis_layers.items() if v is not None})
    with step("kernel density rasters"):
        density_paths, contours = density_layers(
            firms,
            {"producer_services": firms["group"].eq("producer_services").to_numpy(),
             "manufacturing": firms["group"].eq("manufacturing").to_numpy()},
            study_area(zones["districts"]), folder, analysis_crs=config.analysis_crs,
            bandwidth=config.density_bandwidth, synthetic=synthetic,
        )
        outputs.extend(p.name for p in density_paths)
        index_layers["density_contours"] = contours.assign(synthetic=synthetic)
    with step("draw the web map"):
        m = web_map(
            {**zones, **index_layers, "firms": firms},
            recipe,
            lang=config.lang,
            synthetic=synthetic,
            provenance=source_note(zones, config.lang, recipe),
            seed=config.seed,
            basemap=choose_basemap(config.basemap, config.offline),
        )
        save_map(m, folder / "map.html")
        outputs.append("map.html")
    with step("draw the static maps"):
        # without a CJK font, Chinese would draw as empty boxes: draw English, say so
        static_lang = config.lang if config.lang == "en" or find_cjk_font() else "en"
        if static_lang != config.lang:
            notes.append("no Chinese (CJK) font found: static maps drawn in English; "
                         "install fonts-noto-cjk for Chinese")
        written = write_static_maps(
            {**zones, **index_layers, "firms": firms}, recipe, folder / "static",
            lang=static_lang, synthetic=synthetic, analysis_crs=config.analysis_crs,
            extent=parse_extent(config.static_extent, "[map] static_extent"),
        )
        outputs.extend(f"static/{p.name}" for p in written)
    with step("write the GeoPackage"):
        firm_layer = firms  # map_class stays: the QGIS style categorises by it
        meta_common = {"synthetic": str(synthetic).lower(), "generator": f"geo {__version__}"}
        metadata = {
            name: {**meta_common, "source": "; ".join(sorted(map(str, z["source"].unique())))}
            for name, z in zones.items()
        }
        metadata["firms"] = {**meta_common, "source": table.source, "note": firms_note}
        metadata["summary_district_group"] = {**meta_common, "source": "derived from firms"}
        for result in indices:
            metadata[f"{result.parameters['layer']}_indices"] = {
                **meta_common, "source": "derived from firms and zones",
                **{k: str(v) for k, v in {**result.parameters, **result.summary}.items()},
            }
        write_geopackage(
            {**zones, **index_layers, "firms": firm_layer, "summary_district_group": summary},
            folder / "layers.gpkg",
            metadata=metadata,
        )
        write_layer_styles(
            folder / "layers.gpkg", {**zones, **index_layers, "firms": firm_layer}, recipe,
            config.lang,
        )
        outputs.append("layers.gpkg")
    with step("write tables"):
        trusted = config.allow_formulas
        with atomic_path(folder / "summary_district_group.csv") as tmp:
            write_csv(summary, tmp, allow_formulas=trusted)
        outputs.append("summary_district_group.csv")
        for written in write_tables(result_tables(indices), folder / "indices.csv",
                                    allow_formulas=trusted):
            outputs.append(written.name)
        if distance is not None:
            write_function_table(distance["functions"], folder / "distance_functions.csv",
                                 synthetic, allow_formulas=trusted)
            outputs.append("distance_functions.csv")
            with atomic_path(folder / "colocation.csv") as tmp:
                write_csv(distance["colocation"].assign(synthetic=synthetic), tmp,
                          allow_formulas=trusted)
            outputs.append("colocation.csv")
            for statistic, study in distance["pair_studies"].items():
                for written in write_pair_study(study, folder / f"pairs_{statistic}.csv",
                                                synthetic, lang=config.lang):
                    outputs.append(written.name)
            for result in distance["functions"]:
                name = f"{result.name}_{result.parameters['a']}_{result.parameters['b']}.png"
                # title and reading in the run's language (English without a CJK font)
                plot_function(result, folder / "plots" / name, synthetic=synthetic,
                              lang=config.lang)
                outputs.append(f"plots/{name}")
        for fmt in config.exports:
            name = f"export.{fmt}" if fmt in ("gpkg", "xlsx") else f"export_{fmt}"
            export_layers(read_layers([folder]), folder / name, fmt, force=True,
                          allow_formulas=trusted)
            outputs.append(name)
        # attribute tables of the cluster areas and proposed zones, for Excel, with
        # their centres to find them on any map (GCJ-02: Amap, Tencent)
        for layer, name in (("ps_clusters", "clusters.csv"), ("site_zones", "sites.csv")):
            frame = analysis_layers.get(layer)
            if frame is not None:
                with atomic_path(folder / name) as tmp:
                    write_csv(attribute_table(frame, config.analysis_crs), tmp,
                              allow_formulas=trusted)
                outputs.append(name)
        if panel is not None:
            outputs.extend(p.relative_to(folder).as_posix() for p in write_panel(
                panel, folder, synthetic=synthetic, lang=config.lang, allow_formulas=trusted))
        for label, register in (registers or {}).items():
            if register is table:
                continue  # the run's own register: rejects.csv and flagged.csv below
            for kind, write in (("rejects", register.write_rejects),
                                ("flagged", register.write_flagged)):
                name = f"panel_{kind}_{label}.csv"
                if write(folder / name, allow_formulas=trusted):
                    outputs.append(name)
        if table.write_rejects(folder / "rejects.csv", allow_formulas=trusted):
            outputs.append("rejects.csv")
        if table.write_flagged(folder / "flagged.csv", allow_formulas=trusted):
            outputs.append("flagged.csv")
        readme = _readme(config, table, synthetic, firms_note)
        (folder / "README.txt").write_text(readme, encoding="utf-8")
        outputs.append("README.txt")
    return outputs


def _readme(config: RunConfig, table: FirmTable, synthetic: bool, source_note: str) -> str:
    lines = [
        "geo run output / 运行结果",
        "",
        f"enterprises / 企业: {table.source}",
        f"valid / 有效: {table.summary['n_valid']}, rejected / 剔除: {table.summary['n_rejected']}"
        + (" (see rejects.csv)" if table.summary["n_rejected"] else ""),
        f"flagged / 有标记: {table.summary.get('n_flagged', 0)}"
        + (" (see flagged.csv)" if table.summary.get("n_flagged") else ""),
        "",
        "map.html                    interactive map / 交互地图",
        "layers.gpkg                 every layer (QGIS, ArcGIS) / 全部图层",
        "summary_district_group.csv  firms by district and group / 分区县分行业企业数",
        f"indices_*.csv               zonal indices ({config.weighting}-weighted) of every "
        "zone layer / 各图层集聚指数",
        "report/                     results pack: report.html, report.docx, tables.xlsx "
        "(summary, tables, charts, reading guide) / 成果报告",
        "manifest.json               inputs, parameters, versions, timings / 运行记录",
    ]
    if config.years or config.registers:
        lines[-1:-1] = [
            "panel_*.csv                 indices by year and their change (permutation test) / "
            "分年份指数及其变化",
            "plots/trend_*.png           C of districts and platforms over the years / "
            "协同集聚质量变化趋势图",
        ]
    if config.distance_nsim >= 0:
        lines[-1:-1] = [
            "distance_functions.csv      cross-L and Kd of manufacturing with producer services "
            "and each field / 制造业与生产性服务业的交叉 L 与 Kd 函数",
            "colocation.csv              co-location quotients / 共位商",
        ]
        if config.distance_pairs and config.distance_pair_statistics:
            lines[-1:-1] = [
                f"pairs_*.csv, pairs_*.png   {', '.join(config.distance_pair_statistics)} of "
                f"every industry pair ({config.distance_pairs}): table, matrix, figure / "
                "行业对协同集聚表与矩阵",
            ]
    if synthetic:
        lines[2:2] = [SYNTHETIC_NOTE_ZH, SYNTHETIC_NOTE_EN, ""]
    return "\n".join(lines) + "\n"


def _manifest(
    config: RunConfig,
    table: FirmTable,
    synthetic: bool,
    timings: dict[str, float],
    outputs: list[str],
    folder: Path,
) -> dict[str, Any]:
    parameters = {f.name: getattr(config, f.name) for f in fields(config)}
    parameters = json.loads(json.dumps(parameters, default=str))
    inputs: dict[str, Any] = {"zones": dict(config.zones)}
    if config.firms:
        inputs["firms"] = {"path": str(config.firms), "sha256": _sha256(Path(config.firms))}
    else:
        inputs["firms"] = {"synthetic": True, "n": config.seed_n, "seed": config.seed}
    return {
        "tool": "geo",
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "synthetic": synthetic,
        "note": SYNTHETIC_NOTE_EN if synthetic else "",
        "inputs": inputs,
        "parameters": parameters,
        "seeds": {
            **({"synthetic_population": config.seed} if not config.firms else {}),
            "web_map_sample": config.seed,
        },
        "enterprises": json.loads(json.dumps(table.summary, default=str)),
        "versions": _versions(),
        "timings_s": timings,
        "outputs": {name: (folder / name).stat().st_size for name in outputs},
    }

