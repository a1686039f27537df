"""Tables and trend charts of a panel by year (:mod:`geo.stats.panel`).

``panel_*.csv`` beside the run's other tables: the tidy tables with a ``year``
column, one wide table per index (zone x year), and the change from the first
to the last year with its permutation p-values; ``plots/trend_<layer>.png``
draws C of every zone of the districts and platforms layers over the years.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from geo.export.layers import write_tables
from geo.function_outputs import function_reading, type_label, write_function_table
from geo.maps.recipe import MapRecipe
from geo.messages import pick
from geo.outputs import atomic_path
from geo.stats.panel import Panel

TREND_LAYERS = ("districts", "platforms")


def write_panel(panel: Panel, folder: str | Path, *, synthetic: bool, lang: str = "zh",
                allow_formulas: bool = False) -> list[Path]:
    """Write a panel's tables (``panel_*.csv``) and trend charts (``plots/trend_*.png``).

    Parameters
    ----------
    panel : Panel
        The panel.
    folder : str or Path
        The run folder.
    synthetic : bool
        Whether the firms are synthetic (a column, and the charts, say so).
    lang : {"zh", "en"}
        Language of the charts.
    allow_formulas : bool
        Trusted data: text cells as they are (:func:`geo.safety.write_csv`).

    Returns
    -------
    list of Path
        Every file written.
    """
    folder = Path(folder)
    computed = panel.tables()  # once: it concatenates every year's tables
    tables = {name: table.assign(synthetic=synthetic) for name, table in computed.items()}
    written = write_tables(tables, folder / "panel.csv", allow_formulas=allow_formulas)
    if panel.functions:
        written.append(write_function_table(panel.functions,
                                            folder / "panel_distance_functions.csv", synthetic,
                                            allow_formulas=allow_formulas))
        written.append(plot_functions_by_year(panel.functions, folder / "plots" /
                                              "trend_cross_l.png", synthetic=synthetic,
                                              lang=lang))
    wide = computed["coagg_quality"]
    for layer in TREND_LAYERS:
        part = wide[wide["layer"] == layer]
        if len(part):
            path = folder / "plots" / f"trend_{layer}.png"
            plot_trend(part, panel.years, path, layer=layer, synthetic=synthetic, lang=lang)
            written.append(path)
    return written


def plot_trend(wide, years: list[str], path: Path, *, layer: str, synthetic: bool,
               lang: str) -> Path:
    """Draw C of each zone over the years, one line per zone, labelled at its end."""
    import matplotlib  # imported here: geo run loads it only when it draws
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from geo.maps.fonts import find_cjk_font

    cjk = find_cjk_font()
    if lang == "zh" and cjk is None:
        lang = "en"  # no Chinese glyphs: English text, not empty boxes
    families = [cjk, "DejaVu Sans"] if lang == "zh" else ["DejaVu Sans", *([cjk] if cjk else [])]
    names = {"districts": ("区县", "districts"), "platforms": ("重点平台", "platforms")}
    what = pick(lang, *names.get(layer, (layer, layer)))
    x = np.array([int(y) if str(y).isdigit() else i for i, y in enumerate(years)])
    with matplotlib.rc_context({"font.family": families, "axes.unicode_minus": False,
                                "axes.formatter.use_mathtext": False}):
        fig = Figure(figsize=(8, 5), dpi=130, layout="constrained")
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        for _, row in wide.iterrows():
            values = row[years].to_numpy(dtype=float)
            if not np.isfinite(values).any():
                continue
            ax.plot(x, values, marker="o", lw=1.4)
            last = np.flatnonzero(np.isfinite(values))[-1]
            ax.annotate(str(row["name_zh"]), (x[last], values[last]), xytext=(4, 0),
                        textcoords="offset points", fontsize=7, va="center")
        ax.set_xticks(x, [str(y) for y in years])
        ax.set_ylabel(pick(lang, "协同集聚质量 C", "co-agglomeration quality C"))
        title = pick(lang, f"{what}：制造业与生产性服务业协同集聚质量 C 的变化",
                     f"{what}: co-agglomeration quality C of manufacturing and producer "
                     "services over time")
        if synthetic:
            title += pick(lang, "（合成数据）", " (synthetic data)")
        ax.set_title(title, fontsize=10)
        ax.grid(alpha=0.3)
        ax.set_xlim(x[0] - 0.5, x[-1] + 0.25 * (x[-1] - x[0]) + 0.5)
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png")
    return path


def plot_functions_by_year(results: list, path: Path, *, synthetic: bool, lang: str) -> Path:
    """Draw L(r) - r of each year with its envelope on one plot, each year's reading below."""
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from geo.maps.fonts import find_cjk_font, wrap_text

    cjk = find_cjk_font()
    if lang == "zh" and cjk is None:
        lang = "en"
    families = [cjk, "DejaVu Sans"] if lang == "zh" else ["DejaVu Sans", *([cjk] if cjk else [])]
    colours = ("#1565c0", "#b71c1c", "#2e7d32", "#6a1b9a")
    a, b = results[0].parameters.get("a"), results[0].parameters.get("b")
    readings = [f"{r.parameters['year']}: {function_reading(r, lang)}" for r in results]
    with matplotlib.rc_context({"font.family": families, "axes.unicode_minus": False,
                                "axes.formatter.use_mathtext": False}):
        fig = Figure(figsize=(8, 5.6), dpi=130)
        FigureCanvasAgg(fig)
        ax = fig.add_axes((0.1, 0.3, 0.86, 0.6))
        for result, colour in zip(results, colours, strict=False):
            km, year = result.r / 1000, result.parameters["year"]
            if result.lo is not None:
                ax.fill_between(km, (result.lo - result.r) / 1000, (result.hi - result.r) / 1000,
                                color=colour, alpha=0.15,
                                label=pick(lang, f"{year} 随机标记包络线",
                                           f"{year} random-labelling envelope"))
            ax.plot(km, (result.observed - result.r) / 1000, color=colour, lw=1.8,
                    label=pick(lang, f"{year} 观测值", f"{year} observed"))
        ax.axhline(0, color="#555555", lw=0.8, ls="--")
        ax.set_xlabel(pick(lang, "距离 (km)", "Distance (km)"))
        ax.set_ylabel("L(r) − r (km)")
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
        title = pick(lang, f"交叉 L 函数：{type_label(a, lang)}与{type_label(b, lang)}，"
                     f"{results[0].parameters['year']} 与 {results[-1].parameters['year']}",
                     f"Cross-L of {type_label(a, lang)} and {type_label(b, lang)}, "
                     f"{results[0].parameters['year']} and {results[-1].parameters['year']}")
        if synthetic:
            title += pick(lang, "（合成数据）", " (synthetic data)")
        fig.text(0.5, 0.97, title, ha="center", va="top", fontsize=10, fontweight="bold")
        fig.text(0.5, 0.15, "\n".join(line for reading in readings
                                       for line in wrap_text(reading, 100)),
                 ha="center", va="center", fontsize=8)
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png")
    return path


