"""Command-line interface: ``geo`` (also ``python -m geo``).

Every failure is one clear line and an exit status, never a traceback: user
mistakes and the environment (:class:`geo.errors.GeoError`, a full disk, a
read-only folder) exit with 2, an interruption with 130, and anything else is
a bug, reported as "internal error" with 3. ``GEO_DEBUG=1`` adds the
traceback. Passwords are masked in everything printed (:mod:`geo.redact`).
"""

from __future__ import annotations

import errno
import functools
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import click
import numpy as np
import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from geo import __version__
from geo.errors import ConfigError, GeoError

app = typer.Typer(
    name="geo",
    help="Spatial agglomeration analysis of manufacturing and producer services "
    "(两业协同集聚): maps, indices and GIS exports.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console(stderr=True)

# OSErrors that the environment or the user's paths cause, not a bug of geo
_ENVIRONMENT_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EACCES, errno.EPERM, errno.EROFS,
                       errno.EIO, errno.ENAMETOOLONG, errno.ENOENT, errno.ENOTDIR,
                       errno.EISDIR}


def _print_error(label: str, message: str) -> None:
    from geo.redact import redact

    if os.environ.get("GEO_DEBUG"):
        import traceback

        console.print(Text(redact(traceback.format_exc())), highlight=False, soft_wrap=True)
    else:
        # a writer the failure interrupted (a zip of an .xlsx on a full disk) may fail
        # again when Python discards it: that was reported just now, in one line
        sys.unraisablehook = lambda unraisable: None
    # Text, not markup: a file name such as "[red]x.csv" must print as it is
    console.print(Text.assemble((label, "bold red"), redact(message)), highlight=False,
                  soft_wrap=True)


