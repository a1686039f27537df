"""The report's charts, drawn from its tables (PNG bytes, for HTML, Word and the folder).

Chinese text needs a CJK font (:func:`geo.maps.fonts.find_cjk_font`); without
one the charts are drawn in English rather than with empty boxes, as the static
maps are, and zones are labelled by their English names (:func:`zone_names`).
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from geo.errors import ConfigError
from geo.function_outputs import function_figure, function_reading
from geo.io.industry import label
from geo.messages import pick
from geo.report.data import BASE_A, BASE_B, RunData
from geo.report.table import ReportTable

DPI = 120
MAX_BARS = 30  # zones in a bar chart: more would not be legible (the tables hold them all)
_FIELD_COLOURS = {"manufacturing": "#b71c1c", "digital": "#1565c0", "tech": "#6a1b9a",
                  "finance": "#ef6c00", "logistics": "#2e7d32", "business": "#00838f",
                  "other_ps": "#90a4ae", "other": "#d7ccc8"}


@dataclass
class Chart:
    """A figure of the report: id, caption (in the report's language) and PNG bytes."""

    id: str
    caption: str
    png: bytes
    note: str = ""


def chart_language(lang: str) -> tuple[str, list[str]]:
    """Language the charts can be drawn in, and the font families for it."""
    from geo.maps.fonts import find_cjk_font

    cjk = find_cjk_font()
    if lang == "zh" and cjk is None:
        return "en", ["DejaVu Sans"]
    return lang, ([cjk, "DejaVu Sans"] if lang == "zh" else ["DejaVu Sans",
                                                             *([cjk] if cjk else [])])


def _rc(families: list[str]) -> dict:
    return {"font.family": families, "axes.unicode_minus": False,
            "axes.formatter.use_mathtext": False}


def _png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


def _figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _synthetic(fig: Figure, synthetic: bool, lang: str) -> None:
    if synthetic:
        fig.suptitle(pick(lang, "合成数据，仅作方法演示",
                          "Synthetic data: method demonstration only"),
                     fontsize=8, color="#b71c1c", x=0.99, ha="right")


def zone_names(data: RunData, table: ReportTable, lang: str) -> pd.Series:
    """Names of a zone table's rows in the chart's language.

    The table is in the report's language; when the charts fall back to English
    (no CJK font) a zone is named by its English name, or by its id when it has
    only a Chinese one, so no label is drawn as empty boxes.
    """
    names = table.frame["name"].astype(str)
    if lang != "en":
        return names
    zones = data.zones[table.extra["layer"]].set_index("zone_id")
    english = zones["name_en"].reindex(names.index) if "name_en" in zones else \
        pd.Series(np.nan, index=names.index)
    english = english.where(english.notna(), names).astype(str)
    drawable = english.map(lambda text: all(ord(ch) < 0x2E80 for ch in text))
    return english.where(drawable, pd.Series(names.index.astype(str), index=names.index))


def index_bars(table: ReportTable, names: pd.Series, title: str, lang: str,
               families: list[str], synthetic: bool) -> bytes:
    """C and C′ of the zones of a layer (the ``MAX_BARS`` best by C), two panels of sorted bars.

    ``names`` labels the rows (:func:`zone_names`).
    """
    frame = table.frame.dropna(subset=["quality"]).head(MAX_BARS)  # the table is sorted by C
    frame = frame.assign(name=names.reindex(frame.index))
    rows = max(len(frame), 1)
    with matplotlib.rc_context(_rc(families)):
        fig = _figure(8.0, 1.2 + 0.24 * rows)
        axes = fig.subplots(1, 2, sharey=False)
        for ax, key, name, colour in ((axes[0], "quality", "C", "#1565c0"),
                                      (axes[1], "level", "C′", "#b71c1c")):
            part = frame.sort_values(key)
            bars = ax.barh(part["name"].astype(str), part[key].astype(float), color=colour)
            for bar, flagged in zip(bars, part["flag"].astype(bool), strict=True):
                if flagged:
                    bar.set_hatch("///")
                    bar.set_edgecolor("white")
            ax.set_title(name, fontsize=10)
            ax.tick_params(labelsize=8)
            ax.grid(axis="x", alpha=0.3)
        fig.supxlabel(pick(lang, f"{title}（斜线：见“提示”列）", f"{title} (hatched: see the flag "
                           "column)"), fontsize=8)
        _synthetic(fig, synthetic, lang)
        return _png(fig)


def composition_bars(data: RunData, table: ReportTable, lang: str, families: list[str],
                     synthetic: bool) -> bytes:
    """Share of manufacturing, each producer-service field and other firms, per zone."""
    layer = table.extra["layer"]
    long = data.measures[(data.measures["layer"] == layer) & (data.measures["measure"] == "share")]
    share = long.pivot_table(index="zone_id", columns="group", values="value", aggfunc="first")
    share = share.reindex(table.frame.index[:MAX_BARS])
    parts = [g for g in ("manufacturing", "digital", "tech", "finance", "logistics", "business")
             if g in share]
    if BASE_B in share:
        fields = [g for g in parts if g != BASE_A]
        share["other_ps"] = (share[BASE_B] - share[fields].sum(axis=1)).clip(lower=0)
        parts.append("other_ps")
    share["other"] = (1 - share[parts].sum(axis=1)).clip(lower=0)
    parts.append("other")
    names = zone_names(data, table, lang).iloc[:MAX_BARS]
    with matplotlib.rc_context(_rc(families)):
        fig = _figure(8.0, 1.6 + 0.26 * len(share))
        ax = fig.add_subplot()
        left = np.zeros(len(share))
        for group in parts:
            values = share[group].fillna(0).to_numpy(float)
            name = pick(lang, "其他行业", "other industries") if group == "other" else \
                pick(lang, "其他生产性服务", "other producer services") if group == "other_ps" \
                else label(group, lang)
            ax.barh(names, values, left=left, color=_FIELD_COLOURS[group], label=name)
            left += values
        ax.set_xlim(0, 1)
        ax.xaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
        ax.invert_yaxis()
        ax.tick_params(labelsize=8)
        ax.legend(fontsize=7, ncols=4, loc="lower center", bbox_to_anchor=(0.5, 1.0),
                  frameon=False)
        _synthetic(fig, synthetic, lang)
        return _png(fig)


def distance_charts(data: RunData, lang: str, families: list[str]) -> list[Chart]:
    """Cross-L and Kd of manufacturing with producer services, then cross-L with each field."""
    charts = []
    by_pair = {(f.name, f.parameters.get("b")): f for f in data.functions
               if f.parameters.get("a") == BASE_A}
    for name in ("Lcross", "Kd_bilateral"):
        result = by_pair.get((name, BASE_B))
        if result is None:
            continue
        fig = function_figure(result, synthetic=data.synthetic, lang=lang)
        with matplotlib.rc_context({"font.family": families}):
            png = _png(fig)
        charts.append(Chart(f"function_{name}", pick(
            lang, f"{'交叉 L 函数' if name == 'Lcross' else 'Kd 函数'}：制造业与生产性服务业",
            f"{'Cross-L' if name == 'Lcross' else 'Kd'}: manufacturing and producer services"),
            png, function_reading(result, lang)))
    fields = [(b, f) for (n, b), f in by_pair.items() if n == "Lcross" and b != BASE_B]
    if fields:
        with matplotlib.rc_context(_rc(families)):
            cols = 3
            rows = -(-len(fields) // cols)
            fig = _figure(8.5, 2.4 * rows + 0.4)
            axes = np.atleast_1d(fig.subplots(rows, cols, sharex=True)).ravel()
            for ax, (b, f) in zip(axes, fields, strict=False):
                km = f.r / 1000
                if f.lo is not None:  # no envelope without simulations (nsim = 0)
                    ax.fill_between(km, (f.lo - f.r) / 1000, (f.hi - f.r) / 1000,
                                    color="#bbbbbb")
                ax.plot(km, (f.observed - f.r) / 1000, color="#b71c1c", lw=1.4)
                ax.axhline(0, color="#555555", lw=0.8, ls="--")
                ax.set_title(label(b, lang), fontsize=9)
                ax.tick_params(labelsize=7)
            for ax in axes[len(fields):]:
                ax.set_visible(False)
            fig.supxlabel(pick(lang, "距离 (km)；纵轴 L(r) − r (km)；灰带为随机标记包络线",
                               "Distance (km); vertical L(r) − r (km); grey: random-labelling "
                               "envelope"), fontsize=8)
            _synthetic(fig, data.synthetic, lang)
            png = _png(fig)
        readings = pick(lang, "；", "; ").join(function_reading(f, lang) for _, f in fields)
        charts.append(Chart("function_fields", pick(
            lang, "交叉 L 函数：制造业与各生产性服务领域（L(r) − r）",
            "Cross-L of manufacturing with each producer-service field (L(r) − r)"), png, readings))
    return charts


def egk_heatmap(data: RunData, lang: str, families: list[str]) -> Chart | None:
    """EGK co-agglomeration of manufacturing divisions with producer-service divisions."""
    matrix = data.egk_matrix
    if matrix is None or "districts" not in set(matrix["layer"]):
        return None
    part = matrix[matrix["layer"] == "districts"].set_index("industry_a").drop(columns="layer")
    part = part[[c for c in part.columns if c[:1].isdigit()]].astype(float)
    if part.empty:
        return None

    def name(code: str) -> str:
        try:
            return f"{code} {label(code, lang)}"[:18]
        except (KeyError, ConfigError):  # a user's own code
            return str(code)

    limit = float(np.nanmax(np.abs(part.to_numpy()))) or 1.0
    with matplotlib.rc_context(_rc(families)):
        fig = _figure(9.0, 1.5 + 0.3 * len(part))
        ax = fig.add_subplot()
        image = ax.imshow(part.to_numpy(), cmap="RdBu_r", vmin=-limit, vmax=limit, aspect="auto")
        ax.set_xticks(range(part.shape[1]), [str(c) for c in part.columns], fontsize=7,
                      rotation=90)
        ax.set_yticks(range(part.shape[0]), [name(str(i)) for i in part.index], fontsize=7)
        ax.set_xlabel(pick(lang, "生产性服务业（国民经济行业大类代码）",
                           "Producer services (GB/T 4754 division)"), fontsize=8)
        fig.colorbar(image, ax=ax, shrink=0.8, label="EGK γc")
        _synthetic(fig, data.synthetic, lang)
        png = _png(fig)
    return Chart("egk", pick(lang, "EGK 协同集聚指数矩阵（区县）：制造业大类 × 生产性服务业大类",
                             "EGK co-agglomeration by district: manufacturing × producer-service "
                             "divisions"), png,
                 pick(lang, "红：倾向同处；蓝：倾向分离。区县只有十余个，数值不稳定。",
                      "Red: together; blue: apart. With a dozen districts the values are "
                      "unstable."))


def cluster_sizes(table: ReportTable, lang: str, families: list[str], synthetic: bool) -> bytes:
    """Histogram of cluster sizes (firms)."""
    sizes = table.frame["n_firms"].astype(float)
    with matplotlib.rc_context(_rc(families)):
        fig = _figure(6.5, 3.2)
        ax = fig.add_subplot()
        bins = np.unique(np.geomspace(max(sizes.min(), 1), max(sizes.max(), 2), 15).round())
        ax.hist(sizes, bins=bins if len(bins) > 1 else 5, color="#1565c0", edgecolor="white")
        ax.set_xscale("log")
        # plain numbers: mathtext powers of ten need glyphs a CJK font may not have
        ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.set_xlabel(pick(lang, "集群企业数（对数坐标）", "Firms per cluster (log scale)"))
        ax.set_ylabel(pick(lang, "集群数", "Clusters"))
        ax.grid(alpha=0.3)
        _synthetic(fig, synthetic, lang)
        return _png(fig)


def _top_note(table: ReportTable, lang: str) -> str:
    """Caption suffix of a chart that shows only the first ``MAX_BARS`` zones."""
    if len(table.frame) <= MAX_BARS:
        return ""
    return pick(lang, f"（C 最高的 {MAX_BARS} 个）", f" (the {MAX_BARS} with the highest C)")


def all_charts(data: RunData, tables: dict[str, ReportTable], lang: str) -> list[Chart]:
    """Every chart of the report, in reading order."""
    lang, families = chart_language(lang)
    from geo.report.tables import layer_title

    charts = []
    for layer in data.layers:
        table = tables.get(f"zones_{layer}")
        if table is None or table.frame["quality"].isna().all():
            continue
        title = layer_title(data, layer, lang)
        top = _top_note(table, lang)
        charts.append(Chart(f"bars_{layer}", pick(lang, f"{title}的协同集聚质量 C 与水平 C′{top}",
                                                  f"{title}: co-agglomeration quality C and "
                                                  f"level C′{top}"),
                            index_bars(table, zone_names(data, table, lang), title, lang,
                                       families, data.synthetic)))
    for layer in data.layers:
        if layer == "districts" or f"zones_{layer}" not in tables:
            continue
        title = layer_title(data, layer, lang)
        top = _top_note(tables[f"zones_{layer}"], lang)
        charts.append(Chart(f"composition_{layer}", pick(lang, f"{title}的行业构成{top}",
                                                         f"{title}: composition by field{top}"),
                            composition_bars(data, tables[f"zones_{layer}"], lang, families,
                                             data.synthetic)))
    charts += distance_charts(data, lang, families)
    egk = egk_heatmap(data, lang, families)
    if egk is not None:
        charts.append(egk)
    if "clusters" in tables:
        charts.append(Chart("cluster_sizes", pick(lang, "生产性服务业集群的规模分布",
                                                  "Producer-service clusters by size"),
                            cluster_sizes(tables["clusters"], lang, families, data.synthetic)))
    return charts


