"""Which column of a register is which field: header aliases, units and the mapping report.

Registers come from the economic census, market-regulation systems and
commercial databases (企查查, 天眼查, 启信宝), each with its own headers. The
aliases below cover the common ones; anything else is mapped with
``columns={"industry_code": "行业小类"}`` (``--column`` on the command line).
Headers are compared ignoring case, full/half width, spaces, hyphens and
underscores; a bracketed suffix (``营业收入(千元)``, ``经度(GCJ-02)``) is read
as the column's unit or coordinate system.

Examples
--------
>>> found = ["单位详细名称", "行业代码", "经度", "纬度", "从业人员期末人数"]
>>> mapping = resolve_columns(found, None, "census.csv")
>>> mapping.fields["name"], mapping.fields["employees"]
('单位详细名称', '从业人员期末人数')
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from dataclasses import dataclass, field

from geo.errors import ConfigError, InputError

SCHEMA = (
    "firm_id", "name", "industry_code", "industry_section", "industry_division",
    "industry_group", "industry_class", "lon", "lat", "employees", "revenue",
    "registered_capital", "year", "deregistered", "revoked", "district", "address",
)
INDUSTRY_FIELDS = (
    "industry_code", "industry_class", "industry_group", "industry_division", "industry_section",
)
POSITION_FIELDS = ("lon", "lat")

# Specific names come before generic ones ("code", "id", "x"): the first alias
# present in the file wins.
ALIASES: dict[str, tuple[str, ...]] = {
    "firm_id": (
        "firm_id", "firmid", "enterprise_id", "company_id", "企业id", "企业编号",
        "统一社会信用代码", "社会信用代码", "信用代码", "统一代码", "组织机构代码", "注册号",
        "工商注册号", "单位代码", "id",
    ),
    "name": (
        "name", "firm_name", "company_name", "enterprise_name", "企业名称", "公司名称",
        "单位详细名称", "单位名称", "企业(机构)名称", "机构名称", "名称",
    ),
    "industry_code": (
        "industry_code", "industry_c", "行业代码", "国民经济行业代码", "国标行业代码",
        "行业小类代码", "行业分类代码", "主要业务活动代码", "industry", "行业", "code",
    ),
    "industry_section": ("industry_section", "行业门类", "国标行业门类", "门类", "所属门类"),
    "industry_division": (
        "industry_division", "行业大类", "国标行业大类", "大类", "所属大类", "所属行业",
    ),
    "industry_group": ("industry_group", "行业中类", "国标行业中类", "中类"),
    "industry_class": ("industry_class", "行业小类", "国标行业小类", "小类", "行业小类名称"),
    "lon": ("lon", "lng", "longitude", "经度", "东经", "long", "x"),
    "lat": ("lat", "latitude", "纬度", "北纬", "y"),
    "employees": (
        "employees", "employee", "从业人员", "从业人数", "从业人员期末人数", "年末从业人员",
        "从业人员数", "员工人数", "参保人数", "社保人数", "职工人数", "staff",
    ),
    "revenue": ("revenue", "营业收入", "主营业务收入", "sales", "turnover"),
    "registered_capital": ("registered_capital", "注册资本", "注册资金"),
    "year": (
        "year", "成立年份", "年份", "成立日期", "成立时间", "注册日期", "founded",
    ),
    "deregistered": (
        "deregistered", "注销日期", "注销时间", "注销年份", "deregistration_date", "closed",
    ),
    "revoked": ("revoked", "吊销日期", "吊销时间", "吊销年份", "revocation_date"),
    "district": (
        "district", "所属区县", "区县", "所在区县", "所属区域", "行政区划", "所在地区", "区域",
        "county",
    ),
    "address": (
        "address", "企业地址", "注册地址", "单位地址", "详细地址", "经营地址", "通信地址",
        "住所", "地址",
    ),
}
# The fields' names for people, in both languages.
FIELD_LABELS: dict[str, tuple[str, str]] = {
    "firm_id": ("企业编号", "firm id"),
    "name": ("企业名称", "name"),
    "industry_code": ("行业代码", "industry code"),
    "industry_section": ("行业门类", "industry section"),
    "industry_division": ("行业大类", "industry division"),
    "industry_group": ("行业中类", "industry group"),
    "industry_class": ("行业小类", "industry class"),
    "lon": ("经度", "longitude"),
    "lat": ("纬度", "latitude"),
    "employees": ("从业人员", "employees"),
    "revenue": ("营业收入", "revenue"),
    "registered_capital": ("注册资本", "registered capital"),
    "year": ("成立年份", "year founded"),
    "deregistered": ("注销日期", "deregistration date"),
    "revoked": ("吊销日期", "revocation date"),
    "district": ("所属区县", "district"),
    "address": ("地址", "address"),
}
# Words that suggest a column is meant for a field, for the "candidates" of an error.
_HINTS: dict[str, tuple[str, ...]] = {
    "industry_code": ("行业", "industry", "代码", "code", "门类", "大类", "小类", "nic"),
    "lon": ("经", "lon", "lng", "东"),
    "lat": ("纬", "lat", "北"),
}
_DATE_WORDS = ("日期", "时间", "date")
# Traditional forms of the characters in the headers above (Big5 registers from Taiwan
# and Hong Kong systems), folded so that 企業名稱 is matched as 企业名称.
_TRADITIONAL = str.maketrans(
    "業編號統會碼組織構註冊單稱詳細國經濟標類務動門屬東緯從員數參職營資時間區縣劃機",
    "业编号统会码组织构注册单称详细国经济标类务动门属东纬从员数参职营资时间区县划机",
)
_SUFFIX = re.compile(r"^(.*?)[(\[]([^()\[\]]*)[)\]]$")


def header_key(name: object) -> str:
    """Compare headers ignoring case, width, spaces, hyphens, underscores and traditional forms.

    Parameters
    ----------
    name : object
        A column header.

    Returns
    -------
    str
    """
    text = unicodedata.normalize("NFKC", str(name)).replace("\ufeff", "").strip().lower()
    text = text.translate(_TRADITIONAL)
    return "_".join(text.replace("-", " ").replace("_", " ").split())


def split_suffix(name: object) -> tuple[str, str | None]:
    """Split a header into its key and a bracketed unit or note (``营业收入(千元)``).

    Parameters
    ----------
    name : object
        A column header.

    Returns
    -------
    tuple of (str, str or None)
        The header key without the suffix, and the suffix text.

    Examples
    --------
    >>> split_suffix("营业收入（千元）")
    ('营业收入', '千元')
    """
    key = header_key(name)
    match = _SUFFIX.match(key)
    if match and match.group(1):
        return match.group(1).strip("_"), match.group(2).strip("_ ") or None
    return key, None


@dataclass
class ColumnMapping:
    """How a file's columns map to the register fields.

    Attributes
    ----------
    fields : dict
        ``{field: file column}`` in schema order.
    unused : list of str
        File columns no field uses (they travel along as extra columns).
    missing : list of str
        Optional fields the file does not have.
    units : dict
        ``{field: unit or note}`` from bracketed header suffixes.
    explicit : set of str
        Fields mapped by the user rather than by an alias.
    """

    fields: dict[str, str]
    unused: list[str]
    missing: list[str]
    units: dict[str, str] = field(default_factory=dict)
    explicit: set[str] = field(default_factory=set)

    def position_label(self) -> str:
        """Return the position columns as shown in rejects (``经度/纬度``)."""
        return f"{self.fields['lon']}/{self.fields['lat']}"

    def is_date(self, name: str) -> bool:
        """Whether a field's column holds dates (成立日期) rather than plain years."""
        column = self.fields.get(name)
        return column is not None and any(w in header_key(column) for w in _DATE_WORDS)

    def report(self, lang: str = "en") -> list[str]:
        """Lines that show the mapping to the user.

        Parameters
        ----------
        lang : {"en", "zh"}
            Language of the lines.

        Returns
        -------
        list of str
        """
        zh = lang == "zh"
        lines = ["列映射：" if zh else "column mapping:"]
        for name, column in self.fields.items():
            label = FIELD_LABELS[name][0 if zh else 1]
            unit = self.units.get(name)
            how = ("（指定）" if zh else " (given)") if name in self.explicit else ""
            lines.append(
                f"  {label} ({name}) ← {column}" + (f" [{unit}]" if unit else "") + how
            )
        if self.unused:
            lines.append(("  未使用的列：" if zh else "  columns not used: ")
                         + ", ".join(self.unused))
        if self.missing:
            lines.append(
                ("  缺少的可选字段：" if zh else "  optional fields missing: ")
                + ", ".join(FIELD_LABELS[m][0 if zh else 1] for m in self.missing)
            )
        return lines


