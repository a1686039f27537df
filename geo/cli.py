"""Command-line interface: ``geo`` (also ``python -m geo``).

User mistakes (:class:`geo.errors.GeoError`) are printed as one clear message
without a traceback, and the command exits with status 2.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

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


def _friendly(command: Callable[..., Any]) -> Callable[..., Any]:
    """Turn GeoError into a one-line message and exit status 2."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except GeoError as exc:
            console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None
        except KeyboardInterrupt:
            console.print("[bold red]interrupted[/]; no partial outputs were left")
            raise typer.Exit(130) from None

    return wrapper


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
) -> None:
    """Run the whole job: layers, enterprises, map, GeoPackage and tables.

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
    }
    for key, value in overrides.items():
        if value is not None:
            setattr(cfg, key, value)
    if column:
        cfg.columns = {**cfg.columns, **_parse_columns(column)}

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
            current.append(progress.add_task(name, total=None))

        result = run_pipeline(cfg, on_step=on_step)
        if current:
            progress.update(current[-1], completed=1, total=1)

    stats = result.manifest["enterprises"]
    summary = Table(title="Firms by district / 分区县企业数", show_lines=False)
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
    out_console = Console()
    out_console.print(summary)
    if result.manifest["synthetic"]:
        out_console.print("[bold]Synthetic data[/] / 合成数据: the enterprises are simulated.")
    out_console.print(
        f"{stats['n_valid']:,} enterprises mapped, {stats['n_rejected']:,} rejected"
        + (" (see rejects.csv)" if stats["n_rejected"] else "")
    )
    out_console.print(f"Outputs in / 输出目录: [bold]{result.folder}[/]")
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
    from geo.seed import generate_firms

    if out.exists() and not force:
        raise ConfigError(f"{out} exists; pass --force to overwrite it")
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
) -> None:
    """Read and validate an enterprise file against the bundled study area.

    Prints how many rows are valid and why the others were rejected, and writes
    the rejected rows (with row numbers and reasons) to a rejects file.
    """
    from geo.firms import read_firms
    from geo.industry import load_classification
    from geo.zones import load_layer, study_area

    table = read_firms(
        path,
        coords=coords,
        columns=_parse_columns(column) or None,
        encoding=encoding,
        sheet=sheet,
        study_area=study_area(load_layer("districts")),
        classification=load_classification(),
    )
    s = table.summary
    typer.echo(
        f"{path}: {s['n_read']:,} rows read, {s['n_valid']:,} valid, {s['n_rejected']:,} rejected"
    )
    for reason, count in sorted(s["rejected_by_reason"].items(), key=lambda kv: -kv[1]):
        typer.echo(f"  {count:>8,}  {reason}")
    target = rejects or path.with_name(path.stem + ".rejects.csv")
    if table.write_rejects(target):
        typer.echo(f"rejected rows written to {target}")
    if s["n_rejected"]:
        raise typer.Exit(1)


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
    """Entry point of the ``geo`` command."""
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
