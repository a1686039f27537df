"""The summary: findings written from the report's tables, each number a citation of a cell.

A finding is a list of text pieces and :class:`Cite` pieces. A citation prints
the cell exactly as its table prints it (:meth:`ReportTable.text`), and the
HTML marks it with the table, row and column it comes from, so a reader (and
the tests) can trace every number to its cell.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from geo.messages import pick
from geo.report.table import Column, ReportTable
from geo.report.tables import ONE_SIDED_LQ

MAX_FINDINGS = 10  # a summary a planner reads in a minute


@dataclass(frozen=True)
class Cite:
    """A cell quoted in a sentence."""

    table: str
    row: str
    column: str
    text: str


class _Sentences:
    def __init__(self, tables: dict[str, ReportTable], lang: str):
        self.tables, self.lang = tables, lang
        self.findings: list[list[str | Cite]] = []
        self.minor: list[bool] = []

    def cite(self, table: str, row: object, column: str) -> Cite:
        row = str(row)
        return Cite(table, row, column, self.tables[table].text(row, column))

    def add(self, *pieces: str | Cite, minor: bool = False) -> None:
        """Add a finding; ``minor`` ones are the first left out when there are too many."""
        self.findings.append(list(pieces))
        self.minor.append(minor)

    def kept(self, most: int) -> list[list[str | Cite]]:
        """Return at most ``most`` findings, leaving out minor ones (the latest first)."""
        drop: set[int] = set()
        for i in reversed(range(len(self.findings))):
            if len(self.findings) - len(drop) <= most:
                break
            if self.minor[i]:
                drop.add(i)
        kept = [f for i, f in enumerate(self.findings) if i not in drop]
        return kept[:most - 1] + kept[-1:] if len(kept) > most else kept

    def say(self, zh: str, en: str) -> str:
        return pick(self.lang, zh, en)


def overview_table(tables: dict[str, ReportTable], lang: str) -> ReportTable:
    """Key figures of the run, each counted from another table of the report."""
    rows: list[tuple[str, str, float, str]] = []
    zones = tables.get("zones_districts")
    if zones is not None:
        firms = zones.frame
        rows += [("firms", pick(lang, "企业总数", "Firms"), firms["firms"].sum(), "int"),
                 ("w_m", pick(lang, "制造业", "Manufacturing"), firms["w_m"].sum(), "int"),
                 ("w_s", pick(lang, "生产性服务业", "Producer services"), firms["w_s"].sum(),
                  "int")]
    clusters = tables.get("clusters")
    if clusters is not None:
        robust = clusters.frame["robust"].isin(["是", "yes"]).sum()
        rows += [("clusters", pick(lang, "生产性服务业集群", "Producer-service clusters"),
                  len(clusters.frame), "int"),
                 ("robust", pick(lang, "其中稳健集群", "of which robust"), robust, "int")]
    sites = tables.get("sites")
    if sites is not None:
        rows.append(("sites", pick(lang, "拟建集聚区", "Proposed zones"), len(sites.frame),
                     "int"))
    frame = pd.DataFrame({"item": [r[1] for r in rows], "value": [r[2] for r in rows]},
                         index=[r[0] for r in rows])
    return ReportTable(
        "overview", pick(lang, "主要数字", "Key figures"), frame,
        [Column("item", pick(lang, "项目", "Item")), Column("value", pick(lang, "数值", "Value"))],
        pick(lang, "企业数为区县表的合计；集群与拟建区为下文各表的行数。",
             "Firms are the totals of the district table; clusters and zones are the rows of "
             "their tables below."),
        sheet=pick(lang, "主要数字", "Key figures"), row_formats={r[0]: r[3] for r in rows})


def _top(table: ReportTable, column: str) -> str | None:
    values = table.frame[column].astype(float)
    return None if values.isna().all() else str(values.idxmax())


def _leaders(s: _Sentences, table_id: str, what_zh: str, what_en: str) -> None:
    table = s.tables.get(table_id)
    if table is None or table.frame["quality"].isna().all():
        return
    best_c, best_level = _top(table, "quality"), _top(table, "level")
    pieces: list[str | Cite] = [
        s.say(f"{what_zh}中，两业协同集聚质量 C 最高的是", f"Among {what_en}, "),
        s.cite(table_id, best_c, "name"),
        s.say("（C = ", " leads in co-agglomeration quality (C = "),
        s.cite(table_id, best_c, "quality"),
        s.say("），协同集聚水平 C′ 最高的是", "), and "),
        s.cite(table_id, best_level, "name"),
        s.say("（C′ = ", " in co-agglomeration level (C′ = "),
        s.cite(table_id, best_level, "level"), s.say("）", ")"),
    ]
    smaller = "lq_m" if table.frame.at[best_level, "lq_m"] < \
        table.frame.at[best_level, "lq_s"] else "lq_s"
    if table.frame.at[best_level, smaller] < ONE_SIDED_LQ:
        which = s.say("制造业", "manufacturing") if smaller == "lq_m" else \
            s.say("生产性服务业", "producer-service")
        pieces += [s.say(f"，但其{which}区位熵仅 ", f"; but its {which} LQ is only "),
                   s.cite(table_id, best_level, smaller),
                   s.say("，C′ 主要来自单一产业，需谨慎解读", ", so its C′ rests on one "
                         "industry and needs care")]
    pieces.append(s.say("。", "."))
    s.add(*pieces)


def _undersupplied(s: _Sentences, table_id: str) -> None:
    table = s.tables.get(table_id)
    if table is None:
        return
    f = table.frame
    under = f[(f["lq_m"] >= 1) & (f["lq_s"] < 1)]
    if under.empty:
        return
    rows = under.sort_values("lq_m", ascending=False).index[:3]
    pieces: list[str | Cite] = [s.say("制造业相对集中而生产性服务业不足的区县：",
                                      "Districts where manufacturing is concentrated but "
                                      "producer services are under-supplied: ")]
    for i, row in enumerate(rows):
        if i:
            pieces.append(s.say("；", "; "))
        pieces += [s.cite(table_id, row, "name"), s.say("（制造业 LQ ", " (manufacturing LQ "),
                   s.cite(table_id, row, "lq_m"), s.say("，生产性服务业 LQ ",
                                                       ", producer-service LQ "),
                   s.cite(table_id, row, "lq_s"), s.say("）", ")")]
    s.add(*pieces, s.say("。这些地方是配套生产性服务的优先方向。",
                         ". These are where producer services are most needed."))


def _distance(s: _Sentences) -> None:
    table = s.tables.get("distance")
    if table is None:
        return
    f = table.frame
    fields = [row for row in f.index if row != "producer_services"]
    near = [row for row in fields if f.at[row, "l_above"] != "—"]
    if "producer_services" in f.index:
        s.add(s.say("制造业与生产性服务业整体：", "Manufacturing with all producer services: "),
              s.cite("distance", "producer_services", "reading"), s.say("。", "."))
    if near:
        pieces: list[str | Cite] = [s.say("在交叉 L 函数中高于随机包络线、与制造业共位的领域：",
                                          "Fields co-locating with manufacturing above the "
                                          "random envelope of cross-L: ")]
        for i, row in enumerate(near):
            if i:
                pieces.append(s.say("、", ", "))
            pieces += [s.cite("distance", row, "field"), s.say("（", " ("),
                       s.cite("distance", row, "l_above"), s.say(" km）", " km)")]
        s.add(*pieces, s.say("。", "."))
    elif fields:
        s.add(s.say("没有一个生产性服务领域在交叉 L 函数中高于随机包络线：在所分析的距离内，"
                    "各领域与制造业的共位都不强于随机。",
                    "No producer-service field lies above the random envelope of cross-L: "
                    "within the distances studied none co-locates with manufacturing more "
                    "than chance."), minor=True)
    clq = f["clq"].astype(float)
    if clq.notna().any():
        best = str(clq.idxmax())
        s.add(s.say("最近邻意义上与制造业最接近的是", "By nearest neighbours, manufacturing is "
                    "closest to "),
              s.cite("distance", best, "field"), s.say("（共位商 CLQ = ", " (CLQ = "),
              s.cite("distance", best, "clq"), s.say("，p = ", ", p = "),
              s.cite("distance", best, "clq_p"), s.say("）。", ")."))


def _clusters(s: _Sentences) -> None:
    table = s.tables.get("clusters")
    if table is None or "overview" not in s.tables:
        return
    largest = str(table.frame["n_firms"].astype(float).idxmax())
    s.add(s.say("共识别生产性服务业集群 ", "There are "), s.cite("overview", "clusters", "value"),
          s.say(" 个，其中稳健集群 ", " producer-service clusters, "),
          s.cite("overview", "robust", "value"),
          s.say(" 个；最大的是", " of them robust; the largest is "),
          s.cite("clusters", largest, "name"), s.say("。", "."))


def _sites(s: _Sentences) -> None:
    if "siting" not in s.tables or "sites" not in s.tables:
        return
    first = str(s.tables["sites"].frame.index[0])
    s.add(s.say("建议新建生产性服务业集聚区 ", "The study proposes "),
          s.cite("siting", "n_proposed", "value"),
          s.say(" 处，新增覆盖未满足的制造业需求 ", " new producer-service zones; they newly "
                "cover "),
          s.cite("siting", "unmet_covered", "value"), " ",
          s.cite("siting", "unmet_covered", "unit"),
          s.say("，集群服务范围内的需求占比由 ", " of unmet manufacturing demand and lift the "
                "share of demand within reach of a cluster from "),
          s.cite("siting", "share_before", "value"), s.say(" 提高到 ", " to "),
          s.cite("siting", "share_after", "value"), s.say("；首选：", ". First choice: "),
          s.cite("sites", first, "name"), s.say("。", "."))


def _eg(s: _Sentences) -> None:
    table = s.tables.get("eg")
    if table is None or "districts" not in table.frame.index:
        return
    value = table.frame.at["districts", "gamma_c"]
    if not np.isfinite(value):
        return
    s.add(s.say("按区县计算，两业之间的 Ellison–Glaeser 协同集聚指数 γc = ",
                "By district, the Ellison–Glaeser co-agglomeration of the two groups is γc = "),
          s.cite("eg", "districts", "gamma_c"), s.say("（", " ("),
          s.cite("eg", "districts", "reading"), s.say("）。", ")."), minor=True)


def _change(s: _Sentences) -> None:
    from geo.report.change import biggest_change

    table = s.tables.get("change_districts")
    if table is not None:
        row = biggest_change(table)
        if row is not None:
            s.add(s.say("首末年份之间，两业协同集聚质量变化最显著的区县是",
                        "Between the first and the last year, the district whose C changed most "
                        "significantly is "),
                  s.cite("change_districts", row, "name"), s.say("（ΔC = ", " (ΔC = "),
                  s.cite("change_districts", row, "d_quality"), s.say("，p = ", ", p = "),
                  s.cite("change_districts", row, "p_quality"), s.say("）。", ")."))
    entrants = s.tables.get("entrants")
    if entrants is None:
        return
    fields = entrants.frame[entrants.frame.index.str.startswith("field:")
                            & (entrants.frame["p"] <= 0.05)]
    if fields.empty:
        return
    best = str(fields["ratio"].astype(float).idxmax())
    s.add(s.say("新设的", "New "), s.cite("entrants", best, "name"),
          s.say("企业在既有制造业旁选址的程度是随机的 ", " firms located next to incumbent "
                "manufacturing "),
          s.cite("entrants", best, "ratio"), s.say(" 倍（p = ", " times as often as chance (p = "),
          s.cite("entrants", best, "p"), s.say("）。", ")."))


def _inputs(s: _Sentences) -> None:
    if "inputs" not in s.tables:
        return
    s.add(s.say("数据：读入 ", "Data: "), s.cite("inputs", "n_read", "value"),
          s.say(" 行，有效企业 ", " rows read, "), s.cite("inputs", "n_valid", "value"),
          s.say(" 家，剔除 ", " valid firms, "), s.cite("inputs", "n_rejected", "value"),
          s.say(" 行，标记 ", " rejected and "), s.cite("inputs", "n_flagged", "value"),
          s.say(" 行（原因见“数据与方法”）。", " flagged (reasons under Data and methods)."))


def write_findings(tables: dict[str, ReportTable], lang: str) -> list[list[str | Cite]]:
    """Write the summary's findings, in reading order, from the report's tables.

    Parameters
    ----------
    tables : dict of str to ReportTable
        The report's tables by id (``overview`` among them).
    lang : {"zh", "en"}
        Language.

    Returns
    -------
    list of list of (str or Cite)
        One list of pieces per finding.
    """
    s = _Sentences(tables, lang)
    _leaders(s, "zones_districts", "各区县", "districts")
    _leaders(s, "zones_platforms", "各重点平台", "platforms")
    _undersupplied(s, "zones_districts")
    _eg(s)
    _distance(s)
    _clusters(s)
    _sites(s)
    _change(s)
    _inputs(s)
    return s.kept(MAX_FINDINGS)
