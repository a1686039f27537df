"""Commands that present a run: ``geo export``, ``geo report``, ``geo map``, ``geo layers``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from geo.cli.common import (
    AllowFormulasOption,
    BasemapOption,
    ForceOption,
    OfflineOption,
    _friendly,
    app,
)
from geo.errors import ConfigError


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
    from geo.export.layers import export_layers, read_layers

    # a malformed --to fails now, and its password is masked from here on
    dsn = None
    if to:
        from geo.export.postgis import check_dsn

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
        from geo.export.postgis import export_postgis
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

    from geo.export.layers import read_layers
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
    from geo.io.zones import load_catalog, load_layer

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
