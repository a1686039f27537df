"""Commands of one analysis each: ``geo batch``, ``geo clusters``, ``geo site``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from geo.cli.common import (
    ColumnOption,
    CoordsOption,
    FirmsOption,
    ForceOption,
    KeepFlaggedOption,
    PopN,
    SeedOption,
    TypeColumn,
    WeightOption,
    _friendly,
    _load_firms,
    _reports_beside,
    _weights,
    app,
    console,
)
from geo.errors import ConfigError


@app.command()
@_friendly
def batch(
    jobs: Annotated[Path, typer.Argument(metavar="JOBS",
                                         help="Job list: a .toml or .csv file (see above).")],
    out: Annotated[Path, typer.Option(
        "--out", "-o", help="Output folder: every job's files and batch_manifest.json.")],
    scheduler: Annotated[str | None, typer.Option(
        help="Address of a running Dask scheduler (tcp://HOST:8786) whose workers do the "
             "work. Default: a local cluster on this machine.")] = None,
    workers: Annotated[int | None, typer.Option(
        help="Local cluster: worker processes (default: the CPUs this process may use); 0 "
             "runs every job in this process, without Dask.")] = None,
    threads_per_worker: Annotated[int | None, typer.Option(
        help="Local cluster: Dask threads per worker (default 1).")] = None,
    sim_block: Annotated[int | None, typer.Option(
        help="Labellings (the observed one and the simulations) per task; smaller blocks "
             "need less memory per worker. Default: each study split over every worker "
             "thread.")] = None,
    force: ForceOption = False,
) -> None:
    r"""Run many pair studies (cities, years, pairs, statistics) on a Dask cluster.

    Each job is one `geo index STATISTIC --pairs` study and writes the same files
    (NAME.csv, NAME_matrix.csv, NAME_matrix.png, NAME_curves.csv) into --out, with
    batch_manifest.json (jobs, parameters, seeds, timings, workers, versions).
    Kd, cross-L and M are split into blocks of simulations; results are
    bit-identical on any number of workers and machines.

    Job list, CSV: a header and one row per job (empty cell: the default). TOML:
    \[\[job]] tables and an optional \[defaults] table. Fields: name, statistic (kd,
    crossk, m, clq) and pairs (all, LEFT*RIGHT or a CSV of a,b) are required;
    firms (a file; empty: the synthetic population of n firms), coords, columns
    (industry_code=行业小类;lon=经度), year (2020, ..2020, 2015.. or 2015..2020),
    window, analysis_crs, level, type_column, min_firms, keep_flagged, nsim, seed;
    rmax, nr (kd, crossk, m), weight (kd, m), bandwidth and adjust (kd),
    correction (crossk), envelope (crossk, m). Paths are relative to the job list.
    """
    from geo.batch import read_jobs, run_batch
    from geo.messages import user_lang

    if scheduler and (workers is not None or threads_per_worker is not None):
        raise ConfigError("--workers and --threads-per-worker size the local cluster: leave "
                          "them out with --scheduler (start the workers with dask worker)")
    job_list = read_jobs(jobs)
    result = run_batch(job_list, out, scheduler=scheduler, workers=workers,
                       threads_per_worker=threads_per_worker, block_size=sim_block,
                       force=force, lang=user_lang(None), job_file=jobs,
                       report=lambda line: console.print(line, markup=False, highlight=False,
                                                         soft_wrap=True))
    done = sum(job["status"] == "done" for job in result.manifest["jobs"])
    Console().print(f"{done} jobs in {result.manifest['seconds']:.1f} s; manifest: "
                    f"{result.folder / 'batch_manifest.json'}", markup=False, highlight=False,
                    soft_wrap=True)


@app.command()
@_friendly
def clusters(
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Cell layer with the statistics (.gpkg, .geojson, "
                           ".parquet or .csv).")
    ],
    focus: Annotated[
        str, typer.Option(help="Firms whose clusters are sought: a group, field, high_tech or "
                          "code prefix.")
    ] = "producer_services",
    other: Annotated[
        str | None,
        typer.Option(help="Second variable of the bivariate LISA (omit for none).")
    ] = "manufacturing",
    firms: FirmsOption = None,
    coords: CoordsOption = "wgs84",
    column: ColumnOption = None,
    type_column: TypeColumn = None,
    grid: Annotated[
        str, typer.Option(help="Cells: square:METRES, hex:METRES, h3:RES, or a zone layer/file.")
    ] = "square:1000",
    weight: WeightOption = "count",
    weights: Annotated[
        str, typer.Option(help="Spatial weights: queen, rook, knn:K or distance:METRES.")
    ] = "queen",
    permutations: Annotated[int, typer.Option(help="Conditional permutations.")] = 999,
    seed: SeedOption = 1,
    fdr: Annotated[
        bool, typer.Option(help="False-discovery-rate control across cells.")
    ] = True,
    areas: Annotated[
        Path | None,
        typer.Option(help="Also write HDBSCAN cluster areas of the focus firms, named by "
                     "district, platform and town (.gpkg, .geojson, .parquet, .csv)."),
    ] = None,
    min_cluster_size: Annotated[int, typer.Option(help="HDBSCAN's smallest cluster.")] = 50,
    density: Annotated[
        Path | None,
        typer.Option(help="Also write the kernel density of the focus firms (.tif) and its "
                     "50/75/90 % contours (<name>_contours.gpkg)."),
    ] = None,
    bandwidth: Annotated[
        float, typer.Option(help="Kernel bandwidth in metres (0: Silverman's rule).")
    ] = 1000.0,
    cell: Annotated[float, typer.Option(help="Density raster cell size in metres.")] = 200.0,
    n: PopN = 30_000,
    keep_flagged: KeepFlaggedOption = False,
    force: ForceOption = False,
) -> None:
    """Hot spots (Gi*), local Moran and bivariate LISA on a grid; HDBSCAN cluster areas."""
    import geopandas as gpd

    from geo.export.layers import write_layer
    from geo.io.zones import assign_points, load_layer, load_zones, study_area
    from geo.outputs import check_output_files
    from geo.stats.distance import type_mask
    from geo.stats.hotspots import grid_cluster_statistics

    reports = _reports_beside(out, firms)
    contour_file = density.with_name(density.stem + "_contours.gpkg") if density else None
    check_output_files([out, areas, density, contour_file, *reports], force=force,
                       inputs=[firms, Path(grid)], reports=reports)
    area = study_area(load_layer("districts"))
    table = _load_firms(firms, coords, column, n, 20261122, area, out,
                        require_code=type_column is None, located_only=True,
                        keep_flagged=keep_flagged)
    frame = table.firms
    cells = load_zones(grid, area=area)
    zone_of = assign_points(frame.to_crs("EPSG:4549"), cells.to_crs("EPSG:4549"))
    result = grid_cluster_statistics(
        frame, cells, zone_of.to_numpy(), focus=type_mask(frame, focus, type_column),
        other=type_mask(frame, other, type_column) if other else None,
        firm_weights=_weights(frame, weight), weights_spec=weights,
        permutations=permutations, seed=seed, use_fdr=fdr,
    )
    synthetic = bool(frame["synthetic"].any())
    result["synthetic"] = synthetic
    write_layer(result, out)
    echo = Console()
    echo.print(result["gi_class"].value_counts().to_string())
    if other:
        echo.print(result["bv_quadrant"].value_counts().to_string())
    if result.attrs.get("islands"):
        echo.print(f"{result.attrs['islands']:,} cells without neighbours (islands)")
    written = [out]
    if areas:
        from geo.stats.clusters import cluster_areas

        zones = {name: load_layer(name) for name in ("districts", "platforms", "towns")}
        found, _ = cluster_areas(frame, type_mask(frame, focus, type_column), zones=zones,
                                 min_cluster_size=min_cluster_size)
        found["synthetic"] = synthetic
        if found.empty:
            echo.print("no HDBSCAN clusters found; try a smaller --min-cluster-size")
        else:
            echo.print(found[["name_zh", "lq", "stability"]].to_string(index=False))
            written.append(write_layer(found, areas))
    if density:
        from geo.stats.density import density_contours, kernel_density, write_geotiff

        mask = type_mask(frame, focus, type_column)
        projected = frame[mask].to_crs("EPSG:4549")
        window = gpd.GeoSeries([area], crs="EPSG:4326").to_crs("EPSG:4549").iloc[0]
        raster, origin, h, _ = kernel_density(
            projected.geometry.x.to_numpy(), projected.geometry.y.to_numpy(), window,
            bandwidth=bandwidth or None, cell=cell,
        )
        written.append(write_geotiff(raster, origin, "EPSG:4549", density,
                                     description=f"kernel density of {focus}, h={h:.0f} m",
                                     synthetic=synthetic))
        contours = density_contours(raster, origin, "EPSG:4549").assign(synthetic=synthetic)
        written.append(write_layer(contours, contour_file))
        echo.print(f"bandwidth: {h:.0f} m")
    if synthetic:
        echo.print("[bold]Synthetic data[/] / 合成数据: the enterprises are simulated.")
    for path in written:
        echo.print(f"  {path}")


@app.command()
@_friendly
def site(
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Output folder (sites.gpkg, sites.csv, "
                           "summary.json, map.html).")
    ] = Path("geo-sites"),
    k: Annotated[int, typer.Option("--k", "-k", help="Number of new zones.")] = 5,
    radius: Annotated[
        float, typer.Option(help="Service radius in metres (catchment and coverage).")
    ] = 3000.0,
    method: Annotated[str, typer.Option(help="Location model: mclp or p-median.")] = "mclp",
    candidates: Annotated[
        Path | None,
        typer.Option(help="Candidate polygons or points (GeoPackage, Shapefile, GeoJSON...). "
                     "Default: square grid cells of --cell metres."),
    ] = None,
    cell: Annotated[float, typer.Option(help="Candidate grid cell size in metres.")] = 1000.0,
    mask: Annotated[
        str, typer.Option(help="Where zones may go: none, platforms, towns, platforms+towns, "
                          "built-up (>= 5 firms within 500 m) or a polygon file.")
    ] = "built-up",
    keep_clusters: Annotated[
        bool, typer.Option("--keep-clusters", help="Allow candidates inside strong "
                           "producer-service clusters (excluded by default).")
    ] = False,
    field_: Annotated[
        str | None,
        typer.Option("--field", help="Supply from one producer-service field only (digital, "
                     "tech, finance, logistics, business, other_ps)."),
    ] = None,
    weight: WeightOption = "count",
    high_tech_weight: Annotated[
        float, typer.Option(help="Demand multiplier of high-tech manufacturing.")
    ] = 1.0,
    decay: Annotated[str, typer.Option(help="2SFCA distance decay: gaussian or uniform.")] = (
        "gaussian"
    ),
    min_spacing: Annotated[
        float, typer.Option(help="Minimum distance between new zones in metres (0: none).")
    ] = 0.0,
    one_per_platform: Annotated[
        bool, typer.Option("--one-per-platform", help="At most one new zone per platform.")
    ] = False,
    zone_supply: Annotated[
        float | None,
        typer.Option(help="Supply a new zone adds (firms or employees). Default: the median "
                     "of the existing strong producer-service clusters."),
    ] = None,
    time_limit: Annotated[float, typer.Option(help="Solver time limit in seconds.")] = 60.0,
    seed: SeedOption = 1,
    firms: FirmsOption = None,
    coords: CoordsOption = "wgs84",
    column: ColumnOption = None,
    min_cluster_size: Annotated[
        int, typer.Option(help="HDBSCAN's smallest producer-service cluster.")
    ] = 50,
    lang: Annotated[str, typer.Option(help="Map language: zh or en.")] = "zh",
    n: PopN = 30_000,
    force: Annotated[
        bool, typer.Option("--force", help="Replace files in --out that geo did not write but "
                           "this command writes (other files there are always kept).")
    ] = False,
    keep_flagged: KeepFlaggedOption = False,
) -> None:
    """Propose new producer-service zones where manufacturing is under-served.

    Two-step floating catchment accessibility of producer services for
    manufacturing, unmet demand, candidates scored by demand, supply, LQ and
    co-agglomeration index, and MCLP or p-median selection (HiGHS). Writes the
    ranked zones with reasons in Chinese and English, their catchments and
    every scored candidate.
    """
    import json

    from geo.export.layers import write_geopackage
    from geo.io.crs import DEFAULT_ANALYSIS_CRS, attribute_table
    from geo.io.zones import load_layer, study_area
    from geo.maps import load_recipe, save_map, source_note, web_map
    from geo.outputs import atomic_folder, atomic_path, check_output_folder
    from geo.safety import write_csv
    from geo.siting.study import MASKS, SiteOptions, site_zones
    from geo.stats.clusters import cluster_areas

    zones = {name: load_layer(name) for name in ("districts", "platforms", "towns")}
    area = study_area(zones["districts"])
    mask_layer = None
    if mask not in MASKS:
        if not Path(mask).is_file():
            raise ConfigError(f"unknown mask '{mask}': use {', '.join(MASKS)} or a polygon file")
        mask_layer = load_layer(Path(mask), coords=coords, polygons=True)
    options = SiteOptions(
        k=k, radius=radius, method=method, cell=cell,
        mask=mask if mask_layer is None else "file", exclude_clusters=not keep_clusters,
        field=field_, weighting=weight, high_tech_weight=high_tech_weight, decay=decay,
        min_spacing=min_spacing, one_per_platform=one_per_platform, zone_supply=zone_supply,
        time_limit=time_limit, seed=seed,
    )
    options.check()
    user_candidates = load_layer(candidates, coords=coords) if candidates else None
    out = Path(out)
    # summary.json lists the outputs; folders of older versions hold only these
    written = ["sites.gpkg", "sites.csv", "map.html", "rejects.csv", "flagged.csv",
               "summary.json"]
    folder_options = dict(marker="summary.json", planned=written, force=force,
                          legacy_outputs=[*written, "firms_rejects.csv"],
                          inputs=[firms, candidates, Path(mask)])
    check_output_folder(out, **folder_options)  # now, not after the analysis
    table = _load_firms(firms, coords, column, n, 20261122, area, None, located_only=True,
                        keep_flagged=keep_flagged)
    frame = table.firms
    synthetic = bool(frame["synthetic"].any())
    echo = Console()
    with echo.status("producer-service clusters (HDBSCAN)"):
        found, _ = cluster_areas(frame, frame["group"].eq("producer_services").to_numpy(),
                                 zones=zones, min_cluster_size=min_cluster_size)
    with echo.status("accessibility, candidates and location model"):
        result = site_zones(frame, zones, options, candidates=user_candidates, mask=mask_layer,
                            clusters=found)
    layers_ = {"site_zones": result.sites, "site_catchments": result.catchments,
               "site_candidates": result.candidates}
    for layer in layers_.values():
        layer["synthetic"] = synthetic
    summary = {**result.summary, "synthetic": synthetic, "firms": table.source}
    with atomic_folder(out, **folder_options) as folder:
        # the rejected rows are part of the output, inside its folder
        rejects = table.write_rejects(folder / "rejects.csv")
        flagged = table.write_flagged(folder / "flagged.csv")
        summary["outputs"] = [name for name in written
                              if (name != "rejects.csv" or rejects)
                              and (name != "flagged.csv" or flagged)]
        write_geopackage(layers_, folder / "sites.gpkg", metadata={
            name: {"synthetic": str(synthetic).lower(), "source": table.source}
            for name in layers_})
        with atomic_path(folder / "sites.csv") as tmp:
            write_csv(attribute_table(result.sites, DEFAULT_ANALYSIS_CRS), tmp)
        style = load_recipe("default")
        m = web_map({**zones, **layers_, "ps_clusters": found}, style, lang=lang,
                    synthetic=synthetic, provenance=source_note(zones, lang, style), seed=seed)
        save_map(m, folder / "map.html")
        with atomic_path(folder / "summary.json") as tmp:
            tmp.write_text(json.dumps(summary, ensure_ascii=False, indent=2, default=float),
                           encoding="utf-8")
    s = result.summary
    shown = result.sites[["rank", "name_zh" if lang == "zh" else "name_en", "demand",
                          "unmet_demand", "unmet_covered", "access_before", "access_after"]]
    echo.print(shown.to_string(index=False, formatters={
        "demand": "{:,.0f}".format, "unmet_demand": "{:,.0f}".format,
        "unmet_covered": "{:,.0f}".format, "access_before": "{:.0%}".format,
        "access_after": "{:.0%}".format}), soft_wrap=True)
    echo.print(
        f"{s['n_eligible']:,} of {s['n_candidates']:,} candidates eligible; "
        f"{s['solver']}: {s['status']}, "
        + (f"gap {s['gap']:.2%}" if s["gap"] is not None else "no bound proven")
        + f", {s['solve_seconds']:.1f} s"
    )
    echo.print(
        f"manufacturing demand within {radius:g} m of a producer-service cluster: "
        f"{s['share_covered_before']:.1%} before, {s['share_covered_after']:.1%} with the new "
        f"zones; unmet demand {s['unmet_before']:,.0f} -> {s['unmet_after']:,.0f}"
    )
    for note in s.get("notes", []):
        echo.print(f"[yellow]note:[/] {note}")
    if rejects:
        echo.print(f"{table.summary['n_rejected']:,} rows rejected: see {out / 'rejects.csv'}")
    if synthetic:
        echo.print("[bold]Synthetic data[/] / 合成数据: the enterprises are simulated.")
    echo.print(f"  {Path(out).resolve()}")