def _candidates(found: list[str], name: str, used: set[str]) -> list[str]:
    """Return the unused file columns that look as if they were meant for ``name``."""
    hints = _HINTS.get(name, ())
    keys = {header_key(c): c for c in found if c not in used}
    hits = [c for k, c in keys.items() if any(h in k for h in hints)]
    close = difflib.get_close_matches(name, list(keys), n=3, cutoff=0.6)
    for key in close:
        if keys[key] not in hits:
            hits.append(keys[key])
    return hits


def resolve_columns(
    found: list[str],
    columns: dict[str, str] | None,
    source: str,
    *,
    require_code: bool = True,
) -> ColumnMapping:
    """Map register fields to a file's columns (explicit mapping first, then aliases).

    Parameters
    ----------
    found : list of str
        The file's column headers.
    columns : dict, optional
        ``{field: file column}`` given by the user.
    source : str
        The file, for messages.
    require_code : bool
        Whether an industry column (code, or a section/division/group/class
        name) is required.

    Returns
    -------
    ColumnMapping

    Raises
    ------
    ConfigError
        If the user's mapping names an unknown field.
    InputError
        If a mapped column is not in the file, or a required field is missing
        (the message names the file's columns that may be meant for it).
    """
    mapping: dict[str, str] = {}
    units: dict[str, str] = {}
    columns = dict(columns or {})
    unknown = sorted(set(columns) - set(SCHEMA))
    if unknown:
        raise ConfigError(
            f"unknown field(s) {unknown} in the column mapping; the fields are {', '.join(SCHEMA)}"
        )
    by_key: dict[str, str] = {}
    by_bare: dict[str, str] = {}
    for name in found:
        by_key.setdefault(header_key(name), name)
        by_bare.setdefault(split_suffix(name)[0], name)
    for schema_name, wanted in columns.items():
        if wanted in found:
            mapping[schema_name] = wanted
        elif header_key(wanted) in by_key:
            mapping[schema_name] = by_key[header_key(wanted)]
        else:
            raise InputError(
                f"column '{wanted}' (given for {schema_name}) is not in the file; "
                f"the columns found are: {', '.join(map(str, found))}",
                zh=f"文件中没有“{wanted}”列（指定给 {schema_name}）；文件的列为："
                + "、".join(map(str, found)),
                file=source,
            )
    used = set(mapping.values())
    for schema_name in SCHEMA:
        if schema_name in mapping:
            continue
        for alias in ALIASES[schema_name]:
            hit = by_key.get(alias) or by_bare.get(alias)
            if hit is not None and hit not in used:
                mapping[schema_name] = hit
                used.add(hit)
                break
    for schema_name, column in mapping.items():
        unit = split_suffix(column)[1]
        if unit:
            units[schema_name] = unit
    missing_required = [n for n in POSITION_FIELDS if n not in mapping]
    if require_code and not any(n in mapping for n in INDUSTRY_FIELDS):
        missing_required.insert(0, "industry_code")
    if missing_required:
        parts, parts_zh = [], []
        for name in missing_required:
            candidates = _candidates(found, name, used)
            hint = (f"; perhaps one of: {', '.join(candidates)} (map it with --column "
                    f"{name}={candidates[0]})") if candidates else ""
            extra = (" or an industry section/division/group/class column (行业门类/行业大类/"
                     "行业中类/行业小类, codes or names)") if name == "industry_code" else ""
            parts.append(f"{name} (accepted headers: {', '.join(ALIASES[name])}{extra}){hint}")
            parts_zh.append(
                f"{FIELD_LABELS[name][0]}（可识别的表头：{'、'.join(ALIASES[name])}"
                + ("，或行业门类/大类/中类/小类列（代码或名称）" if name == "industry_code" else "")
                + "）"
                + (f"；可能是“{'、'.join(candidates)}”，可用 --column {name}={candidates[0]} 指定"
                   if candidates else "")
            )
        raise InputError(
            f"required field(s) not found: {'; '.join(parts)}. The file's columns are: "
            f"{', '.join(map(str, found)) or '(none)'}",
            zh="缺少必需字段：" + "；".join(parts_zh) + "。文件的列为："
            + ("、".join(map(str, found)) or "（无）"),
            file=source,
        )
    ordered = {name: mapping[name] for name in SCHEMA if name in mapping}
    return ColumnMapping(
        fields=ordered,
        unused=[c for c in found if c not in used],
        missing=[n for n in SCHEMA if n not in mapping],
        units=units,
        explicit=set(columns),
    )
