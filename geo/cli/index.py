"""``geo index``: zonal indices and the distance-based functions of type pairs."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from rich.console import Console

from geo.cli.common import (
    AllowFormulasOption,
    ColumnOption,
    CoordsOption,
    FirmsOption,
    ForceOption,
    KeepFlaggedOption,
    LevelOption,
    MinFirmsOption,
    NsimOption,
    OutCsv,
    PairsOption,
    PlotOption,
    PopN,
    SeedOption,
    TypeA,
    TypeB,
    TypeColumn,
    WeightOption,
    WindowOption,
    _friendly,
    _load_firms,
    _reports_beside,
    _weights,
    app,
    console,
)
from geo.errors import ConfigError

index_app = typer.Typer(
    help="Agglomeration and co-agglomeration indices.", no_args_is_help=True
)
app.add_typer(index_app, name="index")


@index_app.command("zonal")
@_friendly
def index_zonal(
    out: Annotated[
        Path,
        typer.Option(
            "--out", "-o",
            help="Tables: .xlsx (one workbook; slow for fine grids), .csv or .parquet "
            "(one file per table, named <stem>_<table>).",
        ),
    ],
    firms: Annotated[
        Path | None,
        typer.Option(help="Enterprise file. Default: the synthetic seed population."),
    ] = None,
    coords: CoordsOption = "wgs84",
    column: ColumnOption = None,
    zones: Annotated[
        str,
        typer.Option(
            help="Zone layer: a bundled layer (districts, platforms, towns), a file, or a "
            "grid: square:METRES, hex:METRES (width across flats), h3:RESOLUTION."
        ),
    ] = "districts",
    zones_coords: Annotated[
        str, typer.Option(help="Coordinate system of a zone file that declares none.")
    ] = "wgs84",
    zone_id: Annotated[str | None, typer.Option(help="Id column of a zone file.")] = None,
    zone_name: Annotated[str | None, typer.Option(help="Name column of a zone file.")] = None,
    groups: Annotated[
        str,
        typer.Option(
            help="Grouping: fields (Hangzhou's five producer-service fields), sections "
            "(G I J L M N) or a CSV (code_prefix, group, label_zh, label_en, role)."
        ),
    ] = "fields",
    weight: Annotated[
        str, typer.Option(help="Weight of a firm: count or employment.")
    ] = "count",
    reference: Annotated[
        str | None,
        typer.Option(
            help="Reference region of the location quotients: a zone layer (name or file); "
            "default the whole study area."
        ),
    ] = None,
    reference_ids: Annotated[
        str | None,
        typer.Option(help="Comma-separated zone ids of --reference (default: all its zones)."),
    ] = None,
    gpkg: Annotated[
        Path | None, typer.Option(help="Also write the zone layer with its indices (GeoPackage).")
    ] = None,
    analysis_crs: Annotated[
        str, typer.Option(help="Projected CRS (metres) for point-in-polygon and grids.")
    ] = "EPSG:4549",
    n: Annotated[int, typer.Option(help="Size of the synthetic population.")] = 30_000,
    seed: Annotated[int, typer.Option(help="Seed of the synthetic population.")] = 20261122,
    allow_formulas: AllowFormulasOption = False,
    force: ForceOption = False,
) -> None:
    """Zonal indices of one zone layer: LQ, HHI, Gini, Hoover, EG, EG-gamma_c, EGK, 协同集聚.

    Writes the tidy tables (zone x group x measure; industry measures; EG
    co-agglomeration; EGK pairs and matrix; parameters) to --out and, with
    --gpkg, the zone layer with one column per index ready to map.
    """
    import numpy as np

    from geo.export.layers import TABLE_FORMATS, write_geopackage, write_tables
    from geo.io.crs import parse_coord_system
    from geo.io.zones import assign_points, load_layer, load_zones, study_area
    from geo.outputs import check_output_files
    from geo.stats.schemes import load_scheme
    from geo.stats.zonal import result_tables, zonal_indices

    if out.suffix.lower() not in TABLE_FORMATS:
        raise ConfigError(f"--out must end in {', '.join(TABLE_FORMATS)}, got '{out.name}'")
    inputs = [firms, Path(zones), Path(groups), Path(reference) if reference else None]
    reports = _reports_beside(out, firms)
    check_output_files([out if out.suffix.lower() == ".xlsx" else None, gpkg, *reports],
                       force=force, inputs=inputs, reports=reports)
    crs = parse_coord_system(analysis_crs).crs
    if crs is None or not crs.is_projected:
        raise ConfigError(f"--analysis-crs must be a projected CRS in metres, got {analysis_crs}")
    scheme = load_scheme(groups)
    area = study_area(load_layer("districts"))
    layer = load_zones(
        zones, area=area, analysis_crs=analysis_crs, coords=zones_coords, id_column=zone_id,
        name_column=zone_name,
    )
    table = _load_firms(firms, coords, column, n, seed, area, out)
    points = table.firms.to_crs(analysis_crs)
    mask = None
    if reference:
        ref_layer = load_zones(reference, area=area, analysis_crs=analysis_crs)
        if reference_ids:
            wanted = {part.strip() for part in reference_ids.split(",") if part.strip()}
            unknown = wanted - set(ref_layer["zone_id"])
            if unknown:
                raise ConfigError(
                    f"--reference-ids not in {reference}: {', '.join(sorted(unknown))}"
                )
            ref_layer = ref_layer[ref_layer["zone_id"].isin(wanted)]
        mask = assign_points(points, ref_layer.to_crs(analysis_crs)).notna().to_numpy()
        if not np.any(mask):
            raise ConfigError("no firm lies in the reference region")
    result = zonal_indices(
        table.firms, layer, zone_of_firm=assign_points(points, layer.to_crs(analysis_crs)),
        scheme=scheme, weighting=weight, reference=mask, analysis_crs=analysis_crs,
        layer_name=re.sub(r"\W+", "_", Path(zones).stem if Path(zones).suffix else zones),
    )
    if reference:
        result.parameters["reference"] = f"{reference} {reference_ids or '(all zones)'}"
    tables = result_tables([result])
    if out.suffix.lower() != ".xlsx":  # one file per table, named only now
        check_output_files([out.with_name(f"{out.stem}_{name}{out.suffix}") for name in tables],
                           force=force, inputs=inputs)
    written = write_tables(tables, out, allow_formulas=allow_formulas)
    if gpkg:
        meta = {k: str(v) for k, v in {**result.parameters, **result.summary}.items()}
        write_geopackage({result.parameters["layer"] + "_indices": result.zones}, gpkg,
                         metadata={result.parameters["layer"] + "_indices": meta})
        written.append(gpkg)
    s = result.summary
    echo = Console()
    echo.print(
        f"{s['n_firms']:,} firms, {s['n_zones']:,} zones ({s['n_empty_zones']:,} empty), "
        f"{s['n_outside']:,} firms outside every zone, weighting: {weight}"
        + (f", {s['n_without_weight']:,} firms without employees (weight 0)"
           if s["n_without_weight"] else "")
    )
    if s["synthetic"]:
        echo.print("[bold]Synthetic data[/] / 合成数据: the enterprises are simulated.")
    for path in written:
        echo.print(f"  {path}")




def _distance_inputs(
    firms, coords, column, n, window, out, type_column=None, analysis_crs="EPSG:4549",
    keep_flagged=False, *, targets=(), force=False,
):
    """Firms, window and projected coordinates of the firms inside it.

    With ``type_column`` any point file (lon/lat or x/y with ``--coords``)
    will do; without, the file needs industry codes. First checks that the
    output files ``targets`` may be written (see :func:`_load_firms` for the
    rejects beside ``out``).
    """
    from geo.io.zones import load_layer, study_area
    from geo.outputs import check_output_files
    from geo.stats.distance import make_window, points_in_window

    reports = _reports_beside(out, firms)
    check_output_files([*targets, *reports], force=force, inputs=[firms, Path(window)],
                       reports=reports)
    area = study_area(load_layer("districts"))
    table = _load_firms(firms, coords, column, n, 20261122, area, out,
                        require_code=type_column is None, located_only=True,
                        keep_flagged=keep_flagged)
    projected = table.firms.to_crs(analysis_crs)
    win = make_window(window, projected, analysis_crs, area)
    x, y, inside = points_in_window(table.firms, win, analysis_crs)
    if not inside.all():
        console.print(f"{int((~inside).sum()):,} firms outside the window are left out")
    frame = table.firms[inside]
    synthetic = bool(frame["synthetic"].any()) if "synthetic" in frame else False
    return frame, win, x[inside], y[inside], synthetic


def _finish(results, out: Path, plot: Path | None, synthetic: bool) -> None:
    from geo.function_outputs import function_reading, plot_function, write_function_table
    from geo.messages import user_lang

    # the plot's title and reading speak the user's language (the locale's)
    lang = user_lang(None)
    written = [write_function_table(results, out, synthetic)]
    written.append(plot_function(results[0], plot or out.with_suffix(".png"),
                                 synthetic=synthetic, lang=lang))
    echo = Console()
    echo.print(function_reading(results[0], lang), markup=False, highlight=False)
    for key, value in results[0].parameters.items():
        if key in ("bandwidth_m", "Gamma_localisation", "Psi_dispersion") and value is not None:
            echo.print(f"{key}: {value:.6g}")
    if results[0].p_value is not None:
        echo.print(f"global test p-value: {results[0].p_value:.3f}")
    if synthetic:
        echo.print("[bold]Synthetic data[/] / 合成数据: the enterprises are simulated.")
    for path in written:
        echo.print(f"  {path}")


def _pair_study(frame, pairs: str, level: str, type_column, min_firms: int, symmetric: bool):
    """Types of the firms and the pairs ``--pairs`` names (notes printed)."""
    from geo.stats.coagglomeration import industry_types, resolve_pairs

    types = industry_types(frame, level, type_column)
    chosen, notes = resolve_pairs(pairs, frame, types, type_column=type_column,
                                  min_firms=min_firms, symmetric=symmetric)
    for note in notes:
        console.print(note)
    console.print(f"{len(chosen):,} industry pairs ({level if not type_column else type_column})")
    return types, chosen


def _finish_pairs(study, out: Path, synthetic: bool) -> None:
    from geo.messages import user_lang
    from geo.pair_outputs import write_pair_study

    written = write_pair_study(study, out, synthetic, lang=user_lang(None))
    echo = Console()
    columns = [c for c in ("a", "b", "n_a", "n_b", "Gamma", "Psi", "l_excess_m", "m_max",
                           "clq", "p_value", "p_colocation", "significant")
               if c in study.table]
    echo.print("strongest pairs:")
    echo.print(study.strongest(10)[columns].to_string(index=False), markup=False,
               highlight=False)
    if synthetic:
        echo.print("[bold]Synthetic data[/] / 合成数据: the enterprises are simulated.")
    for path in written:
        echo.print(f"  {path}")


def _pair_targets(out: Path, plot: Path | None, curves: bool = True) -> list[Path]:
    """Files a pair study writes (checked before the work starts)."""
    names = ["_matrix.csv", "_matrix.png"] + (["_curves.csv"] if curves else [])
    return [out, *(out.with_name(out.stem + n) for n in names)]


@index_app.command("crossk")
@_friendly
def index_crossk(
    out: OutCsv,
    a: TypeA = "manufacturing",
    b: TypeB = "producer_services",
    firms: FirmsOption = None,
    coords: CoordsOption = "wgs84",
    column: ColumnOption = None,
    type_column: TypeColumn = None,
    window: WindowOption = "study",
    rmax: Annotated[float, typer.Option(help="Largest distance (metres).")] = 3000.0,
    nr: Annotated[int, typer.Option(help="Number of distances 0..rmax.")] = 257,
    correction: Annotated[
        str, typer.Option(help="Edge correction: border, none, translate, isotropic.")
    ] = "border",
    fun: Annotated[str, typer.Option(help="K or L.")] = "L",
    ties: Annotated[str, typer.Option(
        help="Pairs at a distance equal to some r: spatstat (counted as spatstat does) or "
             "closed (d <= r).")] = "spatstat",
    border: Annotated[str | None, typer.Option(
        help="Border correction: binned (spatstat's Kount) or exact (centres farther than r "
             "from the boundary); default: as spatstat.")] = None,
    nsim: NsimOption = 99,
    seed: SeedOption = 1,
    envelope: Annotated[str, typer.Option(help="pointwise or global.")] = "pointwise",
    plot: PlotOption = None,
    n: PopN = 30_000,
    pairs: PairsOption = None,
    level: LevelOption = "division",
    min_firms: MinFirmsOption = 10,
    keep_flagged: KeepFlaggedOption = False,
    force: ForceOption = False,
) -> None:
    """Ripley's cross-K/L of A to B with a random-labelling envelope (spatstat's estimators).

    With --pairs: cross-L of many industry pairs (reference a, neighbour b) in one pass,
    every firm's type permuted over all firms in each simulation.
    """
    from geo.stats.distance import labelled_types
    from geo.stats.ripley import default_r, kfunction

    if pairs and (fun != "L" or ties != "spatstat" or border not in (None, "binned")):
        raise ConfigError("--pairs computes cross-L with spatstat's ties and binned border "
                          "correction: leave out --fun, --ties and --border")
    frame, win, x, y, synthetic = _distance_inputs(
        firms, coords, column, n, window, out, type_column, keep_flagged=keep_flagged,
        targets=_pair_targets(out, plot) if pairs else [out, plot or out.with_suffix(".png")],
        force=force,
    )
    if pairs:
        from geo.stats.coagglomeration import coagglomeration_cross_l

        types, chosen = _pair_study(frame, pairs, level, type_column, min_firms, False)
        study = coagglomeration_cross_l(x, y, win, types, chosen, r=default_r(rmax, nr),
                                        correction=correction, nsim=nsim, seed=seed,
                                        envelope=envelope)
        _finish_pairs(study, out, synthetic)
        return
    types = labelled_types(frame, a, b, type_column)
    result = kfunction(x, y, win, types=types, a=a, b=b, r=default_r(rmax, nr),
                       correction=correction, ties=ties, border=border, nsim=nsim, seed=seed,
                       envelope=envelope, fun=fun)
    _finish([result], out, plot, synthetic)


def _metres(value: str, option: str) -> float:
    """Read a positive number of metres given on the command line."""
    try:
        number = float(value)
    except ValueError:
        number = -1.0
    if not number > 0:
        raise ConfigError(f"{option} takes nrd0, SJ or a positive number of metres, not '{value}'")
    return number


@index_app.command("kd")
@_friendly
def index_kd(
    out: OutCsv,
    a: TypeA = "manufacturing",
    b: Annotated[
        str | None, typer.Option("--b", help="Type B for the bilateral Kd (omit: univariate).")
    ] = "producer_services",
    firms: FirmsOption = None,
    coords: CoordsOption = "wgs84",
    column: ColumnOption = None,
    type_column: TypeColumn = None,
    window: WindowOption = "study",
    rmax: Annotated[float, typer.Option(help="Largest distance (metres).")] = 10_000.0,
    nr: Annotated[int, typer.Option(help="Number of distances 0..rmax.")] = 201,
    weight: WeightOption = "count",
    bandwidth: Annotated[str, typer.Option(
        help="Bandwidth: nrd0 (Silverman), SJ (Sheather-Jones) or metres.")] = "nrd0",
    adjust: Annotated[float, typer.Option(help="Bandwidth multiplier.")] = 1.0,
    estimator: Annotated[str, typer.Option(
        help="exact, or dbmss (dbmss's binned approximation, as its Kdhat from 10,000 "
             "points).")] = "exact",
    nsim: NsimOption = 99,
    seed: SeedOption = 1,
    plot: PlotOption = None,
    n: PopN = 30_000,
    pairs: PairsOption = None,
    level: LevelOption = "division",
    min_firms: MinFirmsOption = 10,
    keep_flagged: KeepFlaggedOption = False,
    force: ForceOption = False,
) -> None:
    """Duranton-Overman K-density of A (or A with B) with counterfactual global bands.

    With --pairs: the bilateral Kd of many industry pairs in one pass over the firm pairs,
    each with its own bandwidth, localisation (Gamma) and dispersion (Psi).
    """
    from geo.stats.distance import labelled_types
    from geo.stats.kdensity import kd_function

    if pairs and estimator != "exact":
        raise ConfigError("--pairs uses the exact estimator: leave out --estimator")
    rule = bandwidth if bandwidth in ("nrd0", "SJ") else _metres(bandwidth, "--bandwidth")
    frame, _, x, y, synthetic = _distance_inputs(
        firms, coords, column, n, window, out, type_column, keep_flagged=keep_flagged,
        targets=_pair_targets(out, plot) if pairs else [out, plot or out.with_suffix(".png")],
        force=force,
    )
    if pairs:
        from geo.stats.coagglomeration import coagglomeration_kd

        types, chosen = _pair_study(frame, pairs, level, type_column, min_firms, True)
        study = coagglomeration_kd(x, y, types, chosen, weights=_weights(frame, weight),
                                   rmax=rmax, n_r=nr, bandwidth=rule, adjust=adjust, nsim=nsim,
                                   seed=seed)
        _finish_pairs(study, out, synthetic)
        return
    types = labelled_types(frame, a, b, type_column)
    result = kd_function(x, y, types, a, b, weights=_weights(frame, weight), rmax=rmax,
                         n_r=nr, bandwidth=rule, adjust=adjust, estimator=estimator, nsim=nsim,
                         seed=seed)
    _finish([result], out, plot, synthetic)


@index_app.command("m")
@_friendly
def index_m(
    out: OutCsv,
    a: TypeA = "manufacturing",
    b: TypeB = "producer_services",
    firms: FirmsOption = None,
    coords: CoordsOption = "wgs84",
    column: ColumnOption = None,
    type_column: TypeColumn = None,
    window: WindowOption = "study",
    rmax: Annotated[float, typer.Option(help="Largest distance (metres).")] = 5000.0,
    nr: Annotated[int, typer.Option(help="Number of distances 0..rmax.")] = 65,
    weight: WeightOption = "count",
    nsim: NsimOption = 99,
    seed: SeedOption = 1,
    envelope: Annotated[str, typer.Option(help="pointwise or global.")] = "pointwise",
    plot: PlotOption = None,
    n: PopN = 30_000,
    pairs: PairsOption = None,
    level: LevelOption = "division",
    min_firms: MinFirmsOption = 10,
    keep_flagged: KeepFlaggedOption = False,
    force: ForceOption = False,
) -> None:
    """Marcon-Puech M of B around A (reference A, neighbours B) with random labelling.

    With --pairs: M of many industry pairs (reference a, neighbour b) in one pass.
    """
    from geo.stats.distance import labelled_types
    from geo.stats.mfunction import m_function

    frame, _, x, y, synthetic = _distance_inputs(
        firms, coords, column, n, window, out, type_column, keep_flagged=keep_flagged,
        targets=_pair_targets(out, plot) if pairs else [out, plot or out.with_suffix(".png")],
        force=force,
    )
    if pairs:
        from geo.stats.coagglomeration import coagglomeration_m

        types, chosen = _pair_study(frame, pairs, level, type_column, min_firms, False)
        study = coagglomeration_m(x, y, types, chosen, weights=_weights(frame, weight),
                                  r=np.linspace(0, rmax, nr), nsim=nsim, seed=seed,
                                  envelope=envelope)
        _finish_pairs(study, out, synthetic)
        return
    types = labelled_types(frame, a, b, type_column)
    result = m_function(x, y, types, a, b, weights=_weights(frame, weight),
                        r=np.linspace(0, rmax, nr), nsim=nsim, seed=seed, envelope=envelope)
    _finish([result], out, plot, synthetic)


@index_app.command("clq")
@_friendly
def index_clq(
    out: OutCsv,
    a: TypeA = "producer_services",
    b: TypeB = "manufacturing",
    firms: FirmsOption = None,
    coords: CoordsOption = "wgs84",
    column: ColumnOption = None,
    type_column: TypeColumn = None,
    window: WindowOption = "study",
    k: Annotated[int, typer.Option(help="Neighbours of the local CLQ kernel.")] = 8,
    nsim: NsimOption = 99,
    seed: SeedOption = 1,
    local: Annotated[
        Path | None,
        typer.Option(help="Also write the local CLQ of every A firm (.gpkg, .csv, .geojson)."),
    ] = None,
    n: PopN = 30_000,
    pairs: PairsOption = None,
    level: LevelOption = "division",
    min_firms: MinFirmsOption = 10,
    keep_flagged: KeepFlaggedOption = False,
    force: ForceOption = False,
) -> None:
    """Co-location quotients A -> B and B -> A with permutation p-values; local CLQ of A.

    With --pairs: the CLQ of many industry pairs (b among a's nearest neighbours), all
    from the same permutations.
    """
    from geo.export.layers import write_layer
    from geo.outputs import atomic_path
    from geo.safety import write_csv
    from geo.stats.colocation import colocation_quotients, local_colocation_quotient
    from geo.stats.distance import labelled_types

    if pairs and local:
        raise ConfigError("--local is for one pair (--a/--b), not with --pairs")
    frame, _, x, y, synthetic = _distance_inputs(
        firms, coords, column, n, window, out, type_column, keep_flagged=keep_flagged,
        targets=_pair_targets(out, None, curves=False) if pairs else [out, local],
        force=force,
    )
    if pairs:
        from geo.stats.coagglomeration import coagglomeration_clq

        types, chosen = _pair_study(frame, pairs, level, type_column, min_firms, False)
        study = coagglomeration_clq(x, y, types, chosen, nsim=nsim, seed=seed)
        _finish_pairs(study, out, synthetic)
        return
    types = labelled_types(frame, a, b, type_column)
    res = colocation_quotients(x, y, types, pairs=[(a, b), (b, a), (a, a), (b, b)],
                               nsim=nsim, seed=seed)
    table = res.table.assign(global_clq=res.global_clq, nsim=nsim, seed=seed,
                             synthetic=synthetic)
    with atomic_path(out) as tmp:
        write_csv(table, tmp)
    echo = Console()
    echo.print(table[["a", "b", "n_a", "n_b", "clq"] + (
        ["p_colocation", "p_isolation"] if nsim else [])].to_string(index=False))
    written = [out]
    if local:
        lclq = local_colocation_quotient(x, y, types, a, b, k=k, nsim=nsim, seed=seed)
        layer = frame.iloc[lclq.index][["firm_id", "name", "industry_code", "geometry"]].copy()
        for column_name in lclq.columns:
            layer[f"lclq_{column_name}" if column_name != "lclq" else "lclq"] = (
                lclq[column_name].to_numpy()
            )
        layer["synthetic"] = synthetic
        written.append(write_layer(layer, local))
    if synthetic:
        echo.print("[bold]Synthetic data[/] / 合成数据: the enterprises are simulated.")
    for path in written:
        echo.print(f"  {path}")