def panel_layers(panel: Panel, zones: dict) -> dict:
    """Map layers of a panel: each year's indices, and the change, of every zone layer.

    ``<layer>_<year>`` is the zone layer with that year's indices (the columns
    of :attr:`geo.stats.zonal.ZonalResult.zones`) for the districts and platforms;
    ``<layer>_change`` has the change from the first to the last year
    (``d_quality``, ``p_quality``, ``d_level``, ``d_lq_*``, ``rank_change``,
    ``significant`` = ``p_quality`` <= 0.05 and ``n_firms`` of the last year);
    ``clusters_change`` the producer-service clusters followed from the first
    to the last year (:func:`geo.stats.panel.match_clusters`).

    Parameters
    ----------
    panel : Panel
        The panel.
    zones : dict of str to GeoDataFrame
        The zone layers.

    Returns
    -------
    dict of str to GeoDataFrame
    """
    import geopandas as gpd

    layers = {}
    for year, results in panel.results.items():
        for result in results:
            if result.parameters["layer"] in TREND_LAYERS:
                layers[f"{result.parameters['layer']}_{year}"] = result.zones
    if panel.clusters is not None and len(panel.clusters):
        layers["clusters_change"] = panel.clusters
    last = {r.parameters["layer"]: r.zones for r in panel.results[panel.years[-1]]}
    for layer, changes in panel.changes.groupby("layer", sort=False):
        frame = zones[layer][["zone_id", *[c for c in ("name_zh", "name_en") if c in zones[layer]],
                              "geometry"]].copy()
        frame["zone_id"] = frame["zone_id"].astype(str)
        values = changes.drop(columns=["layer", "name_zh"]).set_index("zone_id")
        frame = frame.join(values, on="zone_id")
        frame["significant"] = (frame["p_quality"] <= 0.05).fillna(False).astype(bool)
        frame["n_firms"] = last[layer].set_index(last[layer]["zone_id"].astype(str))[
            "n_firms"].reindex(frame["zone_id"]).to_numpy()
        layers[f"{layer}_change"] = gpd.GeoDataFrame(frame, geometry="geometry",
                                                     crs=zones[layer].crs)
        layers[f"{layer}_change"].attrs["period"] = f"{panel.years[0]}–{panel.years[-1]}"
    return layers


def year_choropleths(recipe: MapRecipe, panel: Panel) -> MapRecipe:
    """Return the recipe with a C choropleth for each year of the districts and platforms.

    Built like the recipe's ``coagg_quality_grid`` (same classes and colours),
    so the years compare; the web map lists them in its layer control.
    """
    from dataclasses import replace

    base = next((c for c in recipe.choropleths if c.name == "coagg_quality_grid"), None)
    if base is None:
        return recipe
    names = {"districts": ("区县", "districts"), "platforms": ("重点平台", "platforms")}
    extra = [replace(base, name=f"coagg_quality_{layer}_{year}", layer=f"{layer}_{year}",
                     title_zh=f"两业协同集聚质量 C（{names[layer][0]}，{year} 年）",
                     title_en=f"Co-agglomeration quality C ({names[layer][1]}, {year})",
                     min_firms=0, show=False)
             for layer in TREND_LAYERS for year in panel.years]
    return replace(recipe, choropleths=(*recipe.choropleths, *extra))

