"""The user's language: Chinese or English messages, chosen by ``--lang`` or the locale.

Reasons for rejected and flagged rows are always written in both languages
(two columns); what the command line prints follows :func:`user_lang`.

Examples
--------
>>> user_lang("en")
'en'
>>> pick("zh", "读取", "read")
'读取'
"""

from __future__ import annotations

import os
from typing import Literal

from geo.errors import ConfigError

Lang = Literal["zh", "en"]

# Categories of rejected and flagged rows (English keys, as in the summaries).
CATEGORY_ZH = {
    "missing coordinates": "缺少坐标",
    "non-numeric coordinates": "坐标不是数字",
    "longitude and latitude swapped": "经纬度颠倒",
    "coordinates look like projected metres, not degrees": "坐标像是投影坐标（米）",
    "outside the study area": "不在研究区内",
    "missing industry code": "缺少行业代码",
    "invalid industry code": "行业代码无效",
    "ambiguous industry code": "行业代码有歧义",
    "industry code contradicts its section/division": "行业代码与行业门类/大类不符",
    "industry columns disagree": "行业门类/大类等列相互矛盾",
    "unknown industry name": "行业名称无法识别",
    "missing firm_id": "缺少企业编号",
    "duplicate firm_id": "企业编号重复",
    "negative employees": "从业人员为负数",
    "non-numeric employees": "从业人员不是数字",
    "non-numeric revenue": "营业收入不是数字",
    "non-numeric registered_capital": "注册资本无法识别",
    "non-numeric year": "成立年份/日期无法识别",
    "implausible year": "成立年份不合理",
    "unreadable deregistration date": "注销日期无法识别",
    "unreadable revocation date": "吊销日期无法识别",
    "implausible deregistration date": "注销日期不合理",
    "implausible revocation date": "吊销日期不合理",
    "closed before founded": "注销/吊销日期早于成立日期",
    "leading zero restored": "已补回代码开头的 0",
    "ambiguous industry code read by the column's level": "有歧义的代码按该列的代码层级读取",
    "not a GB/T 4754-2017 code (2011?)": "不是 2017 版行业代码（疑为 2011 版）",
    "classified by industry name": "无代码，按行业名称归类",
    "shared point": "多家企业共用同一坐标",
    "geocoder centre": "位于地理编码的行政区中心点",
    "district mismatch": "坐标与所属区县不符",
    "snapped into the study area": "边界外附近的点已移入研究区",
    "too many fields": "字段比表头多（值中有未加引号的分隔符？）",
    "unclosed quote": "双引号未闭合",
    "undecodable bytes": "含无法解码的字节",
    "NUL byte": "含空字节（NUL）",
    "mixed encoding": "该行编码与文件其余部分不同",
    "implausible employees": "从业人员数不合理（已置空）",
    "implausible revenue": "营业收入不合理（已置空）",
    "implausible registered_capital": "注册资本不合理（已置空）",
}

# Stages of `geo run` (English keys, as in the manifest's timings).
STAGE_ZH = {
    "load zone layers": "读取分区图层",
    "read enterprises": "读取企业名录",
    "draw synthetic enterprises": "生成合成企业数据",
    "assign enterprises to zones": "企业落入分区",
    "zonal indices": "分区集聚指数",
    "hot spots and bivariate LISA": "热点分析与双变量 LISA",
    "producer-service cluster areas (HDBSCAN)": "生产性服务业集群识别（HDBSCAN）",
    "siting new producer-service zones": "新生产性服务业集聚区选址",
    "distance-based functions and co-location": "距离函数与共址分析",
    "kernel density rasters": "核密度栅格",
    "draw the web map": "绘制交互地图",
    "draw the static maps": "绘制静态地图",
    "write the GeoPackage": "写出 GeoPackage",
    "write tables": "写出表格",
    "write the results pack": "写出成果报告（HTML、Word、Excel）",
    "panel by year": "分年份计算指数并检验变化",
}


def user_lang(lang: str | None = None) -> Lang:
    """Return the language to speak: ``lang`` if given, else the locale's.

    Parameters
    ----------
    lang : str, optional
        ``"zh"`` or ``"en"``; None reads ``LC_ALL``, ``LC_MESSAGES``, ``LANG``
        and ``LANGUAGE`` (a locale starting with ``zh`` means Chinese).

    Returns
    -------
    {"zh", "en"}

    Raises
    ------
    ConfigError
        If ``lang`` is neither ``"zh"`` nor ``"en"``.
    """
    if lang is not None:
        if lang not in ("zh", "en"):
            raise ConfigError(f"unknown language '{lang}': use zh or en")
        return lang  # type: ignore[return-value]
    for name in ("LC_ALL", "LC_MESSAGES", "LANG", "LANGUAGE"):
        value = os.environ.get(name, "")
        if value:
            return "zh" if value.lower().startswith("zh") else "en"
    return "en"


def pick(lang: str, zh: str, en: str) -> str:
    """Return the text in the given language.

    Parameters
    ----------
    lang : {"zh", "en"}
        The language.
    zh, en : str
        The two texts.

    Returns
    -------
    str
    """
    return zh if lang == "zh" else en


def stage_label(stage: str, lang: str) -> str:
    """Return a stage of ``geo run`` in the given language.

    Parameters
    ----------
    stage : str
        The English stage name.
    lang : {"zh", "en"}
        The language.

    Returns
    -------
    str
    """
    return STAGE_ZH.get(stage, stage) if lang == "zh" else stage


def category_label(category: str, lang: str) -> str:
    """Return a row category (``"shared point"``) in the given language.

    Parameters
    ----------
    category : str
        An English category, as in the summaries.
    lang : {"zh", "en"}
        The language.

    Returns
    -------
    str
    """
    return CATEGORY_ZH.get(category, category) if lang == "zh" else category