def _friendly(command: Callable[..., Any]) -> Callable[..., Any]:
    """Turn every failure into a one-line message and an exit status (see the module)."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except (typer.Exit, typer.Abort, click.exceptions.Exit, click.ClickException):
            raise
        except GeoError as exc:
            from geo.messages import user_lang

            given = kwargs.get("lang")
            lang = user_lang(given if given in ("zh", "en") else None)
            label = "错误：" if lang == "zh" and exc.message_zh else "error: "
            _print_error(label, exc.text(lang))
            raise typer.Exit(2) from None
        except KeyboardInterrupt:
            console.print("[bold red]interrupted[/]; no partial outputs were left")
            raise typer.Exit(130) from None
        except BrokenPipeError:
            # the reader went away (geo ... | head): nothing to say, and nothing to flush
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            raise typer.Exit(141) from None
        except OSError as exc:
            if exc.errno not in _ENVIRONMENT_ERRNOS:
                _internal_error(exc)
            from geo.outputs import explain_error

            where = f"{exc.filename}: " if exc.filename else ""
            _print_error("error: ", where + explain_error(exc)[0])
            raise typer.Exit(2) from None
        except Exception as exc:
            _internal_error(exc)

    return wrapper


def _internal_error(exc: Exception) -> None:
    """Report a bug of geo in one line (the traceback with GEO_DEBUG=1) and exit 3."""
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    hint = "report it" if os.environ.get("GEO_DEBUG") else "set GEO_DEBUG=1 for the traceback"
    _print_error("internal error: ", f"{type(exc).__name__}: {first} (a bug in geo; {hint})")
    raise typer.Exit(3) from None


def _version(value: bool) -> None:
    if value:
        typer.echo(f"geo {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
) -> None:
    """Spatial agglomeration analysis of manufacturing and producer services."""


def _parse_columns(pairs: list[str] | None) -> dict[str, str]:
    out = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key or not value:
            raise ConfigError(f"--column takes SCHEMA=FILE_COLUMN (e.g. lon=经度X), got '{pair}'")
        out[key.strip()] = value.strip()
    return out


CoordsOption = Annotated[
    str,
    typer.Option(
        "--coords",
        help="Coordinate system of the file: wgs84, gcj02 (Amap/Tencent), bd09 (Baidu), "
        "cgcs2000 or an EPSG code such as 4549.",
    ),
]
ColumnOption = Annotated[
    list[str] | None,
    typer.Option(
        "--column",
        help="Map a schema field to a file column, e.g. --column industry_code=行业小类. "
        "Repeatable. Fields: firm_id, name, industry_code, lon, lat, employees, revenue, year.",
    ),
]


BasemapOption = Annotated[
    str | None,
    typer.Option(help="Web map basemap: osm, cartodb, amap, amap-satellite (overlays shifted "
                 "to GCJ-02), tianditu (key: TIANDITU_TOKEN) or none. Default: the recipe's "
                 "(Amap for --lang zh, OSM for en); none with --offline."),
]
OfflineOption = Annotated[
    bool | None,
    typer.Option("--offline", help="Web map without a tile basemap, for use with no "
                 "network (every map is one self-contained HTML file that loads no code from "
                 "a CDN; only tiles need the network)."),
]
AllowFormulasOption = Annotated[
    bool,
    typer.Option("--allow-formulas", help="Trusted data only: write CSV/XLSX text as it is, so "
                 "text starting with = + - @ can run as a spreadsheet formula (default: shown "
                 "as text)."),
]


@app.command()
@_friendly
def run(
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="Run configuration (TOML).")
    ] = None,
    firms: Annotated[
        Path | None,
        typer.Option(
            help="Enterprise file (CSV, XLSX, GPKG, GeoJSON, SHP, Parquet). "
            "Default: the synthetic seed population."
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

    from geo.pipeline import RunConfig, load_config
    from geo.pipeline import run as run_pipeline

    cfg = load_config(config) if config else RunConfig()
    overrides = {
        "firms": firms,
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
    if table is not None and table.mapping is not None and cfg.firms:
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

    from geo.export import write_layer
    from geo.outputs import check_output_files
    from geo.seed import generate_firms

    check_output_files([out], force=force)
    start = time.perf_counter()
    table = generate_firms(n, seed)
    write_layer(table.firms, out)
    typer.echo(
        f"wrote {len(table.firms):,} synthetic firms (seed {seed}) to {out} "
        f"in {time.perf_counter() - start:.1f} s"
    )


LangOption = Annotated[
    str | None,
    typer.Option("--lang", help="Language of messages: zh or en (default: the locale's)."),
]
ToleranceOption = Annotated[
    float,
    typer.Option("--boundary-tolerance", min=0.0, help="Keep points up to this many metres "
                 "outside the study area, moved 1 m inside (the distance is recorded)."),
]


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
    from geo.firms import read_firms
    from geo.industry import load_classification
    from geo.messages import pick, user_lang
    from geo.outputs import check_output_files
    from geo.zones import load_layer

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


def _write_report(write: Callable[[Path], Path | None], target: Path, lang: str) -> bool:
    """Write a rejects or flagged-rows file; remove geo's out-of-date one if none is due.

    A report left from an earlier check would list rows that are fine now.
    """
    from geo.messages import pick
    from geo.outputs import looks_like_report

    if write(target):
        return True
    if looks_like_report(target):
        target.unlink()
        console.print(pick(lang, f"已删除过时的 {target}", f"removed the out-of-date {target}"),
                      markup=False, highlight=False)
    return False


def _reports_beside(out: Path, firms: Path | None) -> list[Path]:
    """Return the rejects and flagged-rows files :func:`_load_firms` writes beside ``out``."""
    if firms is None:  # the synthetic population has no rejects
        return []
    return [out.with_name(out.stem + "_rejects.csv"), out.with_name(out.stem + "_flagged.csv")]


ForceOption = Annotated[
    bool, typer.Option("--force", help="Replace existing output files (never an input file).")
]
KeepFlaggedOption = Annotated[
    bool,
    typer.Option("--keep-flagged", help="Keep firms with suspect positions (geocoder fallback "
                 "points, district mismatches) in the distance statistics and clusters."),
]


def _load_firms(firms, coords, column, n, seed, area, out: Path | None,
                require_code: bool = True, located_only: bool = False,
                keep_flagged: bool = False):
    """Load the enterprise table: a user's file or the seed.

    The rejected rows go beside a file output ``out`` (``<stem>_rejects.csv``);
    with ``out=None`` (a folder output) the command writes them into its folder.
    With ``located_only`` (distance statistics, clusters, siting), firms with
    suspect positions are left out unless ``keep_flagged``. The row accounting
    is printed in the locale's language.
    """
    from geo.firms import read_firms
    from geo.industry import load_classification
    from geo.messages import pick, user_lang
    from geo.seed import generate_firms
    from geo.zones import load_layer

    if firms is None:
        return generate_firms(n, seed)
    table = read_firms(
        firms, coords=coords, columns=_parse_columns(column) or None, study_area=area,
        districts=load_layer("districts"), classification=load_classification(),
        require_code=require_code,
    )
    lang = user_lang()
    for line in table.report(lang):
        console.print(line, markup=False, highlight=False)
    suspect = table.firms["suspect_position"].to_numpy(dtype=bool)
    if located_only and suspect.any() and not keep_flagged:
        table.firms = table.firms[~suspect].reset_index(drop=True)
        console.print(pick(
            lang, f"{int(suspect.sum()):,} 家坐标可疑的企业未参与计算（--keep-flagged 可保留）",
            f"{int(suspect.sum()):,} firms with suspect positions are left out "
            "(--keep-flagged keeps them)"), markup=False)
    if out is None:
        return table
    for target, write in zip(_reports_beside(out, firms), (table.write_rejects,
                                                           table.write_flagged), strict=True):
        if _write_report(write, target, lang):
            console.print(pick(lang, f"详见 {target}", f"see {target}"), markup=False)
    return table


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

    from geo.crs import parse_coord_system
    from geo.export import TABLE_FORMATS, write_geopackage, write_tables
    from geo.indices import load_scheme, result_tables, zonal_indices
    from geo.outputs import check_output_files
    from geo.zones import assign_points, load_layer, load_zones, study_area

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


FirmsOption = Annotated[
    Path | None,
    typer.Option(help="Enterprise file. Default: the synthetic seed population."),
]
TypeA = Annotated[
    str,
    typer.Option("--a", help="Type A: a group (manufacturing, producer_services), high_tech, "
                 "a field (digital, tech, finance, logistics, business) or a code prefix (C39)."),
]
TypeB = Annotated[str, typer.Option("--b", help="Type B (same forms as --a).")]
TypeColumn = Annotated[
    str | None,
    typer.Option(help="Take the types from this column of the file instead (raw values)."),
]
WindowOption = Annotated[
    str,
    typer.Option(help="Window: study (study area), bbox, a zone layer or file, or "
                 "LAYER:ID,ID (e.g. districts:330106,330108)."),
]
NsimOption = Annotated[int, typer.Option(help="Number of simulations (0: none).")]
SeedOption = Annotated[int, typer.Option(help="Seed of the simulations.")]
OutCsv = Annotated[Path, typer.Option("--out", "-o", help="Result table (.csv).")]
PlotOption = Annotated[
    Path | None, typer.Option(help="Plot (.png); default: beside --out with .png.")
]
PopN = Annotated[int, typer.Option("--n", help="Size of the synthetic population.")]
PairsOption = Annotated[
    str | None,
    typer.Option(help="Many industry pairs in one pass instead of --a/--b: all (every pair of "
                 "types), LEFT*RIGHT (e.g. 'manufacturing*producer_services': every division "
                 "of the one with every division of the other; × also works) or a CSV file "
                 "with columns a,b. Writes a pair table, a pair matrix (csv, png) and the "
                 "curves."),
]
LevelOption = Annotated[
    str, typer.Option(help="Industry level of the types with --pairs: division (C39), group "
                      "(C391) or class (C3911).")
]
MinFirmsOption = Annotated[
    int, typer.Option(help="With --pairs: leave out types with fewer firms.")
]
WeightOption = Annotated[str, typer.Option(help="Point weights: count or employment.")]


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
    from geo.distance import make_window, points_in_window
    from geo.outputs import check_output_files
    from geo.zones import load_layer, study_area

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


def _weights(frame, weight: str):
    if weight == "count":
        return None
    if weight != "employment":
        raise ConfigError(f"unknown weight '{weight}': use count or employment")
    employees = frame["employees"].to_numpy(dtype=float)
    if not np.isfinite(employees).any():
        raise ConfigError("no employees in the data: use --weight count")
    missing = ~np.isfinite(employees)
    if missing.any():
        console.print(f"{int(missing.sum()):,} firms without employees get weight 0")
    return np.where(missing, 0.0, employees)


def _finish(results, out: Path, plot: Path | None, synthetic: bool) -> None:
    from geo.distance import function_reading, plot_function, write_function_table
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
    from geo.coagglomeration import industry_types, resolve_pairs

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
    from geo.distance import labelled_types
    from geo.ripley import default_r, kfunction

    if pairs and (fun != "L" or ties != "spatstat" or border not in (None, "binned")):
        raise ConfigError("--pairs computes cross-L with spatstat's ties and binned border "
                          "correction: leave out --fun, --ties and --border")
    frame, win, x, y, synthetic = _distance_inputs(
        firms, coords, column, n, window, out, type_column, keep_flagged=keep_flagged,
        targets=_pair_targets(out, plot) if pairs else [out, plot or out.with_suffix(".png")],
        force=force,
    )
    if pairs:
        from geo.coagglomeration import coagglomeration_cross_l

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
    from geo.distance import labelled_types
    from geo.kdensity import kd_function

    if pairs and estimator != "exact":
        raise ConfigError("--pairs uses the exact estimator: leave out --estimator")
    rule = bandwidth if bandwidth in ("nrd0", "SJ") else _metres(bandwidth, "--bandwidth")
    frame, _, x, y, synthetic = _distance_inputs(
        firms, coords, column, n, window, out, type_column, keep_flagged=keep_flagged,
        targets=_pair_targets(out, plot) if pairs else [out, plot or out.with_suffix(".png")],
        force=force,
    )
    if pairs:
        from geo.coagglomeration import coagglomeration_kd

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
    from geo.distance import labelled_types
    from geo.mfunction import m_function

    frame, _, x, y, synthetic = _distance_inputs(
        firms, coords, column, n, window, out, type_column, keep_flagged=keep_flagged,
        targets=_pair_targets(out, plot) if pairs else [out, plot or out.with_suffix(".png")],
        force=force,
    )
    if pairs:
        from geo.coagglomeration import coagglomeration_m

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
    from geo.colocation import colocation_quotients, local_colocation_quotient
    from geo.distance import labelled_types
    from geo.export import write_layer
    from geo.outputs import atomic_path
    from geo.safety import write_csv

    if pairs and local:
        raise ConfigError("--local is for one pair (--a/--b), not with --pairs")
    frame, _, x, y, synthetic = _distance_inputs(
        firms, coords, column, n, window, out, type_column, keep_flagged=keep_flagged,
        targets=_pair_targets(out, None, curves=False) if pairs else [out, local],
        force=force,
    )
    if pairs:
        from geo.coagglomeration import coagglomeration_clq

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

    from geo.distance import type_mask
    from geo.export import write_layer
    from geo.hotspots import grid_cluster_statistics
    from geo.outputs import check_output_files
    from geo.zones import assign_points, load_layer, load_zones, study_area

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
        from geo.clusters import cluster_areas

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
        from geo.density import density_contours, kernel_density, write_geotiff

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

    from geo.clusters import cluster_areas
    from geo.crs import DEFAULT_ANALYSIS_CRS, attribute_table
    from geo.export import write_geopackage
    from geo.maps import load_recipe, save_map, source_note, web_map
    from geo.outputs import atomic_folder, atomic_path, check_output_folder
    from geo.safety import write_csv
    from geo.siting import MASKS, SiteOptions, site_zones
    from geo.zones import load_layer, study_area

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


@app.command()
@_friendly
def export(
    sources: Annotated[
        list[Path] | None,
        typer.Argument(help="Run folders or layer files (default: ./geo-out)."),
    ] = None,
    fmt: Annotated[
        str,
        typer.Option("--format", "-f",
                     help="gpkg, shp (zipped, UTF-8), geojson, kml, kmz, parquet, csv or xlsx."),
    ] = "gpkg",
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="A .gpkg/.xlsx file or a folder (default: "
                     "export.<format> or export_<format>/)."),
    ] = None,
    crs: Annotated[
        str, typer.Option(help="wgs84, cgcs2000 (EPSG:4490), 4549, or gcj02 (to overlay on "
                          "Amap; not an EPSG CRS). GeoJSON and KML are always WGS84.")
    ] = "wgs84",
    layer: Annotated[
        list[str] | None, typer.Option(help="Only these layers (repeatable).")
    ] = None,
    force: Annotated[bool, typer.Option(help="Replace an existing output.")] = False,
    to: Annotated[
        str | None,
        typer.Option(help="Write to PostGIS instead: postgresql://user@host:5432/db or "
                     "'host=h dbname=db'. Keep the password off the command line (others "
                     "may see it): use PGPASSWORD or ~/.pgpass."),
    ] = None,
    schema: Annotated[str, typer.Option(help="PostGIS schema.")] = "geo",
    replace: Annotated[
        bool, typer.Option(help="Replace existing PostGIS tables (in one transaction).")
    ] = False,
    allow_formulas: AllowFormulasOption = False,
) -> None:
    """Export map layers to GIS formats or PostGIS (atomic: a failure leaves nothing behind).

    An existing export is replaced only with --force, and only once the new one
    is complete; the files exported from are never replaced.
    """
    from geo.export import export_layers, read_layers

    # a malformed --to fails now, and its password is masked from here on
    dsn = None
    if to:
        from geo.postgis import check_dsn

        dsn = check_dsn(to)
    sources = sources or [Path("geo-out")]
    layers_ = read_layers(sources)
    echo = Console()
    for frame in layers_.values():
        for note in frame.attrs.get("notes", []):
            echo.print(note, markup=False, highlight=False)
    if layer:
        unknown = sorted(set(layer) - set(layers_))
        if unknown:
            raise ConfigError(f"no layer(s) {', '.join(unknown)}; found: {', '.join(layers_)}")
        layers_ = {k: v for k, v in layers_.items() if k in layer}
    if dsn:
        from geo.postgis import export_postgis
        from geo.redact import mask_dsn

        epsg = {"wgs84": "EPSG:4326", "cgcs2000": "EPSG:4490", "4549": "EPSG:4549"}.get(crs)
        if epsg is None:
            raise ConfigError("PostGIS export takes --crs wgs84, cgcs2000 or 4549")
        tables = export_postgis(layers_, dsn, schema=schema, replace=replace, crs=epsg)
        echo.print(f"{len(tables)} tables written to PostGIS ({epsg}) at {mask_dsn(dsn)}:",
                   markup=False, highlight=False)
        for table in tables:
            echo.print(f"  {table}", markup=False, highlight=False)
        return
    target = out or Path(f"export.{fmt}" if fmt in ("gpkg", "xlsx") else f"export_{fmt}")
    written = export_layers(layers_, target, fmt, crs=crs, force=force,
                            allow_formulas=allow_formulas, inputs=sources)
    echo.print(f"{len(layers_)} layers exported as {fmt} ({crs}):")
    for path in written:
        echo.print(f"  {path}")


@app.command()
@_friendly
def report(
    folder: Annotated[Path, typer.Argument(help="A geo run folder (default: ./geo-out).")] = Path(
        "geo-out"),
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Folder of the pack (default: "
                                  "RUN_FOLDER/report).")
    ] = None,
    lang: Annotated[
        str | None, typer.Option(help="Language of the report: zh or en (default: the run's).")
    ] = None,
) -> None:
    """Write the results pack of a run: report.html, report.docx and tables.xlsx.

    The report reads the run's tables, maps and manifest and writes a summary
    whose every number is a table cell, wide tables with Chinese (or English)
    headers, platform and town scorecards, charts, the proposed zones with their
    coordinates, a reading guide to every index, and the data and methods.
    report.html is one file that opens offline; geo run writes the pack too.
    """
    from geo.report import write_report

    written = write_report(folder, out, lang)
    echo = Console(highlight=False)
    echo.print(f"results pack / 成果报告: {written[0].parent}", markup=False)
    for path in written[:3]:
        echo.print(f"  {path}", markup=False)
    echo.print(f"  {len(written) - 3} figures in {written[0].parent / 'figures'}", markup=False)


def _map_inputs(sources: list[Path]) -> tuple[dict[str, Any], bool, int]:
    """Layers of run folders or layer files, whether any is synthetic, and the run's seed."""
    import json

    import geopandas as gpd

    from geo.export import read_layers
    from geo.maps import map_class

    layers_ = {
        name: frame for name, frame in read_layers(sources).items()
        if isinstance(frame, gpd.GeoDataFrame)
    }
    firms = layers_.get("firms")
    # a firms file from `geo seed` or `geo validate` has the fields but not the map class
    if firms is not None and "map_class" not in firms and {"group", "field", "high_tech"} <= set(
        firms.columns
    ):
        layers_["firms"] = firms.assign(map_class=map_class(firms))
    manifests = [
        json.loads((source / "manifest.json").read_text(encoding="utf-8"))
        for source in sources if (source / "manifest.json").is_file()
    ]
    flagged = any(
        str(frame.attrs.get("metadata", {}).get("synthetic", "")).lower() == "true"
        or ("synthetic" in frame and frame["synthetic"].astype(str).str.lower().eq("true").any())
        for frame in layers_.values()
    )
    synthetic = flagged or any(m.get("synthetic") for m in manifests)
    seed = manifests[0]["parameters"]["seed"] if manifests else 0
    return layers_, synthetic, seed


