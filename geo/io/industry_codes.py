"""Industry columns of a real register: codes, names, lost zeros and cross-checks.

A planner's register rarely holds clean GB/T 4754-2017 codes. Excel strips the
leading zero of agricultural and mining codes (``0111`` arrives as ``111``),
commercial databases give names instead of codes (``纺织业``), economic-census
files carry a section or division column beside the code, and older files
use GB/T 4754-2011. This module turns whatever industry columns a file has
into one normalised code per row, and says, in Chinese and English, why a row
cannot be trusted.

The rules, applied to each distinct combination of the row's industry values:

1. Every *claim* column (门类 / 大类 / 中类 / 小类, as a code, a letter or a
   name) is read as a code of its level. Names are matched to the bundled
   tables after normalisation (full/half width, spaces, ``、``/``和``/commas).
2. The code column is read as every code it may stand for: as written, and
   with one leading zero restored when Excel may have stripped it (a 3-digit
   ``111`` is group 111 or class 0111; a 2-digit ``11`` is division 11 or
   group 011). A name in the code column is looked up like a claim.
3. Interpretations that contradict a claim are dropped. One left: taken (a
   restored zero is noted). None left: the row is rejected with the
   contradiction spelt out; a mismatch is never silently resolved. Several
   left: the column's own level decides (a column of 4-digit classes reads
   ``111`` as ``0111``), and the row is flagged; if the column has no clear
   level, the row is rejected as ambiguous.
4. A code that exists in GB/T 4754-2011 but not in 2017 is flagged as a 2011
   code; it is classified by its division, which both editions share for the
   codes concerned.

The result code is the section letter followed by the digits (``"A0111"``),
or the section letter alone when a file gives only the section.

Examples
--------
>>> table = resolve_industry({"industry_code": pd.Series(["111", "3911"]),
...                           "industry_section": pd.Series(["农、林、牧、渔业", "C"])})
>>> table["industry_code"].tolist()
['A0111', 'C3911']
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

from geo.io.industry import load_divisions, load_sections
from geo.resources import package_data

# Register fields that hold industry information, coarse to fine, with their level.
CLAIM_FIELDS = {
    "industry_section": "section",
    "industry_division": "division",
    "industry_group": "group",
    "industry_class": "class",
}
CODE_FIELD = "industry_code"
LEVELS = ("section", "division", "group", "class")
_DIGITS_OF_LEVEL = {"division": 2, "group": 3, "class": 4}
_LEVEL_OF_DIGITS = {2: "division", 3: "group", 4: "class"}
LEVEL_ZH = {"section": "门类", "division": "大类", "group": "中类", "class": "小类"}

RESULT_COLUMNS = (
    "industry_code", "reason_en", "reason_zh", "category", "flag_en", "flag_zh", "flag_category",
    "unmatched",
)

_CODE = re.compile(r"([A-Za-z]?)(\d{1,4})")
_LETTER = re.compile(r"[A-Ta-t]")
_NUMBER = re.compile(r"(\d+)\.0*")
# "制造业（C）", "医药制造业(27)": a name with its code in brackets
_NAME_WITH_CODE = re.compile(r"^(.+?)[(（]\s*([A-Za-z]?\d{0,4})\s*[)）]$")
_NULLS = frozenset({"", "-", "--", "—", "/", "无", "null", "none", "nan", "n/a", "#n/a"})
# Punctuation and joining words that exports use interchangeably in names.
_NAME_NOISE = re.compile(r"[\s、，,;；/·．.()\[\]{}《》“”\"'‘’]|和|及|与")


def name_key(text: str) -> str:
    """Key under which industry names are compared.

    Full-width characters are folded (NFKC), and spaces, enumeration marks
    (``、``, commas, slashes), brackets and the joining words 和/及/与 are
    dropped, so ``"酒，饮料 和精制茶制造业"`` and ``"酒、饮料和精制茶制造业"``
    share a key.

    Parameters
    ----------
    text : str
        An industry name as written in a file.

    Returns
    -------
    str

    Examples
    --------
    >>> name_key("酒，饮料 和精制茶制造业") == name_key("酒、饮料和精制茶制造业")
    True
    """
    return _NAME_NOISE.sub("", unicodedata.normalize("NFKC", str(text))).lower()


@dataclass(frozen=True)
class CodeTable:
    """The GB/T 4754-2017 codes known to the tool, with names.

    Attributes
    ----------
    codes : dict
        ``{code: (level, section, name_zh)}``; ``code`` is the section letter
        or the digits (``"0111"``).
    names : dict
        ``{name_key: [code, ...]}``.
    complete : bool
        Whether groups and classes are bundled (else only sections and
        divisions are, and 3-4 digit codes are checked to their division).
    """

    codes: dict[str, tuple[str, str, str]]
    names: dict[str, list[str]]
    complete: bool

    def exists(self, digits: str) -> bool:
        """Whether a digit code is in GB/T 4754-2017 (to its division if incomplete)."""
        if self.complete or len(digits) == 2:
            return digits in self.codes
        return digits[:2] in self.codes

    def section_of(self, digits: str) -> str | None:
        """Section letter of a digit code (by its division), or None."""
        hit = self.codes.get(digits[:2])
        return hit[1] if hit else None

    def name(self, code: str) -> str:
        """Chinese name of a digit code (of its division when not listed), or ''."""
        hit = self.codes.get(code) or self.codes.get(code[:2])
        return hit[2] if hit else ""


@lru_cache(maxsize=1)
def code_table() -> CodeTable:
    """Load the bundled code table (cached).

    Returns
    -------
    CodeTable
    """
    path = package_data("industry/codes_2017.csv")
    codes: dict[str, tuple[str, str, str]] = {}
    if path.exists():
        table = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
        codes = {r.code: (r.level, r.section, r.name_zh) for r in table.itertuples(index=False)}
    complete = any(level == "class" for level, _, _ in codes.values())
    names: dict[str, list[str]] = {}
    for code, (_, _, name) in codes.items():
        names.setdefault(name_key(name), []).append(code)
    # the bundled section and division names, where they differ, are accepted too
    for row in load_sections().itertuples():
        codes.setdefault(row.section, ("section", row.section, row.name_zh))
        names.setdefault(name_key(row.name_zh), []).append(row.section)
    for row in load_divisions().itertuples():
        codes.setdefault(row.division, ("division", row.section, row.name_zh))
        if row.division not in names.get(name_key(row.name_zh), []):
            names.setdefault(name_key(row.name_zh), []).append(row.division)
    names = {k: list(dict.fromkeys(v)) for k, v in names.items()}
    return CodeTable(codes=codes, names=names, complete=complete)


def _clean(raw: object) -> str | None:
    """Cell text folded to half width without spaces; None when blank."""
    if raw is None or (isinstance(raw, float) and np.isnan(raw)):
        return None
    text = re.sub(r"\s+", "", unicodedata.normalize("NFKC", str(raw)))
    if text.lower() in _NULLS:
        return None
    number = _NUMBER.fullmatch(text)
    return number.group(1) if number else text


def _code_from_digits(table: CodeTable, letter: str, digits: str) -> str | None:
    """``letter + digits`` as a full code when the section fits, else None."""
    section = table.section_of(digits)
    if section is None or (letter and letter != section):
        return None
    return section + digits


def _interpret(
    raw: str, table: CodeTable, level: str | None
) -> tuple[list[str], list[str], bool]:
    """Return the full codes a cell may stand for, those that need a restored zero.

    ``level`` is the level of a claim column (None for the code column); a
    claim column holding a code of another length is read as written. The
    third value says the codes are not in GB/T 4754-2017 and were read by
    their division only (code column only).
    """
    if _LETTER.fullmatch(raw):
        return [raw.upper()], [], False
    match = _CODE.fullmatch(raw)
    if match is None:
        hits = table.names.get(name_key(raw), [])
        bracketed = _NAME_WITH_CODE.match(raw)
        if not hits and bracketed:
            name, code = bracketed.groups()
            hits = table.names.get(name_key(name), [])
            if not hits and code:
                return _interpret(code, table, level)
        codes = [h if not h[0].isdigit() else (table.section_of(h) or "") + h for h in hits]
        return [c for c in codes if c], [], False
    letter, digits = match.group(1).upper(), match.group(2)
    readings: list[tuple[str, bool]] = []
    if len(digits) >= 2:
        readings.append((digits, False))
    # Excel stores codes as numbers: 0111 -> 111, 011 -> 11, 05 -> 5. A lettered
    # code was text and kept its zeros; a claim column pads only to its own level.
    wanted = _DIGITS_OF_LEVEL.get(level or "", len(digits) + 1)
    if not letter and len(digits) < 4 and len(digits) + 1 == wanted:
        readings.append(("0" + digits, True))
    for exact in (True, False):
        codes: list[str] = []
        padded: list[str] = []
        for candidate, zero in readings:
            known = table.exists(candidate) if exact else table.section_of(candidate) is not None
            if len(candidate) > 4 or not known:
                continue
            code = _code_from_digits(table, letter, candidate)
            if code is not None:
                codes.append(code)
                if zero:
                    padded.append(code)
        # a code 2017 lacks (often a 2011 one) is still read by its division, flagged
        if codes or level is not None:
            return codes, padded, not exact
    return [], [], False


def _consistent(code: str, claim: str) -> bool:
    """Whether a full code lies within (or equals) a claimed code, or vice versa."""
    return code.startswith(claim) or claim.startswith(code)


def _describe(table: CodeTable, code: str) -> tuple[str, str]:
    """'section C 制造业' style descriptions of a full code, in English and Chinese."""
    digits = code[1:]
    if not digits:
        name = table.name(code)
        return f"section {code} ({name})", f"门类 {code}（{name}）"
    level = _LEVEL_OF_DIGITS[len(digits)]
    name = table.name(digits)
    return (
        f"{level} {digits} ({name}, section {code[0]})",
        f"{LEVEL_ZH[level]} {digits}（{name}，{code[0]} 门类）",
    )


@dataclass
class _Outcome:
    code: str | None = None
    reason_en: str | None = None
    reason_zh: str | None = None
    category: str | None = None
    flag_en: str | None = None
    flag_zh: str | None = None
    flag_category: str | None = None
    unmatched: str | None = None

    def flag(self, en: str, zh: str, category: str) -> None:
        if self.flag_en is None:
            self.flag_en, self.flag_zh, self.flag_category = en, zh, category
        else:
            self.flag_en = f"{self.flag_en}; {en}"
            self.flag_zh = f"{self.flag_zh}；{zh}"

    def reject(self, en: str, zh: str, category: str) -> _Outcome:
        self.reason_en, self.reason_zh, self.category = en, zh, category
        self.code = None
        return self

    def row(self) -> tuple:
        return (self.code, self.reason_en, self.reason_zh, self.category,
                self.flag_en, self.flag_zh, self.flag_category, self.unmatched)


def _resolve_one(
    values: dict[str, str | None],
    columns: dict[str, str],
    table: CodeTable,
    usual_digits: int | None,
) -> _Outcome:
    """Resolve one combination of industry values (see the module docstring)."""
    out = _Outcome()
    claims: list[tuple[str, str, str]] = []  # (field, code, raw)
    for field_name, level in CLAIM_FIELDS.items():
        raw = values.get(field_name)
        if raw is None:
            continue
        codes, _, _ = _interpret(raw, table, level)
        column = columns[field_name]
        if len(codes) > 1:
            # one name at several levels (医药制造业 is division 27 only; some
            # groups share a name with their single class): the finest of a chain
            finest = max(codes, key=len)
            if all(finest.startswith(c) for c in codes):
                codes = [finest]
        if len(codes) == 1:
            claims.append((field_name, codes[0], raw))
        elif not codes:
            out.unmatched = raw if out.unmatched is None else f"{out.unmatched}|{raw}"
            out.flag(
                f"'{raw}' in column '{column}' is not a GB/T 4754-2017 {level} code or name "
                "(not used to check the code)",
                f"“{column}”列的“{raw}”不是 GB/T 4754-2017 的{LEVEL_ZH[level]}代码或名称"
                "（未用于核对行业代码）",
                "unknown industry name",
            )
    # the claims must agree among themselves before they can check the code
    for i, (field_a, code_a, raw_a) in enumerate(claims):
        for field_b, code_b, raw_b in claims[i + 1:]:
            if not _consistent(code_a, code_b):
                ca, cb = columns[field_a], columns[field_b]
                return out.reject(
                    f"'{raw_a}' in '{ca}' and '{raw_b}' in '{cb}' contradict each other",
                    f"“{ca}”列的“{raw_a}”与“{cb}”列的“{raw_b}”相互矛盾",
                    "industry columns disagree",
                )
    raw = values.get(CODE_FIELD)
    if raw is None:
        if not claims:
            if CODE_FIELD in columns:
                return out.reject("missing industry code", "缺少行业代码",
                                  "missing industry code")
            given = [(columns[f], values[f]) for f in CLAIM_FIELDS if values.get(f)]
            if not given:
                return out.reject("missing industry", "缺少行业信息", "missing industry code")
            return out.reject(
                "no GB/T 4754-2017 industry recognised in "
                + ", ".join(f"'{v}' ({c})" for c, v in given),
                "无法识别为 GB/T 4754-2017 行业："
                + "，".join(f"“{v}”（{c}）" for c, v in given),
                "unknown industry name",
            )
        # the finest claim is the industry
        field_name, out.code, claimed = max(claims, key=lambda c: len(c[1]))
        if CODE_FIELD in columns:
            out.flag(
                f"no industry code; classified by '{claimed}' in '{columns[field_name]}'",
                f"缺少行业代码，按“{columns[field_name]}”列的“{claimed}”归类",
                "classified by industry name",
            )
        return out
    column = columns[CODE_FIELD]
    codes, padded, by_division = _interpret(raw, table, None)
    if not codes:
        match = _CODE.fullmatch(raw)
        if match is None:
            out.unmatched = raw
            return out.reject(
                f"'{raw}' in '{column}' is neither a GB/T 4754-2017 code (2 to 4 digits with an "
                "optional section letter, e.g. C3911) nor an industry name",
                f"“{column}”列的“{raw}”既不是 GB/T 4754-2017 行业代码（2–4 位数字，可带门类字母，"
                "如 C3911），也不是行业名称",
                "invalid industry code",
            )
        letter, digits = match.group(1).upper(), match.group(2)
        if letter and not _LETTER.fullmatch(letter):
            return out.reject(
                f"invalid industry code '{raw}': unknown section letter {letter} "
                "(GB/T 4754-2017 sections are A to T)",
                f"行业代码“{raw}”无效：没有 {letter} 门类（GB/T 4754-2017 的门类为 A–T）",
                "invalid industry code",
            )
        division_section = table.section_of(digits.zfill(2)[:2]) if len(digits) >= 2 else None
        if letter and division_section and letter != division_section:
            return out.reject(
                f"invalid industry code '{raw}': section {letter} does not contain division "
                f"{digits[:2]} (it is in section {division_section})",
                f"行业代码“{raw}”无效：{letter} 门类不含 {digits[:2]} 大类（该大类属 "
                f"{division_section} 门类）",
                "invalid industry code",
            )
        level = _LEVEL_OF_DIGITS.get(len(digits), "code")
        return out.reject(
            f"invalid industry code '{raw}': no {level} {digits} in GB/T 4754-2017"
            + (" (it may be a GB/T 4754-2011 code: 2017 renumbered some groups and classes; "
               "give the 2017 code)" if len(digits) >= 3 and table.section_of(digits) else ""),
            f"行业代码“{raw}”无效：GB/T 4754-2017 中没有{LEVEL_ZH.get(level, '')} {digits}"
            + ("（可能是 GB/T 4754-2011 代码，2017 版调整了部分中类和小类，请改用 2017 版代码）"
               if len(digits) >= 3 and table.section_of(digits) else ""),
            "invalid industry code",
        )
    fitting = [c for c in codes if all(_consistent(c, claim) for _, claim, _ in claims)]
    if not fitting:
        described = [_describe(table, c) for c in codes]
        claim_en = "; ".join(f"'{r}' in '{columns[f]}'" for f, _, r in claims)
        claim_zh = "；".join(f"“{columns[f]}”列为“{r}”" for f, _, r in claims)
        return out.reject(
            f"industry code '{raw}' ({' or '.join(d[0] for d in described)}) contradicts "
            f"{claim_en}",
            f"行业代码“{raw}”（{'或'.join(d[1] for d in described)}）与{claim_zh}不符",
            "industry code contradicts its section/division",
        )
    if len(fitting) > 1:
        choice = next((c for c in fitting if len(c) - 1 == usual_digits), None)
        described = [_describe(table, c) for c in fitting]
        if choice is None:
            return out.reject(
                f"ambiguous industry code '{raw}': {' or '.join(d[0] for d in described)} "
                "(a leading zero may have been lost in Excel); add the section column "
                "(行业门类) or keep the code column as text",
                f"行业代码“{raw}”有歧义：{'或'.join(d[1] for d in described)}（Excel 可能去掉了"
                "开头的 0）；请提供行业门类列，或在 Excel 中把代码列设为文本",
                "ambiguous industry code",
            )
        if choice in padded:
            level = _LEVEL_OF_DIGITS[usual_digits]
            out.flag(
                f"ambiguous industry code '{raw}' read as {level} {choice[1:]} (most codes in "
                f"'{column}' have {usual_digits} digits; Excel drops leading zeros): check it",
                f"行业代码“{raw}”有歧义，按{LEVEL_ZH[level]} {choice[1:]} 读取（“{column}”列多为 "
                f"{usual_digits} 位代码，Excel 会去掉开头的 0）：请核对",
                "ambiguous industry code read by the column's level",
            )
        fitting = [choice]
    code = fitting[0]
    if code in padded and claims:
        out.flag(
            f"leading zero restored: '{raw}' read as {code[1:]} (confirmed by "
            f"'{columns[claims[0][0]]}')",
            f"已补回开头的 0：“{raw}”按 {code[1:]} 读取（由“{columns[claims[0][0]]}”列确认）",
            "leading zero restored",
        )
    elif code in padded and len(code) - 1 != 2:
        out.flag(
            f"leading zero restored: '{raw}' read as {code[1:]}",
            f"已补回开头的 0：“{raw}”按 {code[1:]} 读取",
            "leading zero restored",
        )
    if by_division:
        digits = code[1:]
        out.flag(
            f"'{raw}' is not a GB/T 4754-2017 {_LEVEL_OF_DIGITS[len(digits)]} (it may be a "
            "GB/T 4754-2011 code: 2017 renumbered some groups and classes); classified by "
            f"its division {digits[:2]} ({table.name(digits[:2])})",
            f"“{raw}”不是 GB/T 4754-2017 的{LEVEL_ZH[_LEVEL_OF_DIGITS[len(digits)]]}代码（可能是 "
            f"GB/T 4754-2011 代码，2017 版调整了部分中类和小类）；按其大类 {digits[:2]}"
            f"（{table.name(digits[:2])}）归类",
            "not a GB/T 4754-2017 code (2011?)",
        )
    out.code = code
    return out


def _usual_digits(cleaned: list[str | None], counts: np.ndarray) -> int | None:
    """Return the digit count most codes of a column have, when a clear majority (≥ 50 %) do.

    ``cleaned`` are the column's distinct values and ``counts`` their rows.
    """
    lengths: dict[int, int] = {}
    for text, count in zip(cleaned, counts, strict=True):
        match = _CODE.fullmatch(text) if text else None
        if match:
            size = len(match.group(2))
            lengths[size] = lengths.get(size, 0) + int(count)
    if not lengths:
        return None
    size, count = max(lengths.items(), key=lambda kv: kv[1])
    return size if count >= 0.5 * sum(lengths.values()) else None


def resolve_industry(
    values: dict[str, pd.Series], columns: dict[str, str] | None = None
) -> pd.DataFrame:
    """Resolve a register's industry columns to one normalised code per row.

    Each distinct combination of values is resolved once, so a million rows
    with a few thousand combinations take about a second.

    Parameters
    ----------
    values : dict
        ``{field: column values}`` for the fields present among
        ``industry_code`` and :data:`CLAIM_FIELDS`; all the same length.
    columns : dict, optional
        ``{field: file column name}`` for the messages (defaults to the field).

    Returns
    -------
    pandas.DataFrame
        One row per input row with the columns of :data:`RESULT_COLUMNS`:
        ``industry_code`` (None when rejected), ``reason_en``/``reason_zh``
        and ``category`` of a rejection, ``flag_en``/``flag_zh`` and
        ``flag_category`` of a kept row that needs a look, and ``unmatched``
        (names that match no code, joined by ``|``).
    """
    table = code_table()
    fields = [f for f in (CODE_FIELD, *CLAIM_FIELDS) if f in values]
    columns = {f: (columns or {}).get(f, f) for f in fields}
    index = values[fields[0]].index
    positions, cleaned = [], {}
    for name in fields:
        codes, uniques = pd.factorize(values[name].astype(object), use_na_sentinel=True)
        positions.append(codes)
        cleaned[name] = [_clean(u) for u in uniques]
    usual_digits = None
    if CODE_FIELD in values:
        counts = np.bincount(positions[0][positions[0] >= 0], minlength=len(cleaned[CODE_FIELD]))
        usual_digits = _usual_digits(cleaned[CODE_FIELD], counts)
    combos, inverse = np.unique(np.column_stack(positions), axis=0, return_inverse=True)
    results = np.empty((len(combos), len(RESULT_COLUMNS)), dtype=object)
    for i, combo in enumerate(combos):
        row = {f: (cleaned[f][c] if c >= 0 else None) for f, c in zip(fields, combo, strict=True)}
        results[i] = _resolve_one(row, columns, table, usual_digits).row()
    picked = results[inverse.ravel()] if len(index) else results[:0]
    return pd.DataFrame(
        {name: pd.Series(picked[:, j], index=index, dtype=object)
         for j, name in enumerate(RESULT_COLUMNS)}
    )
