"""Commands of the whole job: ``geo run``, ``geo seed``, ``geo validate``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from geo.cli.common import (
    BasemapOption,
    ColumnOption,
    CoordsOption,
    LangOption,
    OfflineOption,
    ToleranceOption,
    _friendly,
    _parse_columns,
    _write_report,
    app,
    console,
)
from geo.errors import ConfigError


@app.command()
@_friendly
def run(
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="Run configuration (TOML).")
    ] = None,
    firms: Annotated[
        list[str] | None,
        typer.Option(
            help="Enterprise file (CSV, XLSX, GPKG, GeoJSON, SHP, Parquet). "
            "Default: the synthetic seed population. Repeat as YEAR=FILE for a panel of "
            "registers (--firms 2019=a.csv --firms 2024=b.csv): indices per register, their "
            "change and the entrants; the other analyses use the last register."
        ),
    ] = None,
    coords: Annotated[str | None, typer.Option(help="Coordinate system of --firms.")] = None,
    column: ColumnOption = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Run folder.")] = None,
    n: Annotated[int | None, typer.Option(help="Size of the synthetic population.")] = None,
    seed: Annotated[
        int | None,
        typer.Option(help="Seed of the synthetic population and of the web map's sample."),
    ] = None,
    lang: Annotated[str | None, typer.Option(help="Map language: zh or en.")] = None,
    zone: Annotated[
        list[str] | None,
        typer.Option(
            help="Add or replace a zone layer: NAME=FILE, NAME=BUNDLED_LAYER or NAME=GRID "
            "(e.g. platforms=my_platforms.gpkg, parks=parks.geojson, cells=hex:1000). "
            "Repeatable."
        ),
    ] = None,
    grid: Annotated[
        str | None,
        typer.Option(help="Grid of the zonal indices (square:2000, hex:1000, h3:8 or none)."),
    ] = None,
    weight: Annotated[
        str | None, typer.Option(help="Weight of a firm in the indices: count or employment.")
    ] = None,
    export: Annotated[
        list[str] | None,
        typer.Option("--export", help="Also export every layer as shp, geojson, kml, kmz, "
                     "parquet, csv or xlsx (repeatable); layers.gpkg is always written."),
    ] = None,
    basemap: BasemapOption = None,
    offline: OfflineOption = None,
    sites: Annotated[
        int | None,
        typer.Option(help="New producer-service zones to propose (default 5; 0 skips)."),
    ] = None,
    site_radius: Annotated[
        float | None, typer.Option(help="Service radius of a new zone in metres (default 3000).")
    ] = None,
    boundary_tolerance: Annotated[
        float | None,
        typer.Option("--boundary-tolerance", min=0.0, help="Keep firms up to this many metres "
                     "outside the study area, moved 1 m inside (distance recorded)."),
    ] = None,
    keep_flagged: Annotated[
        bool | None,
        typer.Option("--keep-flagged", help="Keep firms with suspect positions (geocoder "
                     "fallback points, district mismatches) in the distance statistics, "
                     "clusters and siting."),
    ] = None,
    hotspot_cells: Annotated[
        str | None,
        typer.Option("--hotspot-cells", help="Grid cells the hot spots and LISA test: "
                     "occupied (cells with at least one firm; default) or all."),
    ] = None,
    full: Annotated[
        bool | None,
        typer.Option("--full", help="Cross-L and Kd on every firm, however many (default: a "
                     "seeded sample of 50,000 above that; the run says when it samples)."),
    ] = None,
    static_extent: Annotated[
        str | None,
        typer.Option("--static-extent", help="Extent of the static report maps: core (the "
                     "urban core, with an inset of the city; default), city, or W,S,E,N in "
                     "WGS84 degrees."),
    ] = None,
    years: Annotated[
        str | None,
        typer.Option("--years", help="Panel by year, e.g. 2015,2020,2024: every zonal index "
                     "for the firms active in each year (founded by then, not closed before: "
                     "成立日期/成立年份, 注销日期, 吊销日期) and the change from the first to the "
                     "last year with a permutation test (panel_*.csv, plots/trend_*.png)."),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace files in the run folder that geo did not "
                           "write but this run writes (other files there are always kept).")
    ] = False,
) -> None:
    """Run the whole job: indices, distance functions, clusters, siting, maps, GeoPackage, tables.

    With no options it runs on the bundled Hangzhou layers and the synthetic
    seed population and writes ./geo-out/. Options override the --config file.
    """
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from geo.config import RunConfig, load_config
    from geo.pipeline import run as run_pipeline

    cfg = load_config(config) if config else RunConfig()
    plain, registers = _split_firms(firms or [])
    if registers:
        cfg.registers = registers
    overrides = {
        "firms": plain,
        "coords": coords,
        "output": out,
        "seed_n": n,
        "seed": seed,
        "lang": lang,
        "basemap": basemap,
        "offline": offline,
        "site_k": sites,
        "site_radius": site_radius,
        "boundary_tolerance": boundary_tolerance,
        "keep_flagged": keep_flagged,
        "hotspot_cells": hotspot_cells,
        "static_extent": static_extent,
        "distance_max_points": 0 if full else None,
        "years": years,
    }
    for key, value in overrides.items():
        if value is not None:
            setattr(cfg, key, value)
    if column:
        cfg.columns = {**cfg.columns, **_parse_columns(column)}
    for pair in zone or []:
        name, sep, source = pair.partition("=")
        if not sep or not name.strip() or not source.strip():
            raise ConfigError(f"--zone takes NAME=FILE_OR_LAYER, got '{pair}'")
        cfg.zones[name.strip()] = source.strip()
    if grid is not None:
        cfg.grid = None if grid.lower() == "none" else grid
    if weight is not None:
        cfg.weighting = weight
    if export:
        cfg.exports = [*cfg.exports, *export]

    from geo.messages import pick, stage_label, user_lang

    say = user_lang(lang)
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as progress:
        current: list[int] = []

        def on_step(name: str) -> None:
            if current:
                progress.update(current[-1], completed=1, total=1)
            current.append(progress.add_task(stage_label(name, say), total=None))

        result = run_pipeline(cfg, on_step=on_step, force=force)
        if current:
            progress.update(current[-1], completed=1, total=1)

    summary = Table(title=pick(say, "分区县企业数", "Firms by district"), show_lines=False)
    for name in ("name_zh", "manufacturing", "producer_services", "other", "firms"):
        summary.add_column(name, justify="right" if name != "name_zh" else "left")
    for row in result.summary.itertuples():
        summary.add_row(
            str(row.name_zh),
            *(
                f"{int(getattr(row, c, 0)):,}"
                for c in ("manufacturing", "producer_services", "other", "firms")
            ),
        )
    out_console = Console(highlight=False)
    out_console.print(summary)
    if result.manifest["synthetic"]:
        out_console.print(pick(say, "[bold]合成数据[/]：企业为模拟生成，并非真实登记信息。",
                               "[bold]Synthetic data[/]: the enterprises are simulated."))
    table = result.table
    if table is not None and table.mapping is not None and (cfg.firms or cfg.registers):
        for line in table.mapping.report(say):
            out_console.print(line, markup=False)
    if table is not None:
        for line in table.report(say):
            out_console.print(line, markup=False)
    for name, words in (("rejects.csv", ("被拒的行见", "rejected rows: see")),
                        ("flagged.csv", ("有标记的行见", "flagged rows: see"))):
        if name in result.manifest["outputs"]:
            out_console.print(f"{pick(say, *words)} {result.folder / name}", markup=False)
    siting = result.manifest.get("siting")
    if siting:
        options = siting["options"]
        before, after = siting["share_covered_before"], siting["share_covered_after"]
        proposed = siting.get("n_proposed", options["k"])  # fewer than k when few add demand
        out_console.print(pick(
            say,
            f"建议新建 {proposed} 处生产性服务业集聚区（sites.csv）：{options['radius']:g} 米内"
            f"有集群服务的制造业需求 {before:.1%} → {after:.1%}",
            f"{proposed} new producer-service zones proposed (sites.csv): manufacturing "
            f"demand within {options['radius']:g} m of a cluster {before:.1%} -> {after:.1%}",
        ))
    for note in result.manifest.get("notes", []):
        out_console.print(f"[yellow]{pick(say, '说明', 'note')}:[/] {note}")
    out_console.print(f"{pick(say, '输出目录', 'Outputs in')}: [bold]{result.folder}[/]")
    for name in result.manifest["outputs"]:
        out_console.print(f"  {result.folder / name}")


def _split_firms(values: list[str]) -> tuple[Path | None, dict[str, Path]]:
    """Split --firms values into the one plain file and the YEAR=FILE registers."""
    plain, registers = [], {}
    for value in values:
        label, sep, path = value.partition("=")
        if sep and label.strip().isdigit() and path.strip():
            registers[label.strip()] = Path(path.strip())
        else:
            plain.append(Path(value))
    if len(plain) > 1:
        raise ConfigError("--firms takes one file, or YEAR=FILE for each register of a panel "
                          f"(--firms 2019=a.csv --firms 2024=b.csv); got {len(plain)} files")
    return (plain[0] if plain else None), registers


@app.command()
@_friendly
def seed(
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Output file: .csv, .gpkg, .geojson or .parquet.")
    ],
    n: Annotated[int, typer.Option(help="Number of firms.")] = 30_000,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 20261122,
    force: Annotated[bool, typer.Option(help="Overwrite an existing file.")] = False,
) -> None:
    """Draw the synthetic (seed) enterprise population and write it to a file."""
    import time

    from geo.export.layers import write_layer
    from geo.io.seed import generate_firms
    from geo.outputs import check_output_files

    check_output_files([out], force=force)
    start = time.perf_counter()
    table = generate_firms(n, seed)
    write_layer(table.firms, out)
    typer.echo(
        f"wrote {len(table.firms):,} synthetic firms (seed {seed}) to {out} "
        f"in {time.perf_counter() - start:.1f} s"
    )



@app.command()
@_friendly
def validate(
    path: Annotated[Path, typer.Argument(help="Enterprise file to check.")],
    coords: CoordsOption = "wgs84",
    column: ColumnOption = None,
    encoding: Annotated[str | None, typer.Option(help="Force a text encoding (CSV).")] = None,
    sheet: Annotated[str | None, typer.Option(help="Worksheet (XLSX).")] = None,
    rejects: Annotated[
        Path | None, typer.Option(help="Rejects file (default: <file>.rejects.csv beside it).")
    ] = None,
    flagged: Annotated[
        Path | None,
        typer.Option(help="Flagged-rows file (default: <file>.flagged.csv beside it)."),
    ] = None,
    boundary_tolerance: ToleranceOption = 0.0,
    lang: LangOption = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace existing --rejects/--flagged files that "
                           "are not geo's (geo's own rejects and flagged files are refreshed).")
    ] = False,
) -> None:
    """Read and validate an enterprise file against the bundled study area.

    Prints which file column became which field, how many rows are valid,
    flagged or rejected and why, and writes the rejected and the flagged rows
    (with the spreadsheet row number, header = row 1, and the reasons in
    Chinese and English) beside the file. Exits 1 when rows were rejected.

    Checking the file again refreshes these files; another file of their name
    is replaced only with --force, and the input never.
    """
    from geo.io.firms import read_firms
    from geo.io.industry import load_classification
    from geo.io.zones import load_layer
    from geo.messages import pick, user_lang
    from geo.outputs import check_output_files

    lang = user_lang(lang)
    rejects = rejects or path.with_name(path.stem + ".rejects.csv")
    flagged = flagged or path.with_name(path.stem + ".flagged.csv")
    check_output_files([rejects, flagged], force=force, inputs=[path],
                       reports=[rejects, flagged])
    table = read_firms(
        path,
        coords=coords,
        columns=_parse_columns(column) or None,
        encoding=encoding,
        sheet=sheet,
        districts=load_layer("districts"),
        classification=load_classification(),
        boundary_tolerance=boundary_tolerance,
    )
    for line in table.mapping.report(lang):
        typer.echo(line)
    for note in table.summary["notes"]:
        typer.echo(pick(lang, "说明：", "note: ") + note)
    typer.echo(f"{path}: " + "\n".join(table.report(lang)))
    targets = (
        (rejects, table.write_rejects, ("被拒的行已写入", "rejected rows written to")),
        (flagged, table.write_flagged, ("有标记的行已写入", "flagged rows written to")),
    )
    for target, write, words in targets:
        if _write_report(write, target, lang):
            typer.echo(f"{pick(lang, *words)} {target}")
    if table.summary["n_rejected"]:
        raise typer.Exit(1)
