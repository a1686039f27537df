"""The report as a document: sections of paragraphs, findings, tables, charts and maps.

HTML and Word are two renderings of the same :class:`Report`; the workbook holds
its tables. Tables and figures are numbered by the writers in reading order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from geo.messages import pick
from geo.report.change import (
    CHANGE_LAYERS,
    change_table,
    cluster_change_table,
    entrant_table,
    years,
)
from geo.report.charts import all_charts, chart_language
from geo.report.data import RunData
from geo.report.findings import Cite, overview_table, write_findings
from geo.report.guide import guide_table
from geo.report.methods import (
    SYNTHETIC_EN,
    SYNTHETIC_ZH,
    input_table,
    parameter_table,
    source_table,
)
from geo.report.places import cluster_table, scorecard_table, site_table, siting_summary
from geo.report.table import ReportTable
from geo.report.tables import distance_table, eg_table, field_table, layer_title, zone_table

MAX_CARDS = 60  # zones of a layer that get a scorecard each


@dataclass
class Block:
    """A piece of a section: ``text``, ``findings``, ``table``, ``cards``, ``chart`` or ``map``."""

    kind: str
    content: object


@dataclass
class Section:
    """A numbered section with a heading and blocks."""

    id: str
    title: str
    blocks: list[Block] = field(default_factory=list)

    def text(self, text: str) -> None:
        """Add a paragraph."""
        self.blocks.append(Block("text", text))


@dataclass
class Report:
    """Everything the writers render."""

    lang: str
    title: str
    subtitle: str
    synthetic: bool
    banner: str
    sections: list[Section]
    tables: dict[str, ReportTable]
    findings: list[list[str | Cite]]
    chart_lang: str

    def workbook_tables(self) -> list[ReportTable]:
        """Return the tables in reading order, the reading guide last."""
        ordered = []
        for section in self.sections:
            for block in section.blocks:
                if block.kind in ("table", "cards") and block.content not in ordered:
                    ordered.append(block.content)
        guide = self.tables["guide"]
        return [t for t in ordered if t is not guide] + [guide]


def _maps(data: RunData, lang: str) -> list[tuple[Path, str]]:
    names = {"map_coagglomeration": ("两业协同集聚（核心区）", "Co-agglomeration (core area)"),
             "map_clusters": ("生产性服务业集群与拟建集聚区（核心区）",
                              "Producer-service clusters and proposed zones (core area)"),
             "map_change": ("两业协同集聚质量的变化（首末年份）",
                            "Change of co-agglomeration quality (first to last year)")}
    return [(path, pick(lang, *names.get(path.stem, (path.stem, path.stem))))
            for path in data.static_maps]


def _trend_caption(stem: str, span: tuple[str, str], lang: str) -> str:
    captions = {"trend_districts": ("各区县协同集聚质量 C 的变化",
                                    "C of the districts over time"),
                "trend_platforms": ("各重点平台协同集聚质量 C 的变化",
                                    "C of the platforms over time"),
                "trend_cross_l": (f"交叉 L 函数：{span[0]} 与 {span[1]} 年",
                                  f"Cross-L in {span[0]} and {span[1]}")}
    return pick(lang, *captions.get(stem, (stem, stem)))


def build_report(data: RunData, lang: str) -> Report:
    """Assemble the report of a run in ``lang``.

    Parameters
    ----------
    data : RunData
        The run (:func:`geo.report.data.load_run`).
    lang : {"zh", "en"}
        Language of the report.

    Returns
    -------
    Report
    """
    tables: dict[str, ReportTable] = {}

    def keep(table: ReportTable | None) -> ReportTable | None:
        if table is not None:
            tables[table.id] = table
        return table

    for layer in data.layers:
        keep(zone_table(data, layer, lang))
        keep(field_table(data, layer, lang))
        if layer != "districts" and len(data.zones[layer]) <= MAX_CARDS:
            keep(scorecard_table(data, layer, lang))
    for build in (eg_table, distance_table, cluster_table, site_table, siting_summary,
                  input_table, source_table, parameter_table, entrant_table,
                  cluster_change_table):
        keep(build(data, lang))
    for layer in CHANGE_LAYERS:
        if layer in data.zones:
            keep(change_table(data, layer, lang))
    keep(guide_table(lang))
    keep(overview_table(tables, lang))
    findings = write_findings(tables, lang)
    charts = {chart.id: chart for chart in all_charts(data, tables, lang)}

    def add(section: Section, kind: str, key: str) -> None:
        source = charts if kind == "chart" else tables
        if key in source:
            section.blocks.append(Block(kind, source[key]))

    summary = Section("summary", pick(lang, "摘要", "Summary"))
    summary.blocks.append(Block("findings", findings))
    add(summary, "table", "overview")

    sections = [summary]
    for layer in data.layers:
        if f"zones_{layer}" not in tables:
            continue
        section = Section(f"layer_{layer}", layer_title(data, layer, lang))
        section.text(pick(
            lang, "区位熵（LQ）衡量制造业与生产性服务业在各单元的相对集中程度；"
                  "协同集聚质量 C 衡量两者是否相当，协同集聚水平 C′ 同时计入两者的规模。"
                  "“提示”列与阅读指南说明何时需要谨慎。",
            "Location quotients (LQ) measure how concentrated manufacturing and producer services "
            "are in each zone; co-agglomeration quality C measures whether the two match, and "
            "level C′ adds their size. The flag column and the reading guide say when to be "
            "careful."))
        add(section, "table", f"zones_{layer}")
        add(section, "chart", f"bars_{layer}")
        add(section, "chart", f"composition_{layer}")
        add(section, "table", f"fields_{layer}")
        add(section, "cards", f"cards_{layer}")
        if layer != "districts" and f"cards_{layer}" not in tables:
            section.text(pick(lang, f"单元多于 {MAX_CARDS} 个，不逐一列出评分卡；见上表。",
                              f"More than {MAX_CARDS} zones: no scorecard each; see the table."))
        sections.append(section)

    distance = Section("distance", pick(lang, "距离尺度的协同集聚", "Co-agglomeration by distance"))
    distance.text(pick(
        lang, "距离函数不依赖行政边界：它们比较制造业企业周围一定距离内的生产性服务业企业数"
              "与随机标记下的期望，回答“在多远的范围内两业彼此靠近”。"
              "Ellison–Glaeser 指数则在空间单元上度量集聚。",
        "Distance functions do not depend on boundaries: they compare the producer-service firms "
        "within a distance of manufacturing firms with what random labelling gives, and so say "
        "up to what distance the two groups are close. The Ellison–Glaeser indices measure "
        "agglomeration over zones."))
    add(distance, "table", "distance")
    for key in ("function_Lcross", "function_Kd_bilateral", "function_fields"):
        add(distance, "chart", key)
    add(distance, "table", "eg")
    add(distance, "chart", "egk")
    if "distance" not in tables:
        distance.text(pick(lang, "本次运行未计算距离函数（distance_nsim < 0）。",
                           "This run computed no distance functions (distance_nsim < 0)."))
    sections.append(distance)

    clusters = Section("clusters", pick(lang, "生产性服务业集群", "Producer-service clusters"))
    add(clusters, "chart", "cluster_sizes")
    add(clusters, "table", "clusters")
    if "clusters" not in tables:
        clusters.text(pick(lang, "本次运行没有识别出集群。", "This run found no clusters."))
    sections.append(clusters)

    span = years(data)
    if span is not None:
        change = Section("change", pick(lang, "随时间的变化", "Change over time"))
        change.text(pick(
            lang, "按企业的成立与注销（吊销）日期，计算 "
                  f"{'、'.join(data.manifest['panel']['years'])} "
                  "年在营企业的各项指数，并检验首末年份之间的变化是否超出随机。",
            f"The indices of the firms active in {', '.join(data.manifest['panel']['years'])} "
            "(by founding and closing dates), and whether the change from the first to the "
            "last year exceeds chance."))
        for layer in CHANGE_LAYERS:
            add(change, "table", f"change_{layer}")
        for path in data.trends:
            change.blocks.append(Block("map", (path, _trend_caption(path.stem, span, lang))))
        add(change, "table", "entrants")
        add(change, "table", "cluster_change")
        sections.append(change)

    sites = Section("sites", pick(lang, "拟建生产性服务业集聚区",
                                  "Proposed producer-service zones"))
    add(sites, "table", "siting")
    add(sites, "table", "sites")
    if "sites" not in tables:
        sites.text(pick(lang, "本次运行未做选址（site_k = 0 或选址被跳过，见 manifest.json）。",
                        "This run proposed no zones (site_k = 0, or siting was skipped: see "
                        "manifest.json)."))
    sections.append(sites)

    maps = Section("maps", pick(lang, "地图", "Maps"))
    for path, caption in _maps(data, lang):
        maps.blocks.append(Block("map", (path, caption)))
    maps.text(pick(lang, "交互地图见 map.html；全部图层见 layers.gpkg"
                         "（可在 QGIS、ArcGIS 中打开）。",
                   "The interactive map is map.html; every layer is in layers.gpkg (QGIS, "
                   "ArcGIS)."))
    sections.append(maps)

    guide = Section("guide", pick(lang, "阅读指南", "Reading guide"))
    add(guide, "table", "guide")
    sections.append(guide)

    methods = Section("methods", pick(lang, "数据与方法", "Data and methods"))
    if data.synthetic:
        methods.text(pick(lang, f"{SYNTHETIC_ZH}。企业由模型按各区县的结构抽样生成，"
                                "所有结果只用于演示方法，不反映真实的产业布局。",
                          f"{SYNTHETIC_EN}. The firms are drawn from a model of each "
                          "district's structure; every result only demonstrates the method "
                          "and does not describe the real industry."))
    for key in ("inputs", "sources", "parameters"):
        add(methods, "table", key)
    chart_lang, _ = chart_language(lang)
    if chart_lang != lang:
        methods.text("未找到中文字体：图表以英文绘制（安装 fonts-noto-cjk 后重新生成报告）。")
    sections.append(methods)

    synthetic = pick(lang, SYNTHETIC_ZH, SYNTHETIC_EN)
    return Report(
        lang=lang,
        title=pick(lang, "制造业与生产性服务业协同集聚研究报告",
                   "Co-agglomeration of manufacturing and producer services: study report"),
        subtitle=pick(lang, f"由 geo {data.manifest.get('versions', {}).get('geo', '')} 于 "
                            f"{data.manifest.get('created', '')} 生成",
                      f"Made by geo {data.manifest.get('versions', {}).get('geo', '')} on "
                      f"{data.manifest.get('created', '')}"),
        synthetic=data.synthetic, banner=synthetic if data.synthetic else "",
        sections=sections, tables=tables, findings=findings, chart_lang=chart_lang,
    )