@app.command("map")
@_friendly
def map_(
    sources: Annotated[
        list[Path] | None,
        typer.Argument(help="Run folders (their layers.gpkg) or layer files, named by layer: "
                       "districts.geojson, firms.gpkg... (default: ./geo-out)."),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="The web map (default: map.html) or, with --static, "
                     "a folder (default: static_maps)."),
    ] = None,
    basemap: BasemapOption = None,
    lang: Annotated[str, typer.Option(help="Map language: zh or en.")] = "zh",
    offline: OfflineOption = False,
    static: Annotated[
        bool, typer.Option("--static", help="Static maps (PNG and PDF) instead of the web map.")
    ] = False,
    extent: Annotated[
        str | None,
        typer.Option("--extent", help="Static maps: core (where 80% of the enterprises are; "
                     "default), city (the whole study area) or W,S,E,N in WGS84 degrees. "
                     "Less than the city gets an inset map of the city."),
    ] = None,
    title: Annotated[
        str | None,
        typer.Option("--title", help="Static maps: title (default: the recipe's, in --lang)."),
    ] = None,
    tianditu_token: Annotated[
        str | None,
        typer.Option(help="Key of the tianditu basemap (default: TIANDITU_TOKEN)."),
    ] = None,
    recipe: Annotated[
        str, typer.Option(help="Map recipe: a bundled name or a TOML file.")
    ] = "default",
    force: ForceOption = False,
) -> None:
    """Draw the map of a run folder or of layer files: interactive (HTML) or static.

    Every layer the recipe styles is drawn: zones, enterprises by class, index
    choropleths, hot spots, LISA, clusters, density contours. On Amap basemaps
    the overlays are shifted to GCJ-02 to line up with the tiles.
    """
    from geo.errors import InputError
    from geo.maps import (
        choose_basemap,
        drawable_layers,
        load_recipe,
        save_map,
        source_note,
        web_map,
    )
    from geo.outputs import check_output_files

    sources = sources or [Path("geo-out")]
    if not static and (extent is not None or title is not None):
        raise ConfigError("--extent and --title are options of the static maps: add --static",
                          zh="--extent 和 --title 是静态地图的选项：请加上 --static")
    if static:
        from geo.maps.extent import parse_extent

        shown = parse_extent(extent)  # a bad extent stops before any file is read
        folder = out or Path("static_maps")
        targets = [folder / f"{stem}.{kind}" for stem in ("map_clusters", "map_coagglomeration")
                   for kind in ("png", "pdf")]
    else:
        targets = [out or Path("map.html")]
    check_output_files(targets, force=force, inputs=[*sources, Path(recipe)])
    layers_, synthetic, seed = _map_inputs(sources)
    style = load_recipe(recipe)
    echo = Console()
    notes = [note for frame in layers_.values() for note in frame.attrs.get("notes", [])]
    layers_, left_out = drawable_layers(layers_, style)
    for note in [*notes, *left_out]:
        echo.print(note, markup=False, highlight=False)
    if not layers_:
        raise InputError("nothing to draw: no layer has a geometry",
                         zh="没有可绘制的内容：所有图层都没有几何", file=sources[0])
    provenance = source_note(layers_, lang, style)
    if static:
        if basemap or offline or tianditu_token:
            raise ConfigError("--basemap, --offline and --tianditu-token are web map options; "
                              "static maps draw no tiles")
        from geo.maps.static import write_static_maps

        # the note's sources come from the layers' source columns, without repeats
        written = write_static_maps(layers_, style, out or Path("static_maps"), lang=lang,
                                    synthetic=synthetic, extent=shown, title=title)
    else:
        chosen = choose_basemap(basemap, bool(offline))
        m = web_map(layers_, style, lang=lang, synthetic=synthetic, provenance=provenance,
                    seed=seed, basemap=chosen, tianditu_token=tianditu_token)
        written = [save_map(m, out or Path("map.html"))]
        if offline and chosen != "none":
            echo.print(f"note: the {chosen} tiles still need the network; the overlays do not")
    if synthetic:
        echo.print("[bold]Synthetic data[/] / 合成数据: the enterprises are simulated.")
    for path in written:
        echo.print(f"  {path}")


