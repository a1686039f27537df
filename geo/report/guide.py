"""The reading guide: for every index, its formula, range, how to read it, thresholds and pitfalls.

Thresholds are given only where the literature uses them, with the source;
where it has none the guide says so rather than invent one. The tool's own
flag rules (:data:`geo.report.tables.ONE_SIDED_LQ`, :data:`~geo.report.tables.FEW_FIRMS`)
are stated as the tool's.
"""

from __future__ import annotations

import pandas as pd

from geo.report.table import Column, ReportTable
from geo.report.tables import EG_HIGH, EG_LOW, FEW_FIRMS, ONE_SIDED_LQ

# (key, name, formula, range, reading, thresholds, pitfalls), each text as (zh, en)
_ENTRIES = [
    ("lq", ("区位熵 LQ", "Location quotient LQ"),
     ("LQ = (E_ik / E_i) / (E_k / E)：产业 k 在单元 i 的占比与其在全研究区占比之比",
      "LQ = (E_ik / E_i) / (E_k / E): industry k's share of zone i over its share of the "
      "study area"),
     ("0 至 +∞；1 为与全市平均相同", "0 to +∞; 1 is the study-area average"),
     ("大于 1：该产业在此更集中（专业化）；小于 1：不足。",
      "Above 1: the industry is over-represented (specialised); below 1: under-represented."),
     ("常用 LQ > 1；部分研究以 1.25 或 1.5 为明显专业化的经验界限，无统一标准"
      "（Florence 1939；Isard 1960）。",
      "LQ > 1 is the usual line; some studies use 1.25 or 1.5 for clear specialisation, "
      "with no standard (Florence 1939; Isard 1960)."),
     (f"企业少的单元 LQ 波动大（本工具对少于 {FEW_FIRMS} 家的单元加提示）；"
      "LQ 只看结构，不看规模。",
      f"Zones with few firms give erratic LQs (the tool flags fewer than {FEW_FIRMS}); LQ "
      "shows structure, not size.")),
    ("c", ("协同集聚质量 C", "Co-agglomeration quality C"),
     ("C = 1 − |LQm − LQs| / (LQm + LQs)", "C = 1 − |LQm − LQs| / (LQm + LQs)"),
     ("0 至 1", "0 to 1"),
     ("越接近 1，制造业与生产性服务业的相对集中程度越相当（匹配越好）；不反映两者是否都多。",
      "The closer to 1, the more evenly matched the two groups' concentration; it does not "
      "say whether either is abundant."),
     ("文献无统一分级阈值，多比较排名与变化（杨仁发 2013，管理世界 2013(8)）。",
      "The literature has no standard bands; compare ranks and change (Yang 2013, "
      "Management World 2013(8))."),
     ("两个都很低的单元 C 也可接近 1：与 C′ 和 LQ 一起读。",
      "A zone where both are scarce can still have C near 1: read it with C′ and the LQs.")),
    ("c_level", ("协同集聚水平 C′", "Co-agglomeration level C′"),
     ("C′ = C + (LQm + LQs)", "C′ = C + (LQm + LQs)"),
     ("0 至 +∞", "0 to +∞"),
     ("同时反映匹配程度与两业集聚的总体规模，越大越好。",
      "Combines the match with the overall concentration of both groups: higher is stronger."),
     ("无统一阈值（陈建军、刘月、邹苗苗 2016；张虎、韩爱华、杨青龙 2017）。",
      "No standard threshold (Chen, Liu & Zou 2016; Zhang, Han & Yang 2017)."),
     (f"C′ 可被单一产业推高：一方 LQ 很小而另一方很大时 C′ 仍高。本工具在较小的 LQ < "
      f"{ONE_SIDED_LQ} 且 C′ 不低于中位数时加提示。",
      f"One industry alone can push C′ up: a tiny LQ on one side and a large one on the "
      f"other still give a high C′. The tool flags rows where the smaller LQ < "
      f"{ONE_SIDED_LQ} and C′ is at or above the median.")),
    ("eg", ("Ellison–Glaeser 指数 γ", "Ellison–Glaeser index γ"),
     ("γ = (G/(1 − Σx²) − H)/(1 − H)，G = Σ(s_i − x_i)²，H 为企业赫芬达尔指数",
      "γ = (G/(1 − Σx²) − H)/(1 − H), G = Σ(s_i − x_i)², H the plant Herfindahl"),
     ("约 −1 至 1；0 为随机布局", "about −1 to 1; 0 is random location"),
     ("大于 0：比随机布局更集中；小于 0：更分散。", "Above 0: more concentrated than random "
      "location; below 0: more dispersed."),
     (f"γ < {EG_LOW} 弱集聚，{EG_LOW}–{EG_HIGH} 中等，> {EG_HIGH} 强集聚"
      "（Ellison & Glaeser 1997，JPE 105(5)）。",
      f"γ < {EG_LOW} weak, {EG_LOW}–{EG_HIGH} moderate, > {EG_HIGH} strong (Ellison & "
      "Glaeser 1997, JPE 105(5))."),
     ("取决于空间单元划分（可塑面积单元问题）；区县与网格的结果不可直接比较。",
      "Depends on the zoning (modifiable areal unit problem): districts and grid cells are "
      "not directly comparable.")),
    ("eg_c", ("Ellison–Glaeser 协同集聚指数 γc", "Ellison–Glaeser co-agglomeration γc"),
     ("γc = (G/(1 − Σx²) − H − Σγ_j w_j²(1 − H_j)) / (1 − Σw_j²)",
      "γc = (G/(1 − Σx²) − H − Σγ_j w_j²(1 − H_j)) / (1 − Σw_j²)"),
     ("约 −1 至 1；0 为各行业独立布局", "about −1 to 1; 0 is independent location"),
     ("大于 0：这些行业彼此靠近，超过各自集聚所能解释的程度；小于 0：彼此回避。",
      "Above 0: the industries locate together beyond their own agglomeration; below 0: "
      "they avoid each other."),
     (f"常沿用 γ 的 {EG_LOW}/{EG_HIGH} 分界（Ellison & Glaeser 1997 第 9 式）。",
      f"The {EG_LOW}/{EG_HIGH} bounds of γ are commonly used (Ellison & Glaeser 1997, eq. 9)."),
     ("接近 0 的负值（如 −0.001）表示“没有共同布局的证据”，不是强烈排斥。",
      "A negative value near 0 (such as −0.001) means no evidence of joint location, not "
      "strong repulsion.")),
    ("egk", ("EGK 两两协同集聚指数", "EGK pairwise co-agglomeration"),
     ("γc_kl = Σ(s_ik − x_i)(s_il − x_i) / (1 − Σx_i²)",
      "γc_kl = Σ(s_ik − x_i)(s_il − x_i) / (1 − Σx_i²)"),
     ("约 −1 至 1", "about −1 to 1"),
     ("大于 0：两个行业倾向于出现在相同的单元。", "Above 0: the two industries tend to be in "
      "the same zones."),
     ("无统一阈值，比较行业对之间的相对大小（Ellison, Glaeser & Kerr 2010，AER 100(3)）。",
      "No standard threshold; compare pairs (Ellison, Glaeser & Kerr 2010, AER 100(3))."),
     ("单元少时（如 13 个区县）数值不稳定，应与网格结果对照。",
      "With few zones (13 districts) the values are unstable; check them against the grid.")),
    ("lcross", ("交叉 L 函数", "Cross-L function"),
     ("L_ms(r) = √(K_ms(r)/π)，K_ms(r) 为距制造业企业 r 以内的生产性服务业企业的期望数除以其密度",
      "L_ms(r) = √(K_ms(r)/π), K_ms(r) the expected number of producer-service firms within "
      "r of a manufacturing firm divided by their density"),
     ("随机标记下 L(r) = r", "L(r) = r under random labelling"),
     ("观测值高于模拟包络线：在该距离上两业比随机更靠近（共位）；低于：更分离。",
      "Observed above the simulation envelope: the groups are closer than chance at that "
      "distance (co-location); below: apart."),
     ("以随机标记模拟的包络线为准，不设固定阈值（Baddeley, Rubak & Turner 2015）。",
      "Read against the random-labelling envelope, no fixed threshold (Baddeley, Rubak & "
      "Turner 2015)."),
     ("逐点包络线不是整体检验：许多距离同时比较时会偶然越界；边界修正会影响大距离。",
      "A pointwise envelope is not a global test: over many distances some crossings happen "
      "by chance; edge correction matters at large r.")),
    ("kd", ("Kd 函数（Duranton–Overman）", "Kd function (Duranton–Overman)"),
     ("两类企业之间所有距离的核密度", "Kernel density of the distances between firms of the "
      "two groups"),
     ("密度，单位 1/km", "a density, per km"),
     ("高于包络线的距离范围内两业比随机更近。", "Where above the envelope, the groups are "
      "closer than chance."),
     ("以随机重标记的置信带为准（Duranton & Overman 2005，RES 72(4)）。",
      "Read against the random-relabelling bands (Duranton & Overman 2005, RES 72(4))."),
     ("Kd 是密度：看哪些距离高于包络线，不比较曲线高度；使用直线距离。",
      "Kd is a density: read where it is above the band, not its height; distances are "
      "straight lines.")),
    ("clq", ("共位商 CLQ", "Co-location quotient CLQ"),
     ("CLQ_A→B = (C_A→B / N_A) / (N_B / (N − 1))，C_A→B 为 A 的最近邻中 B 的个数",
      "CLQ_A→B = (C_A→B / N_A) / (N_B / (N − 1)), C_A→B the B firms among A's nearest "
      "neighbours"),
     ("0 至 +∞；1 为随机", "0 to +∞; 1 is random"),
     ("大于 1：A 的近邻中 B 比随机多（吸引）；小于 1：少（回避）。",
      "Above 1: more B among A's neighbours than chance (attraction); below 1: fewer."),
     ("以置换检验的 p 值判断，常用 0.05（Leslie & Kronenfeld 2011，Geographical Analysis 43(3)）。",
      "Judged by the permutation p-value, usually 0.05 (Leslie & Kronenfeld 2011, "
      "Geographical Analysis 43(3))."),
     ("不对称：A→B 与 B→A 不同；只看最近的邻居，不说明更远的距离。",
      "Asymmetric: A→B differs from B→A; it looks at the nearest neighbours only.")),
    ("hotspots", ("热点 Gi* 与双变量 LISA", "Hot spots Gi* and bivariate LISA"),
     ("Gi* = 邻域加权和的标准化值；双变量局部 Moran 比较单元的制造业与邻域的生产性服务业",
      "Gi* is the standardised neighbourhood sum; bivariate local Moran compares a cell's "
      "manufacturing with its neighbours' producer services"),
     ("z 值", "z-scores"),
     ("显著的高-高单元是两业同时密集的地方。", "Significant high-high cells are where both "
      "groups are dense together."),
     ("置换检验并按 FDR 控制多重比较（Getis & Ord 1992；Anselin 1995）。",
      "Permutation tests with the false-discovery rate controlled (Getis & Ord 1992; "
      "Anselin 1995)."),
     ("网格大小会改变结果；空网格不参与检验。", "The cell size changes the result; empty cells "
      "are not tested.")),
    ("clusters", ("生产性服务业集群（HDBSCAN）", "Producer-service clusters (HDBSCAN)"),
     ("基于密度的层次聚类，最小集群规模为参数", "Hierarchical density-based clustering with "
      "a minimum cluster size"),
     ("集群或噪声", "cluster or noise"),
     ("稳定性高（重复抽样中反复出现）的集群更可信。", "Clusters found again in re-runs on "
      "resampled firms (high stability) are the trustworthy ones."),
     ("本工具以稳定性 ≥ 0.5 为稳健（Campello, Moulavi & Sander 2013）。",
      "The tool calls stability ≥ 0.5 robust (Campello, Moulavi & Sander 2013)."),
     ("最小集群规模决定能看到多小的集群；集群边界为企业点的包络，不是规划红线。",
      "The minimum size sets how small a cluster can be; a cluster's outline wraps its "
      "firms and is not a planning boundary.")),
    ("siting", ("新集聚区选址（最大覆盖模型）", "Siting new zones (maximal covering)"),
     ("在候选网格中选 k 处，使服务半径内未满足的制造业需求最大（MCLP）",
      "Choose k candidate cells that cover the most unmet manufacturing demand within the "
      "service radius (MCLP)"),
     ("覆盖量（与需求同单位）", "demand covered, in the demand's unit"),
     ("排名靠前的拟建区覆盖更多当前服务不足的制造业。", "Higher-ranked zones cover more "
      "manufacturing that is under-served today."),
     ("无阈值；模型见 Church & ReVelle 1974。", "No threshold; the model is Church & "
      "ReVelle 1974."),
     ("半径为直线距离；候选区排除了已有集群与非建成区，结果是研究建议，需结合用地与规划核实。",
      "The radius is a straight line; candidates exclude existing clusters and unbuilt "
      "land; the result is a study suggestion to be checked against land use and plans.")),
]


def guide_table(lang: str) -> ReportTable:
    """Return the reading guide as a table (one row per index).

    Parameters
    ----------
    lang : {"zh", "en"}
        Language.

    Returns
    -------
    ReportTable
    """
    i = 0 if lang == "zh" else 1
    keys = ["name", "formula", "range", "reading", "thresholds", "pitfalls"]
    frame = pd.DataFrame([[entry[1 + j][i] for j in range(len(keys))] for entry in _ENTRIES],
                         columns=keys, index=[entry[0] for entry in _ENTRIES])
    headers = (("指数", "定义（公式）", "取值范围", "如何解读", "文献阈值", "注意事项")
               if i == 0 else
               ("Index", "Definition (formula)", "Range", "How to read it", "Thresholds",
                "Pitfalls"))
    return ReportTable(
        "guide", "指数阅读指南" if i == 0 else "Reading guide to the indices", frame,
        [Column(k, h) for k, h in zip(keys, headers, strict=True)],
        "所有指数都依赖空间单元的划分与企业数据的质量。" if i == 0 else
        "Every index depends on the zoning and on the quality of the enterprise data.",
        sheet="阅读指南" if i == 0 else "Reading guide")