@app.command()
@_friendly
def layers() -> None:
    """List the bundled zone layers with their source, accuracy and licence."""
    from geo.zones import load_catalog, load_layer

    table = Table(title="Bundled layers / 内置图层")
    for name in ("layer", "title", "features", "accuracy", "licence"):
        table.add_column(name)
    for name, entry in load_catalog().items():
        table.add_row(
            name,
            f"{entry.get('title_zh', '')} {entry.get('title_en', '')}",
            str(len(load_layer(name))),
            str(entry.get("accuracy", "")),
            str(entry.get("licence", "")),
        )
    Console().print(table)


def main() -> None:
    """Run the ``geo`` command line; it ends with ``SystemExit``, as any click program."""
    app()


def entry() -> None:
    """Entry point of the ``geo`` command and ``python -m geo``: :func:`main`, then a quick exit.

    Tearing the interpreter down (freeing every module and object) takes over a
    second after a run. By the time :func:`main` returns every output is
    written and closed, so the process ends once the exit handlers (logging,
    multiprocessing) and any non-daemon thread have finished. :func:`main`
    itself ends normally, for callers in a long-lived process.
    """
    import atexit
    import threading

    try:
        main()
        code: Any = 0
    except SystemExit as stop:
        code = stop.code
    if code is None:
        code = 0
    elif not isinstance(code, int):  # sys.exit("message"): print it, exit 1, as Python does
        print(code, file=sys.stderr)
        code = 1
    for thread in threading.enumerate():
        if thread is not threading.main_thread() and not thread.daemon:
            thread.join()
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe (geo ... | head): nothing left to say
            pass
    os._exit(code)


if __name__ == "__main__":  # pragma: no cover
    entry()
