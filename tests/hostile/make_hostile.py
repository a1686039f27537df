"""Generate the hostile-input corpus of ``tests/test_hostile.py`` (issue 17).

    .venv/bin/python tests/hostile/make_hostile.py --out /tmp/hostile
    .venv/bin/python tests/hostile/make_hostile.py --list        # categories and counts

Several hundred malformed or hostile inputs, as a careless export or an attacker
would produce them: encodings, delimiters, quoting, workbooks, geometries,
coordinate systems, numbers, names with markup and formulas, database
identifiers, database URLs with passwords, and broken file structures. The
files are not kept in the repository: the test writes them into a temporary
folder. Everything comes from one seed (:data:`SEED`), so two runs give the
same cases, the same rows and the same text files (XLSX and GeoPackage files
carry write timestamps, their content is the same).

Beside the files, ``manifest.json`` describes every case: its ``id``,
``category``, ``kind``, the ``files`` written, the ``runs`` (``geo`` command
lines, with ``{file}``, ``{corpus}`` and ``{out}`` to be filled in by the test),
an optional ``read`` (the arguments of the in-process ``geo.io.firms.read_firms``
call used for the row accounting) and ``expect``, the invariant class the test
checks (see ``README.md`` in this folder), with its parameters: ``records`` (an
independent count of the data records written), ``records_max``, ``bad_rows``,
``rows`` (per spreadsheet row: ``keep``, ``reject``, ``flag_or_reject`` or
``any``), ``values``, ``names``, ``hints`` and ``forbid``.

Firms are synthetic: made-up names and credit codes, GB/T 4754-2017 classes such
as C3911, I6513, G5431 and C1751, and WGS84 positions in central Hangzhou
(lon 119-120.5, lat 29.5-30.5) inside the bundled district polygons.
"""

from __future__ import annotations

import argparse
import codecs
import csv
import io
import json
import warnings
import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
SEED = 20261117

# The password of every database URL; the test asserts it is never printed or written.
SECRET = "SECRET"
BOGUS_HOST = "127.0.0.1:9"  # the discard port: connections are refused at once

# --------------------------------------------------------------------------- reference data

# Anchor points (WGS84) in Hangzhou's built-up areas; firms are scattered around them.
ANCHORS = (
    (120.155, 30.275),  # 拱墅 / 西湖 (Wulin)
    (120.130, 30.265),  # 西湖 (Huanglong)
    (120.210, 30.210),  # 滨江 (Binjiang high-tech zone)
    (120.020, 30.285),  # 余杭 (Future Sci-Tech City)
    (120.270, 30.180),  # 萧山 (city centre)
    (120.300, 30.420),  # 临平
    (120.380, 30.300),  # 钱塘 (Xiasha)
    (119.960, 30.050),  # 富阳
    (119.720, 30.235),  # 临安
    (119.690, 29.800),  # 桐庐
)
# GB/T 4754-2017 classes (all in the bundled 2017 list) and a word for the name.
CODES = {
    "C3911": "计算机", "I6513": "软件", "G5431": "物流", "C1751": "化纤织造",
    "C2710": "药业", "C3670": "汽车零部件", "C3841": "锂电池", "M7320": "工程技术研究",
    "M7484": "工程设计", "M7491": "工业设计", "J6621": "金融服务", "L7211": "企业管理",
    "I6520": "集成电路设计", "G5810": "多式联运", "C2651": "新材料", "I6432": "网络科技",
}
PLACES = ("杭州", "浙江", "杭州市余杭区", "杭州滨江", "杭州钱塘", "杭州萧山", "浙江临安",
          "杭州西湖")
WORDS = ("云栖", "西溪", "之江", "钱江", "良渚", "湘湖", "富春", "天目", "九溪", "龙坞", "梦想",
         "闻堰", "丁兰", "三墩", "紫金", "白马", "运河", "青山", "凤起", "望江")

EN = ("firm_id", "name", "industry_code", "lon", "lat", "employees")
ZH = ("统一社会信用代码", "企业名称", "行业代码", "经度", "纬度", "从业人员")
CREDIT_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"

# Markup and formula payloads put into names (and other text fields).
PAYLOADS = {
    "script": "<script>alert(1)</script>",
    "img_onerror": "<img src=x onerror=alert(1)>",
    "svg_onload": "\"><svg onload=alert(1)>",
    "script_close": "</script><img src=x onerror=alert(1)>",
    "js_url": "javascript:alert(1)",
    "anchor_js": "<a href=\"javascript:alert(1)\">点击查看</a>",
    "iframe_js": "<iframe src=\"javascript:alert(1)\"></iframe>",
    "details_toggle": "<details open ontoggle=alert(1)>",
    "pre_escaped": "&lt;script&gt;alert(1)&lt;/script&gt;",
    "cdata_end": "]]><script>alert(1)</script><![CDATA[",
    "hyperlink": "=HYPERLINK(\"http://evil.example\",\"点击\")",
    "plus_cmd": "+cmd|' /C calc'!A0",
    "minus": "-1+1",
    "at_sum": "@SUM(1+1)*cmd|' /C calc'!A0",
    "tab_prefix": "\t=1+1",
    "cr_prefix": "\r=1+1",
    "zero_width": "杭州\u200b西湖\u200d科技\ufeff有限公司",
    "bidi": "\u202e杭州科技\u202c有限公司\u2067exe.js\u2069",
    "sql": "'; DROP TABLE firms; --",
    "control_chars": "杭州\x1b[31m红色\x1b[0m\x07科技\x0b\x08有限公司",
    "template": "{{7*7}}${7*7}<%= 7*7 %>",
    "formula_markup": "=HYPERLINK(\"javascript:alert(1)\",\"<img src=x onerror=alert(1)>\")",
    "long_100k": "杭州" + "很长的名称" * 20_000 + "有限公司",
}
# Raw (unescaped) forms whose presence in an HTML page, or in the decoded text of a
# KML file, means a payload arrived as live markup. Escaped forms (&lt;img ...,
# \u003cimg ...) do not match.
MARKUP_SIGNATURES = (
    "<script>alert(",
    "<img src=x onerror=",
    "<svg onload=",
    "<a href=\"javascript:",
    "<iframe src=\"javascript:",
    "<details open ontoggle=",
)
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
FORMULA_PAYLOADS = ("hyperlink", "plus_cmd", "minus", "at_sum", "tab_prefix", "cr_prefix",
                    "formula_markup")


def _rng(name: str) -> np.random.Generator:
    """A generator per case family, so adding one family does not shift the others."""
    return np.random.default_rng([SEED, zlib.crc32(name.encode())])


# --------------------------------------------------------------------------- firms


@dataclass
class Firm:
    firm_id: str
    name: str
    code: str
    lon: float
    lat: float
    employees: int

    def row(self, *, lon: str | None = None, lat: str | None = None, **override: Any) -> list:
        values = {
            "firm_id": self.firm_id, "name": self.name, "industry_code": self.code,
            "lon": lon if lon is not None else f"{self.lon:.6f}",
            "lat": lat if lat is not None else f"{self.lat:.6f}",
            "employees": str(self.employees),
        }
        values.update(override)
        return [values[k] for k in EN]


_AREA = None


def _study_area():
    """The bundled districts (read directly, not through geo), shrunk by ~300 m."""
    global _AREA
    if _AREA is None:
        import shapely

        data = json.loads((ROOT / "layers" / "districts.geojson").read_text(encoding="utf-8"))
        parts = [shapely.geometry.shape(f["geometry"]) for f in data["features"]]
        from shapely.prepared import prep

        _AREA = prep(shapely.union_all(parts).buffer(-0.003))
    return _AREA


def firms(n: int, rng: np.random.Generator, *, trad: bool = False) -> list[Firm]:
    """``n`` ordinary firms with unique ids and names, inside Hangzhou."""
    import shapely

    area = _study_area()
    out: list[Firm] = []
    used: set[str] = set()
    codes = list(CODES)
    while len(out) < n:
        lon0, lat0 = ANCHORS[int(rng.integers(len(ANCHORS)))]
        lon = round(lon0 + float(rng.uniform(-0.012, 0.012)), 6)
        lat = round(lat0 + float(rng.uniform(-0.010, 0.010)), 6)
        if not (119.0 <= lon <= 120.5 and 29.5 <= lat <= 30.5):
            continue
        if not area.contains(shapely.Point(lon, lat)):
            continue
        code = codes[int(rng.integers(len(codes)))]
        name = (PLACES[int(rng.integers(len(PLACES)))] + WORDS[int(rng.integers(len(WORDS)))]
                + WORDS[int(rng.integers(len(WORDS)))] + CODES[code] + "有限公司")
        if trad:
            name = _traditional(name)
        if name in used:
            continue
        used.add(name)
        body = "".join(CREDIT_CHARS[int(i)] for i in rng.integers(len(CREDIT_CHARS), size=9))
        firm_id = f"913301{int(rng.integers(10, 99))}{body}X"
        out.append(Firm(firm_id, name, code, lon, lat, int(rng.integers(3, 800))))
    return out


_TRAD_MAP = str.maketrans(
    "区余滨钱萧临云栖龙坞梦闻兰马运凤计机软纤织药业车锂电术设网络联务管门阳国华东为质经济发开关",
    "區餘濱錢蕭臨雲棲龍塢夢聞蘭馬運鳳計機軟纖織藥業車鋰電術設網絡聯務管門陽國華東為質經濟發開關",
)


def _traditional(text: str) -> str:
    return text.translate(_TRAD_MAP)


def csv_text(header, rows, *, delimiter: str = ",", eol: str = "\r\n") -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator=eol)
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


# --------------------------------------------------------------------------- cases


@dataclass
class Case:
    """One hostile input: its files, the commands to run and the invariants to check."""

    id: str
    category: str
    kind: str
    description: str
    files: dict[str, bytes | Callable[[Path], None]]
    runs: list[dict]
    expect: str = "no_traceback"
    read: dict | None = None
    params: dict = field(default_factory=dict)

    def manifest(self) -> dict:
        entry = {
            "id": self.id, "category": self.category, "kind": self.kind,
            "description": self.description, "files": sorted(self.files),
            "file": next(iter(self.files)) if self.files else None,
            "runs": self.runs, "expect": self.expect, "read": self.read,
        }
        entry.update(self.params)
        return entry


def validate_runs(*extra: str) -> list[dict]:
    return [{"argv": ["validate", "{file}", *extra, "--rejects", "{out}/rejects.csv",
                      "--flagged", "{out}/flagged.csv"]}]


def firms_case(cid: str, category: str, description: str, filename: str,
               data: bytes | Callable[[Path], None], *, expect: str, records: int,
               read: dict | None = None, cli: tuple[str, ...] = (), extra_runs=(),
               timeout: int | None = None, **params: Any) -> Case:
    """A firms file run through ``geo validate`` and read in-process for the accounting."""
    read = {"path": "{file}", **(read or {})}
    params = {"records": records, **params}
    runs = validate_runs(*cli) + list(extra_runs)
    if timeout:
        runs = [{**run, "timeout": timeout} for run in runs]
    return Case(cid, category, "firms", description, {filename: data}, runs, expect, read,
                params)


def _enc(text: str, encoding: str) -> bytes:
    return text.encode(encoding)


# ----- encodings


def encoding_cases() -> list[Case]:
    rng = _rng("encodings")
    cases = []

    def add(cid, description, data, *, expect, records, header=EN, **params):
        cases.append(firms_case(f"encodings/{cid}", "encodings", description,
                                f"encodings/{cid}.csv",
                                data, expect=expect, records=records, **params))

    def table(n=12, header=EN, trad=False):
        fs = firms(n, rng, trad=trad)
        return fs, csv_text(header, [f.row() for f in fs])

    for cid, enc, bom, description in (
        ("utf8", "utf-8", b"", "UTF-8 without BOM"),
        ("utf8_bom", "utf-8", codecs.BOM_UTF8, "UTF-8 with BOM (Excel's 'CSV UTF-8')"),
        ("gbk", "gbk", b"", "GBK (Excel's 'CSV' on a Chinese Windows)"),
        ("gb18030", "gb18030", b"", "GB18030 with a name outside GBK (𠮷)"),
        ("utf16_le_bom", "utf-16-le", codecs.BOM_UTF16_LE,
         "UTF-16 LE with BOM (Excel 'Unicode text')"),
        ("utf16_be_bom", "utf-16-be", codecs.BOM_UTF16_BE, "UTF-16 BE with BOM"),
    ):
        header = ZH if enc in ("gbk", "gb18030") else EN
        fs, text = table(header=header)
        names = [f.name for f in fs]
        if cid == "gb18030":
            fs[3].name = "杭州𠮷祥云栖软件有限公司"
            names[3] = fs[3].name
            text = csv_text(header, [f.row() for f in fs])
        add(cid, description, bom + _enc(text, enc), expect="clean", records=len(fs), names=names)

    # Big5: many Big5 byte pairs are also valid GBK, so a GBK guess garbles every name.
    fs, text = table(trad=True, header=EN)
    add("big5", "Big5 (traditional characters), decodes as GBK without error",
        text.encode("big5", errors="strict"), expect="accounting", records=len(fs),
        names=[f.name for f in fs], hints=["big5"])
    fs, text = table(trad=True, header=EN)
    add("big5_hkscs", "Big5-HKSCS", text.encode("big5hkscs"), expect="accounting",
        records=len(fs), names=[f.name for f in fs], hints=["big5"])
    for cid, enc in (("utf16_le_nobom", "utf-16-le"), ("utf16_be_nobom", "utf-16-be")):
        fs, text = table()
        add(cid, f"{enc.upper()} without BOM (NUL byte in every other byte)", _enc(text, enc),
            expect="accounting", records=len(fs), names=[f.name for f in fs],
            hints=["utf-16", "utf16"])
    fs = firms(10, rng)
    latin = ["Café Müller Hangzhou GmbH", "Société Générale Hangzhou", "Bäckerei Zürich Ltd",
             "Niño Software S.A.", "Øresund Logistics ApS", "Crème Brûlée Design Sàrl",
             "Señor Textiles S.L.", "Ångström Optics AB", "Façade Engineering SARL", "Über Tech"]
    for f, name in zip(fs, latin, strict=True):
        f.name = name
    text = csv_text(EN, [f.row() for f in fs])
    add("latin1", "ISO-8859-1 (Western names with accents)", text.encode("latin-1"),
        expect="accounting", records=len(fs), names=latin,
        hints=["latin", "8859", "1252", "encoding"])
    fs = firms(6, rng)
    cp = ["“Smart” Quotes Hangzhou Ltd", "Euro € Trading Co", "Dash – Design Ltd",
          "Ellipsis… Software", "Bullet • Logistics", "Trademark™ Tech"]
    for f, name in zip(fs, cp, strict=True):
        f.name = name
    add("cp1252", "Windows-1252 (smart quotes, euro sign)",
        csv_text(EN, [f.row() for f in fs]).encode("cp1252"), expect="accounting",
        records=len(fs), names=cp, hints=["1252", "latin", "encoding"])
    fs = firms(8, rng)
    names_sj = ["杭州山田電機有限公司", "杭州佐藤ソフト有限公司", "浙江鈴木物流有限公司",
                "杭州高橋化学有限公司", "杭州渡辺設計有限公司", "杭州伊藤金融有限公司",
                "杭州中村製薬有限公司", "杭州小林車両有限公司"]
    for f, name in zip(fs, names_sj, strict=True):
        f.name = name
    add("shift_jis", "Shift_JIS (a Japanese-invested firm's export)",
        csv_text(EN, [f.row() for f in fs]).encode("shift_jis"), expect="accounting",
        records=len(fs), names=names_sj, hints=["shift", "jis", "encoding"])

    # mixed per line: a few GBK rows pasted into a UTF-8 file
    fs = firms(15, rng)
    lines = csv_text(ZH, [f.row() for f in fs]).splitlines(keepends=True)
    data = b"".join(line.encode("gbk" if k in (4, 9, 10) else "utf-8")
                    for k, line in enumerate(lines))
    add("mixed_utf8_gbk_lines", "UTF-8 file with three GBK rows pasted in", data,
        expect="resilient", records=len(fs), bad_rows=3, names=[f.name for f in fs])
    fs = firms(15, rng)
    lines = csv_text(ZH, [f.row() for f in fs]).splitlines(keepends=True)
    data = b"".join(line.encode("utf-8" if k in (6,) else "gbk") for k, line in enumerate(lines))
    add("mixed_gbk_utf8_line", "GBK file with one UTF-8 row", data, expect="resilient",
        records=len(fs), bad_rows=1, names=[f.name for f in fs])
    fs = firms(15, rng)
    lines = csv_text(ZH, [f.row() for f in fs]).splitlines(keepends=True)
    data = codecs.BOM_UTF8 + b"".join(
        line.encode("gbk" if k == 12 else "utf-8") for k, line in enumerate(lines))
    add("bom_with_gbk_line", "UTF-8 with BOM, one GBK row near the end", data,
        expect="resilient", records=len(fs), bad_rows=1, names=[f.name for f in fs])

    fs = firms(15, rng)
    rows = [f.row() for f in fs]
    text = csv_text(EN, rows)
    marker = fs[7].name.encode("utf-8")
    data = text.encode("utf-8").replace(marker, marker[:6] + b"\xff\xfe" + marker[6:])
    add("invalid_byte_one_row", "one row's name has the bytes FF FE in the middle", data,
        expect="resilient", records=len(fs), bad_rows=1, names=[f.name for f in fs])
    fs = firms(15, rng)
    data = csv_text(EN, [f.row() for f in fs]).encode("utf-8")
    marker = fs[5].name.encode("utf-8")
    data = data.replace(marker, marker[:5] + b"\xc0\xaf" + marker[5:])
    add("overlong_utf8", "an overlong UTF-8 sequence (C0 AF) in one name", data,
        expect="resilient", records=len(fs), bad_rows=1, names=[f.name for f in fs])
    fs = firms(15, rng)
    data = csv_text(EN, [f.row() for f in fs]).encode("utf-8")
    marker = fs[9].name.encode("utf-8")
    data = data.replace(marker, marker[:3] + b"\xed\xa0\x80" + marker[3:])
    add("lone_surrogate", "a UTF-8-encoded lone surrogate (ED A0 80) in one name", data,
        expect="resilient", records=len(fs), bad_rows=1, names=[f.name for f in fs])
    fs = firms(12, rng)
    data = csv_text(EN, [f.row() for f in fs]).encode("utf-8")
    cut = data.rstrip(b"\r\n")
    last = fs[-1].row()[-1].encode()  # the employees of the last row
    data = cut[: len(cut) - len(last)].rstrip(b",") + b"," + fs[-1].name.encode()[:4]
    add("truncated_multibyte_eof", "file cut in the middle of a character (last row broken)",
        data, expect="resilient", records=len(fs), bad_rows=1, names=[f.name for f in fs])

    fs = firms(15, rng)
    data = csv_text(EN, [f.row() for f in fs]).encode("utf-8")
    marker = fs[8].name.encode("utf-8")
    data = data.replace(marker, marker[:6] + b"\x00" + marker[6:])
    add("nul_byte_one_row", "one NUL byte in one name", data, expect="resilient",
        records=len(fs), bad_rows=1, names=[f.name for f in fs])
    fs = firms(12, rng)
    data = csv_text(EN, [f.row() for f in fs]).encode("utf-8") + b"\x00" * 700
    add("nul_padding_eof", "NUL padding after the last row (a crashed writer)", data,
        expect="resilient", records=len(fs), records_max=len(fs) + 1, bad_rows=0,
        names=[f.name for f in fs])
    fs = firms(12, rng)
    data = csv_text(EN, [f.row() for f in fs]).encode("utf-8").replace(b"\r\n", b"\x00\r\n")
    add("nul_every_line", "a NUL byte at the end of every line", data, expect="accounting",
        records=len(fs), names=[f.name for f in fs])
    fs = firms(12, rng)
    text = csv_text(EN, [f.row() for f in fs])
    data = codecs.BOM_UTF8 + codecs.BOM_UTF8 + text.encode("utf-8")
    add("double_bom", "two UTF-8 BOMs at the start", data, expect="accounting",
        records=len(fs), names=[f.name for f in fs])
    fs = firms(12, rng)
    fs[4].name = fs[4].name[:3] + "\ufeff" + fs[4].name[3:]
    add("bom_inside_name", "a U+FEFF inside one name", csv_text(EN, [f.row() for f in fs])
        .encode("utf-8"), expect="clean", records=len(fs))
    fs = firms(12, rng)
    text = csv_text(ZH, [f.row() for f in fs])
    add("gbk_forced_utf8", "GBK file read with --encoding utf-8", text.encode("gbk"),
        expect="refused", records=len(fs), cli=("--encoding", "utf-8"),
        read={"encoding": "utf-8"}, hints=["utf-8", "encoding", "编码"])
    fs = firms(12, rng, trad=True)
    text = csv_text(EN, [f.row() for f in fs])
    add("big5_forced", "Big5 file read with --encoding big5", text.encode("big5"),
        expect="clean", records=len(fs), cli=("--encoding", "big5"),
        read={"encoding": "big5"}, names=[f.name for f in fs])
    fs = firms(12, rng)
    add("unknown_encoding", "--encoding with a name Python does not know",
        csv_text(EN, [f.row() for f in fs]).encode("utf-8"), expect="refused",
        records=len(fs), cli=("--encoding", "gbk-2000"), read={"encoding": "gbk-2000"})
    return cases


# ----- delimiters and line endings


def delimiter_cases() -> list[Case]:
    rng = _rng("delimiters")
    cases = []

    def add(cid, description, text_or_bytes, *, suffix=".csv", expect="clean", records,
            **params):
        data = text_or_bytes if isinstance(text_or_bytes, bytes) else text_or_bytes.encode()
        cases.append(firms_case(f"delimiters/{cid}", "delimiters", description,
                                f"delimiters/{cid}{suffix}", data, expect=expect,
                                records=records, **params))

    for cid, delim, suffix in (("comma", ",", ".csv"), ("tab_csv", "\t", ".csv"),
                               ("tab_tsv", "\t", ".tsv"), ("tab_txt", "\t", ".txt"),
                               ("semicolon", ";", ".csv"), ("pipe", "|", ".txt")):
        fs = firms(12, rng)
        add(cid, f"fields separated by {delim!r}",
            csv_text(ZH if delim != "," else EN, [f.row() for f in fs], delimiter=delim),
            suffix=suffix, records=len(fs), names=[f.name for f in fs])
    fs = firms(12, rng)
    text = "".join(line + ",\r\n" for line in csv_text(EN, [f.row() for f in fs]).splitlines())
    add("trailing_comma_all", "a comma at the end of every line, header included", text,
        records=len(fs), names=[f.name for f in fs])
    fs = firms(12, rng)
    lines = csv_text(EN, [f.row() for f in fs]).splitlines()
    text = lines[0] + "\r\n" + "".join(line + ",\r\n" for line in lines[1:])
    add("trailing_comma_rows", "a comma at the end of every data row but not the header",
        text, records=len(fs), names=[f.name for f in fs],
        forbid=["projected", "--coords 4549"])
    fs = firms(12, rng)
    lines = csv_text(ZH, [f.row() for f in fs], delimiter=";").splitlines()
    text = "".join(line + ";\n" for line in lines)
    add("trailing_semicolon", "a semicolon at the end of every line", text, records=len(fs),
        names=[f.name for f in fs], forbid=["projected", "--coords 4549"])
    fs = firms(12, rng)
    text = "sep=;\r\n" + csv_text(EN, [f.row() for f in fs], delimiter=";")
    add("excel_sep_line", "Excel's 'sep=;' hint as the first line", text,
        expect="accounting", records=len(fs), names=[f.name for f in fs])
    fs = firms(12, rng)
    text = csv_text(EN, [f.row() for f in fs]).replace("\r\n", "\r")
    add("cr_only", "old Mac line endings (CR only)", text, records=len(fs),
        names=[f.name for f in fs])
    fs = firms(12, rng)
    lines = csv_text(EN, [f.row() for f in fs]).splitlines()
    text = "".join(line + ("\n", "\r\n", "\r")[k % 3] for k, line in enumerate(lines))
    add("mixed_line_endings", "LF, CRLF and CR line endings mixed", text, records=len(fs),
        names=[f.name for f in fs])
    fs = firms(12, rng)
    text = csv_text(EN, [f.row() for f in fs]).rstrip("\r\n")
    add("no_final_newline", "no newline after the last row", text, records=len(fs),
        names=[f.name for f in fs])
    fs = firms(12, rng)
    lines = csv_text(EN, [f.row() for f in fs]).splitlines()
    text = "\r\n".join(lines[:5] + ["", ",,,,,", ""] + lines[5:]) + "\r\n"
    add("blank_and_delimiter_rows", "blank lines and a row of bare commas between records",
        text, records=len(fs), names=[f.name for f in fs])
    fs = firms(12, rng)
    lines = csv_text(EN, [f.row() for f in fs]).splitlines()
    lines[1:] = [line.replace(",", "\t") if k % 2 else line for k, line in enumerate(lines[1:])]
    add("mixed_delimiters", "comma header, every other data row separated by tabs",
        "\r\n".join(lines) + "\r\n", expect="resilient", records=len(fs), bad_rows=6,
        names=[f.name for f in fs])
    fs = firms(12, rng)
    text = csv_text(EN, [f.row() for f in fs], delimiter=";").replace(".", ",")
    add("semicolon_decimal_comma", "semicolons with decimal commas (120,155)", text,
        expect="accounting", records=len(fs), names=[f.name for f in fs])
    fs = firms(10, rng)
    widths = (22, 34, 10, 14, 14, 8)
    lines = ["".join(h.ljust(w) for h, w in zip(EN, widths, strict=True))]
    lines += ["".join(v.ljust(w) for v, w in zip(f.row(), widths, strict=True)) for f in fs]
    add("fixed_width", "space-aligned fixed-width text", "\n".join(lines) + "\n",
        suffix=".txt", expect="accounting", records=len(fs))
    fs = firms(12, rng)
    text = "\r\n\r\n\r\n" + csv_text(EN, [f.row() for f in fs])
    add("leading_blank_lines", "three blank lines before the header", text, records=len(fs),
        names=[f.name for f in fs])
    return cases


# ----- quoting


def quoting_cases() -> list[Case]:
    rng = _rng("quoting")
    cases = []

    def add(cid, description, text, *, expect, records, **params):
        cases.append(firms_case(f"quoting/{cid}", "quoting", description,
                                f"quoting/{cid}.csv", text.encode("utf-8"), expect=expect,
                                records=records, **params))

    def lines_of(fs, header=EN):
        return csv_text(header, [f.row() for f in fs]).splitlines()

    fs = firms(15, rng)
    lines = lines_of(fs)
    lines[6] = lines[6].replace(fs[5].name, '"' + fs[5].name, 1)
    add("unclosed_quote_mid", "an opening quote never closed, in row 7 of 16", "\r\n".join(lines)
        + "\r\n", expect="resilient", records=len(fs), bad_rows=1, names=[f.name for f in fs])
    fs = firms(15, rng)
    lines = lines_of(fs)
    lines[-1] = lines[-1].replace(fs[-1].name, '"' + fs[-1].name, 1)
    add("unclosed_quote_last", "an opening quote never closed, in the last row",
        "\r\n".join(lines) + "\r\n", expect="resilient", records=len(fs), bad_rows=1,
        names=[f.name for f in fs])
    fs = firms(12, rng)
    fs[3].name = fs[3].name[:4] + "\n" + fs[3].name[4:]
    fs[7].name = fs[7].name[:4] + "\r\n" + fs[7].name[4:]
    add("embedded_newlines", "quoted names with LF and CRLF inside",
        csv_text(EN, [f.row() for f in fs]), expect="clean", records=len(fs))
    fs = firms(12, rng)
    fs[2].name = '杭州"西湖"科技有限公司'
    fs[9].name = '浙江""双引号""物流有限公司'
    add("doubled_quotes", "names with quotes, written as doubled quotes",
        csv_text(EN, [f.row() for f in fs]), expect="clean", records=len(fs),
        names=[f.name for f in fs])
    fs = firms(15, rng)
    lines = lines_of(fs)
    bad = fs[6].name[:4] + "," + fs[6].name[4:]
    lines[7] = lines[7].replace(fs[6].name, bad, 1)
    add("unquoted_comma_one_name", "an unquoted comma in one name (7 fields in one row)",
        "\r\n".join(lines) + "\r\n", expect="resilient", records=len(fs), bad_rows=1,
        names=[f.name for f in fs])
    fs = firms(15, rng)
    lines = lines_of(fs, ZH)
    for k in (3, 11):
        lines[k + 1] = lines[k + 1].replace(fs[k].name, fs[k].name[:3] + "，," + fs[k].name[3:])
    add("unquoted_comma_two_rows", "unquoted commas in two names", "\r\n".join(lines) + "\r\n",
        expect="resilient", records=len(fs), bad_rows=2, names=[f.name for f in fs])
    fs = firms(12, rng)
    lines = lines_of(fs)
    literal = fs[3].name[:3] + '"' + fs[3].name[3:]
    lines[4] = lines[4].replace(fs[3].name, literal, 1)
    add("quote_inside_unquoted", "a bare quote inside an unquoted name", "\r\n".join(lines)
        + "\r\n", expect="resilient", records=len(fs), bad_rows=1,
        names=[f.name for f in fs] + [literal])
    fs = firms(12, rng)
    lines = lines_of(fs)
    lines[5] = lines[5].replace(fs[4].name, '"' + fs[4].name[:4] + '"' + fs[4].name[4:], 1)
    add("text_after_closing_quote", 'text after a closing quote ("abc"def)',
        "\r\n".join(lines) + "\r\n", expect="resilient", records=len(fs), bad_rows=1,
        names=[f.name for f in fs])
    fs = firms(12, rng)
    lines = lines_of(fs)
    lines[3] = lines[3].replace(fs[2].name, '"' + fs[2].name[:4] + '\\"' + fs[2].name[4:] + '"')
    # kept as written (with the backslash) or unescaped; anything else is garbled
    add("backslash_escaped_quote", 'a backslash-escaped quote (\\") as MySQL writes it',
        "\r\n".join(lines) + "\r\n", expect="resilient", records=len(fs), bad_rows=1,
        names=[f.name for f in fs] + [fs[2].name[:4] + '\\"' + fs[2].name[4:],
                                      fs[2].name[:4] + '"' + fs[2].name[4:]])
    fs = firms(12, rng)
    lines = [",".join("'" + v + "'" if i == 1 else v for i, v in enumerate(f.row()))
             for f in fs]
    add("single_quoted", "names in single quotes", "\r\n".join([",".join(EN)] + lines) + "\r\n",
        expect="accounting", records=len(fs))
    fs = firms(10, rng)
    fs[4].name = "杭州" + "多行\n" * 5000 + "有限公司"
    add("huge_multiline_field", "one quoted name of 5,000 lines",
        csv_text(EN, [f.row() for f in fs]), expect="clean", records=len(fs))
    fs = firms(12, rng)
    fs[6].name = '""'
    add("only_quotes_name", 'a name that is just two quote characters',
        csv_text(EN, [f.row() for f in fs]), expect="clean", records=len(fs))
    fs = firms(12, rng)
    lines = lines_of(fs)
    lines[2] = lines[2] + ",额外,字段"
    add("extra_fields_one_row", "one row with two extra fields", "\r\n".join(lines) + "\r\n",
        expect="resilient", records=len(fs), bad_rows=1, names=[f.name for f in fs])
    fs = firms(12, rng)
    lines = lines_of(fs)
    lines[8] = ",".join(lines[8].split(",")[:3])
    add("short_row", "one row with only three fields", "\r\n".join(lines) + "\r\n",
        expect="resilient", records=len(fs), bad_rows=1, names=[f.name for f in fs])
    return cases


# ----- workbooks


def _book(sheets, *, hidden=(), very_hidden=(), merged=None, title_row=None,
          formatted_to=None, chartsheet_first=False):
    """A writer of a workbook: ``sheets`` maps a title to a list of rows."""

    def write(path: Path) -> None:
        import openpyxl

        book = openpyxl.Workbook()
        book.remove(book.active)
        if chartsheet_first:
            from openpyxl.chart import BarChart, Reference

            chart_sheet = book.create_chartsheet("图表")
        for title, rows in sheets.items():
            sheet = book.create_sheet(title)
            for row in rows:
                sheet.append(list(row))
            if title in hidden:
                sheet.sheet_state = "hidden"
            if title in very_hidden:
                sheet.sheet_state = "veryHidden"
            for rng_ in (merged or {}).get(title, []):
                sheet.merge_cells(rng_)
            if formatted_to and title == formatted_to[0]:
                from openpyxl.styles import Font

                sheet.cell(row=formatted_to[1], column=1).font = Font(bold=True)
        if chartsheet_first:
            data_sheet = book[next(iter(sheets))]
            chart = BarChart()
            chart.add_data(Reference(data_sheet, min_col=6, min_row=1, max_row=5),
                           titles_from_data=True)
            chart_sheet.add_chart(chart)
        if not book.sheetnames:
            book.create_sheet("Sheet1")
        book.save(path)

    return write


def _xrow(f: Firm) -> list:
    return [f.firm_id, f.name, f.code, f.lon, f.lat, f.employees]


def sheet_cases() -> list[Case]:
    rng = _rng("sheets")
    cases = []

    def add(cid, description, writer, *, expect, records, suffix=".xlsx", **params):
        cases.append(firms_case(f"sheets/{cid}", "sheets", description, f"sheets/{cid}{suffix}",
                                writer, expect=expect, records=records, **params))

    add("empty_workbook", "a workbook with one empty sheet", _book({"Sheet1": []}),
        expect="refused", records=0)
    add("header_only", "a header and no rows", _book({"企业": [ZH]}), expect="refused",
        records=0)
    fs = firms(12, rng)
    notes = [["说明：本表为2024年杭州市企业名录导出"], ["数据来源：市场监管局"], [],
             ["联系人：张三"]]
    add("notes_first", "a notes sheet before the firms",
        _book({"说明": notes, "企业名录": [ZH] + [_xrow(f) for f in fs]}), expect="clean",
        records=len(fs), names=[f.name for f in fs])
    fs = firms(12, rng)
    lookup = [["行业代码", "行业名称"]] + [[c, w] for c, w in CODES.items()]
    add("hidden_first_lookup", "a hidden code table as the first sheet",
        _book({"代码表": lookup, "企业": [ZH] + [_xrow(f) for f in fs]}, hidden=("代码表",)),
        expect="clean", records=len(fs), names=[f.name for f in fs], hints=["--sheet"])
    fs = firms(12, rng)
    add("hidden_first_template", "a very hidden template sheet (header only) first",
        _book({"模板": [ZH], "企业": [ZH] + [_xrow(f) for f in fs]}, very_hidden=("模板",)),
        expect="clean", records=len(fs), names=[f.name for f in fs], hints=["--sheet"])
    fs, old = firms(12, rng), firms(3, rng)
    add("hidden_first_stale_firms", "a hidden sheet of 3 stale firms before the 12 current ones",
        _book({"旧数据": [ZH] + [_xrow(f) for f in old], "企业": [ZH] + [_xrow(f) for f in fs]},
              hidden=("旧数据",)),
        expect="accounting", records=len(fs), records_max=len(fs) + len(old))
    a, b = firms(15, rng), firms(15, rng)
    add("two_sheets_same_header", "firms over two sheets with the same header (15 + 15)",
        _book({"第一部分": [ZH] + [_xrow(f) for f in a], "第二部分": [ZH] + [_xrow(f) for f in b]}),
        expect="clean", records=len(a) + len(b), names=[f.name for f in a + b])
    a, b = firms(10, rng), firms(8, rng)
    add("notes_then_two_sheets", "notes, then firms over two sheets (10 + 8)",
        _book({"说明": notes, "上半年": [EN] + [_xrow(f) for f in a],
               "下半年": [EN] + [_xrow(f) for f in b]}),
        expect="clean", records=len(a) + len(b), names=[f.name for f in a + b])
    fs = firms(12, rng)
    summary = [["区县", "企业数"], ["西湖区", 5], ["滨江区", 7]]
    add("firms_then_summary", "firms, then a summary sheet with another header",
        _book({"企业": [ZH] + [_xrow(f) for f in fs], "汇总": summary}), expect="clean",
        records=len(fs), names=[f.name for f in fs])
    fs = firms(12, rng)
    rows = [["杭州市重点企业名录（2024年）"] + [None] * 5, ZH] + [_xrow(f) for f in fs]
    add("merged_title_row", "a merged title row above the header",
        _book({"企业": rows}, merged={"企业": ["A1:F1"]}), expect="accounting",
        records=len(fs), names=[f.name for f in fs])
    fs = firms(12, rng)
    header = list(ZH) + ["所属区县"]
    rows = [header] + [_xrow(f) + (["西湖区"] if k in (0, 4, 8) else [None])
                       for k, f in enumerate(fs)]
    add("merged_district_cells", "the district column merged down over four rows at a time",
        _book({"企业": rows}, merged={"企业": ["G2:G5", "G6:G9", "G10:G13"]}),
        expect="accounting", records=len(fs), names=[f.name for f in fs],
        rows={str(r): "keep" for r in range(2, 14)})
    fs = firms(12, rng)
    rows = [ZH] + [_xrow(f) for f in fs]
    rows[3][3] = "=120.1+0.05"
    rows[5][5] = "=SUM(10,5)"
    rows[7][1] = '=HYPERLINK("http://evil.example","点击")'
    rows[9][4] = "=B2"
    add("formulas", "formulas in lon, employees, name and lat (no cached values)",
        _book({"企业": rows}), expect="accounting", records=len(fs),
        rows={"4": "any", "6": "any", "8": "any", "10": "any", "2": "keep", "3": "keep"})
    import datetime as dt

    fs = firms(12, rng)
    header = list(ZH) + ["成立日期"]
    dates = [dt.datetime(2019, 3, 5), dt.date(2008, 11, 1), "2015-07-20", "2012/04/09",
             "2019年3月5日", 43529, "2003.06", dt.datetime(1999, 12, 31, 23, 59), "", None,
             "二〇一〇年", "1900-01-00"]
    rows = [header] + [_xrow(f) + [d] for f, d in zip(fs, dates, strict=True)]
    add("dates", "founding dates as date cells, serial numbers and several texts",
        _book({"企业": rows}), expect="accounting", records=len(fs),
        rows={"2": "keep", "3": "keep", "4": "keep", "5": "keep", "9": "keep", "10": "keep",
              "11": "keep"})
    fs = firms(12, rng)
    rows = [ZH] + [[f.firm_id, f.name, f.code, f"{f.lon:.6f}", f"{f.lat:.6f}", str(f.employees)]
                   for f in fs]
    add("numbers_as_text", "coordinates and employees stored as text",
        _book({"企业": rows}), expect="clean", records=len(fs), names=[f.name for f in fs])
    fs = firms(12, rng)
    rows = [ZH] + [[f.firm_id, f.name, (int(f.code[1:]) if k % 3 == 0 else
                                        float(f.code[1:]) if k % 3 == 1 else f.code),
                    f.lon, f.lat, f.employees] for k, f in enumerate(fs)]
    add("codes_as_numbers", "industry codes as integers (3911) and floats (6513.0)",
        _book({"企业": rows}), expect="clean", records=len(fs), names=[f.name for f in fs])
    fs = firms(12, rng)
    rows = [ZH] + [_xrow(f) for f in fs]
    rows[2][3], rows[4][4], rows[6][5] = "#N/A", "#VALUE!", "#DIV/0!"
    add("error_values", "Excel error values (#N/A, #VALUE!, #DIV/0!) in cells",
        _book({"企业": rows}), expect="accounting", records=len(fs),
        rows={"3": "reject", "5": "reject", "7": "any"})
    fs = firms(12, rng)
    add("formatted_to_last_row", "a formatted empty cell in row 1,048,576",
        _book({"企业": [ZH] + [_xrow(f) for f in fs]}, formatted_to=("企业", 1_048_576)),
        expect="clean", records=len(fs), names=[f.name for f in fs])
    fs = firms(12, rng)
    add("chartsheet_first", "a chart sheet before the data sheet",
        _book({"企业": [ZH] + [_xrow(f) for f in fs]}, chartsheet_first=True),
        expect="clean", records=len(fs), names=[f.name for f in fs])
    fs = firms(12, rng)
    add("xlsm_suffix", "a workbook saved with the .xlsm suffix",
        _book({"企业": [ZH] + [_xrow(f) for f in fs]}), suffix=".xlsm", expect="clean",
        records=len(fs), names=[f.name for f in fs])
    fs = firms(12, rng)
    rows = [[], [], [None, None], ZH] + [_xrow(f) for f in fs]
    add("header_in_row_4", "three empty rows above the header", _book({"企业": rows}),
        expect="clean", records=len(fs), names=[f.name for f in fs])
    fs = firms(12, rng)
    rows = [ZH] + [_xrow(f) for f in fs]
    rows[3][5], rows[6][5] = True, False
    add("booleans", "TRUE/FALSE cells in the employees column", _book({"企业": rows}),
        expect="accounting", records=len(fs), rows={"4": "any", "7": "any", "2": "keep"})
    cases.append(firms_case(
        "sheets/truncated_zip", "sheets", "a workbook cut in half", "sheets/truncated_zip.xlsx",
        _truncated(_book({"企业": [ZH] + [_xrow(f) for f in firms(12, rng)]})),
        expect="refused", records=0))
    fs = firms(12, rng)
    cases.append(firms_case(
        "sheets/csv_named_xlsx", "sheets", "a CSV file saved with the .xlsx suffix",
        "sheets/csv_named_xlsx.xlsx", csv_text(EN, [f.row() for f in fs]).encode(),
        expect="refused", records=len(fs)))
    return cases


def _truncated(writer):
    def write(path: Path) -> None:
        writer(path)
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])

    return write


# ----- geometries


def _gdf(records, geometries, crs="EPSG:4326"):
    import geopandas as gpd

    return gpd.GeoDataFrame(records, geometry=list(geometries), crs=crs)


def _layer_writer(frame_fn, *, driver=None, layer=None, prj=None, cpg=None):
    """A writer of a vector file; ``prj`` replaces a Shapefile's .prj (None: keep, '': drop)."""

    def write(path: Path) -> None:
        import pyogrio

        frame = frame_fn()
        kwargs = {}
        if layer:
            kwargs["layer"] = layer
        pyogrio.write_dataframe(frame, path, driver=driver, **kwargs)
        if path.suffix == ".shp":
            if prj == "":
                path.with_suffix(".prj").unlink(missing_ok=True)
            elif prj is not None:
                path.with_suffix(".prj").write_text(prj)

    return write


def _raw_writer(data: bytes | str):
    def write(path: Path) -> None:
        path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))

    return write


def _square(lon, lat, half=0.01):
    import shapely

    return shapely.box(lon - half, lat - half, lon + half, lat + half)


ZONE_RUNS = [
    {"argv": ["map", "{file}", "--offline", "--out", "{out}/map.html"]},
    {"argv": ["index", "zonal", "--firms", "{corpus}/common/firms_clean.csv", "--zones",
              "{file}", "--out", "{out}/zonal.xlsx"]},
    {"argv": ["export", "{file}", "-f", "kml", "--out", "{out}/kml"]},
]


def zone_case(cid, category, description, filename, writer, *, expect, runs=None, **params):
    return Case(cid, category, "zones", description, {filename: writer},
                runs or [dict(r) for r in ZONE_RUNS], expect, None, params)


def _zone_records(n, rng_, **extra):
    return {"zone_id": [f"Z{k + 1:02d}" for k in range(n)],
            "name_zh": [f"测试园区{k + 1}" for k in range(n)],
            "name_en": [f"Test park {k + 1}" for k in range(n)], **extra}


def geometry_cases() -> list[Case]:
    import shapely

    rng = _rng("geometries")
    cases = []
    centres = ANCHORS[:6]
    sq = [_square(x, y) for x, y in centres]

    def zones(cid, description, frame_fn, *, expect, suffix=".geojson", stem="platforms",
              driver=None, **params):
        cases.append(zone_case(f"geometries/{cid}", "geometries", description,
                               f"geometries/{cid}/{stem}{suffix}",
                               _layer_writer(frame_fn, driver=driver), expect=expect, **params))

    zones("points_as_zones", "a 'platforms' file of points",
          lambda: _gdf(_zone_records(6, rng), [shapely.Point(x, y) for x, y in centres]),
          expect="zones_wrong_type")
    zones("lines_as_zones", "a 'towns' GeoPackage of lines", lambda: _gdf(
        _zone_records(6, rng), [shapely.LineString([(x, y), (x + .02, y + .01)])
                                for x, y in centres]),
        suffix=".gpkg", stem="towns", expect="zones_wrong_type")
    zones("multipoints_as_zones", "multipoints as zones", lambda: _gdf(
        _zone_records(3, rng), [shapely.MultiPoint([(x, y), (x + .01, y)])
                                for x, y in centres[:3]]), expect="zones_wrong_type")
    zones("mixed_polygons_points", "polygons and points in one zone file", lambda: _gdf(
        _zone_records(6, rng), sq[:4] + [shapely.Point(x, y) for x, y in centres[4:]]),
        expect="zones_wrong_type")
    bowtie = [shapely.Polygon([(x - .01, y - .01), (x + .01, y + .01), (x + .01, y - .01),
                               (x - .01, y + .01)]) for x, y in centres]
    zones("self_intersecting", "self-intersecting bow-tie polygons",
          lambda: _gdf(_zone_records(6, rng), bowtie), expect="zones_ok")
    zones("self_intersecting_gpkg", "self-intersecting polygons in a GeoPackage",
          lambda: _gdf(_zone_records(6, rng), bowtie), suffix=".gpkg", stem="towns",
          expect="zones_ok")
    hourglass_hole = [shapely.Polygon(s.exterior.coords, [list(s.buffer(.02).exterior.coords)])
                      for s in sq[:3]]
    zones("hole_outside_shell", "polygons whose hole lies outside the shell",
          lambda: _gdf(_zone_records(3, rng), hourglass_hole), expect="zones_any")
    zones("empty_geometries", "two features with empty geometries", lambda: _gdf(
        _zone_records(6, rng), sq[:4] + [shapely.Polygon(), shapely.Polygon()]),
        expect="zones_any")
    zones("null_geometries", "two features with null geometry", lambda: _gdf(
        _zone_records(6, rng), sq[:4] + [None, None]), expect="zones_any")
    zones("all_null", "every geometry null", lambda: _gdf(_zone_records(3, rng),
                                                          [None] * 3), expect="zones_any")
    zones("huge_coordinates", "coordinates of 1e300", lambda: _gdf(
        _zone_records(3, rng), [shapely.box(1e299, 1e299, 1e300, 1e300)] * 3),
        expect="zones_any")
    zones("huge_projected", "a 4549 GeoPackage with coordinates of 1e12 metres", lambda: _gdf(
        _zone_records(3, rng), [shapely.box(1e12, 1e12, 1e12 + 5000, 1e12 + 5000)] * 3,
        crs="EPSG:4549"), suffix=".gpkg", expect="zones_any")
    zones("nan_vertex", "a polygon with a NaN vertex", lambda: _gdf(
        _zone_records(3, rng), sq[:2] + [shapely.Polygon(
            [(120.1, 30.2), (float("nan"), 30.25), (120.2, 30.25), (120.1, 30.2)])]),
        suffix=".gpkg", expect="zones_any")
    zones("duplicate_ids", "two zones with the same id", lambda: _gdf(
        {"zone_id": ["A", "B", "A"], "name_zh": ["甲", "乙", "丙"]}, sq[:3]), expect="zones_any")
    zones("outside_study_area", "zones in Beijing", lambda: _gdf(
        _zone_records(3, rng), [_square(116.4 + k * .05, 39.9) for k in range(3)]),
        expect="zones_any")
    zones("polygon_z", "3D polygons", lambda: _gdf(
        _zone_records(3, rng), [shapely.force_3d(s, 42.0) for s in sq[:3]]), expect="zones_ok")
    zones("geometry_collection", "a geometry collection of a polygon and a point",
          lambda: _gdf(_zone_records(2, rng), [
              shapely.GeometryCollection([sq[0], shapely.Point(120, 30.2)]), sq[1]]),
          suffix=".gpkg", expect="zones_any")
    zones("many_vertices", "a polygon with 50,000 vertices", lambda: _gdf(
        _zone_records(1, rng), [shapely.Point(120.15, 30.27).buffer(0.05, quad_segs=12_500)]),
        expect="zones_ok")
    zones("no_attributes", "polygons with no attribute columns at all",
          lambda: _gdf({}, sq[:3]), expect="zones_ok")
    zones("collapsed_polygon", "a zero-area polygon (all vertices on a line)", lambda: _gdf(
        _zone_records(2, rng), [sq[0], shapely.Polygon([(120, 30), (120.1, 30.1), (120.2, 30.2)])]),
        expect="zones_any")
    zones("tiny_polygons", "polygons a millionth of a degree across", lambda: _gdf(
        _zone_records(3, rng), [_square(x, y, 1e-7) for x, y in centres[:3]]), expect="zones_any")
    cases.append(zone_case(
        "geometries/zones_geojson_garbage", "geometries", "a .geojson file that is not JSON",
        "geometries/zones_geojson_garbage/platforms.geojson",
        _raw_writer('{"type": "FeatureCollection", "features": [{"type": "Feature", "geo'),
        expect="zones_any"))

    # firms as point layers
    def pts(cid, description, frame_fn, *, expect, records, suffix=".geojson", **params):
        cases.append(firms_case(f"geometries/{cid}", "geometries", description,
                                f"geometries/{cid}{suffix}", _layer_writer(frame_fn),
                                expect=expect, records=records, **params))

    def firm_frame(fs, geoms, crs="EPSG:4326"):
        return _gdf({"firm_id": [f.firm_id for f in fs], "name": [f.name for f in fs],
                     "industry_code": [f.code for f in fs],
                     "employees": [f.employees for f in fs]}, geoms, crs)

    fs = firms(12, rng)
    geoms = [shapely.Point(f.lon, f.lat) for f in fs]
    pts("firms_null_geometry", "two firms with null geometry",
        lambda fs=fs, g=geoms: firm_frame(fs, g[:10] + [None, None]), expect="accounting",
        records=12, rows={"12": "reject", "13": "reject", "2": "keep"})
    fs = firms(12, rng)
    geoms = [shapely.Point(f.lon, f.lat) for f in fs]
    pts("firms_empty_points", "two firms with empty points",
        lambda fs=fs, g=geoms: firm_frame(fs, g[:10] + [shapely.Point(), shapely.Point()]),
        suffix=".gpkg", expect="accounting", records=12, rows={"12": "reject", "13": "reject"})
    fs = firms(12, rng)
    geoms = [shapely.Point(f.lon, f.lat) for f in fs]
    pts("firms_polygon_among_points", "one polygon among the firm points",
        lambda fs=fs, g=geoms: firm_frame(fs, g[:11] + [_square(120.15, 30.27)]),
        suffix=".gpkg", expect="accounting", records=12)
    fs = firms(12, rng)
    geoms = [shapely.Point(f.lon, f.lat) for f in fs]
    pts("firms_multipoint_two", "one firm as a multipoint of two points",
        lambda fs=fs, g=geoms: firm_frame(fs, g[:11] + [shapely.MultiPoint(
            [(120.15, 30.27), (120.2, 30.2)])]), suffix=".gpkg", expect="accounting",
        records=12, rows={"13": "any", "2": "keep"})
    fs = firms(12, rng)
    geoms = [shapely.Point(f.lon, f.lat) for f in fs]
    pts("firms_huge_coordinates", "two firms at 1e300", lambda fs=fs, g=geoms: firm_frame(
        fs, g[:10] + [shapely.Point(1e300, 1e300), shapely.Point(-1e300, 3e38)]),
        suffix=".gpkg", expect="accounting", records=12, rows={"12": "reject", "13": "reject"})
    fs = firms(12, rng)
    geoms = [shapely.Point(f.lon, f.lat) for f in fs]
    pts("firms_nan_points", "two firms at NaN", lambda fs=fs, g=geoms: firm_frame(
        fs, g[:10] + [shapely.Point(float("nan"), 30.2), shapely.Point(float("inf"), 30.2)]),
        suffix=".gpkg", expect="accounting", records=12, rows={"12": "reject", "13": "reject"})
    fs = firms(12, rng)
    pts("firms_points_z", "3D points", lambda fs=fs: firm_frame(
        fs, [shapely.Point(f.lon, f.lat, 12.5) for f in fs]), suffix=".gpkg", expect="clean",
        records=12)
    fs = firms(12, rng)
    pts("firms_all_polygons", "a firms file of polygons", lambda fs=fs: firm_frame(
        fs, [_square(f.lon, f.lat, 0.001) for f in fs]), expect="refused", records=12)
    fs = firms(12, rng)
    features = [{"type": "Feature", "properties": {"firm_id": f.firm_id, "name": f.name,
                                                   "industry_code": f.code},
                 "geometry": {"type": "Point", "coordinates": [f.lat, f.lon]}} for f in fs]
    doc = {"type": "FeatureCollection",
           "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::4326"}},
           "features": features}
    cases.append(firms_case(
        "geometries/firms_latlon_urn", "geometries",
        "GeoJSON with the EPSG::4326 URN and lat/lon coordinate order",
        "geometries/firms_latlon_urn.geojson", json.dumps(doc, ensure_ascii=False).encode(),
        expect="accounting", records=12))
    fs = firms(12, rng)
    features = [{"type": "Feature", "properties": {"firm_id": f.firm_id, "name": f.name,
                                                   "industry_code": f.code, "lon": f.lon,
                                                   "lat": f.lat}, "geometry": None} for f in fs]
    cases.append(firms_case(
        "geometries/firms_no_geometry_lonlat", "geometries",
        "GeoJSON features without geometry but with lon/lat properties",
        "geometries/firms_no_geometry_lonlat.geojson",
        json.dumps({"type": "FeatureCollection", "features": features}).encode(),
        expect="clean", records=12))
    return cases


# ----- coordinate systems

LOCAL_CS = ('LOCAL_CS["Hangzhou site grid",LOCAL_DATUM["Site datum",32767],'
            'UNIT["metre",1],AXIS["Easting",EAST],AXIS["Northing",NORTH]]')
ESRI_CGCS2000_GK = (
    'PROJCS["CGCS2000_3_Degree_GK_CM_120E",GEOGCS["GCS_China_Geodetic_Coordinate_System_2000",'
    'DATUM["D_China_2000",SPHEROID["CGCS2000",6378137.0,298.257222101]],'
    'PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]],'
    'PROJECTION["Gauss_Kruger"],PARAMETER["False_Easting",500000.0],'
    'PARAMETER["False_Northing",0.0],PARAMETER["Central_Meridian",120.0],'
    'PARAMETER["Scale_Factor",1.0],PARAMETER["Latitude_Of_Origin",0.0],UNIT["Meter",1.0]]')


def crs_cases() -> list[Case]:
    import shapely
    from pyproj import Transformer

    rng = _rng("crs")
    cases = []
    to4549 = Transformer.from_crs("EPSG:4326", "EPSG:4549", always_xy=True)
    to3857 = Transformer.from_crs("EPSG:4326", "EPSG:3857", always_xy=True)

    def firm_frame(fs, crs="EPSG:4326", project=None):
        geoms = []
        for f in fs:
            x, y = project(f.lon, f.lat) if project else (f.lon, f.lat)
            geoms.append(shapely.Point(x, y))
        return _gdf({"firm_id": [f.firm_id for f in fs], "name": [f.name for f in fs],
                     "industry_code": [f.code for f in fs]}, geoms, crs)

    def shp(cid, description, fs, prj, *, expect, project=None, crs="EPSG:4326", **params):
        cases.append(firms_case(
            f"crs/{cid}", "crs", description, f"crs/{cid}/firms.shp",
            _layer_writer(lambda: firm_frame(fs, crs, project), prj=prj), expect=expect,
            records=len(fs), **params))

    shp("firms_local_cs_prj", "a firms Shapefile whose .prj is a LOCAL_CS", firms(10, rng),
        LOCAL_CS, expect="accounting", project=to4549.transform, crs="EPSG:4549")
    shp("firms_no_prj", "a firms Shapefile without .prj (WGS84 degrees)", firms(10, rng), "",
        expect="clean")
    shp("firms_garbage_prj", "a .prj that is not WKT", firms(10, rng), "这不是坐标系 ???",
        expect="accounting")
    shp("firms_esri_cgcs2000_gk", "an ESRI-style CGCS2000 3-degree GK CM 120E .prj (metres)",
        firms(10, rng), ESRI_CGCS2000_GK, expect="clean", project=to4549.transform,
        crs="EPSG:4549")
    cases.append(zone_case(
        "crs/zones_local_cs_prj", "crs", "a zone Shapefile whose .prj is a LOCAL_CS",
        "crs/zones_local_cs_prj/platforms.shp",
        _layer_writer(lambda: _gdf(_zone_records(3, rng), [shapely.box(*to4549.transform(
            x - .01, y - .01), *to4549.transform(x + .01, y + .01)) for x, y in ANCHORS[:3]],
            "EPSG:4549"), prj=LOCAL_CS), expect="zones_any"))
    cases.append(zone_case(
        "crs/zones_no_crs_metres", "crs", "a zone Shapefile in metres without .prj",
        "crs/zones_no_crs_metres/platforms.shp",
        _layer_writer(lambda: _gdf(_zone_records(3, rng), [shapely.box(*to4549.transform(
            x - .01, y - .01), *to4549.transform(x + .01, y + .01)) for x, y in ANCHORS[:3]],
            "EPSG:4549"), prj=""), expect="zones_any"))
    cases.append(zone_case(
        "crs/zones_coords_vertical", "crs", "a zone file with --zones-coords EPSG:5773",
        "crs/zones_coords_vertical/zones.geojson",
        _layer_writer(lambda: _gdf(_zone_records(3, rng), [_square(x, y) for x, y in
                                                           ANCHORS[:3]])),
        expect="zones_any", runs=[{"argv": [
            "index", "zonal", "--firms", "{corpus}/common/firms_clean.csv", "--zones", "{file}",
            "--zones-coords", "EPSG:5773", "--out", "{out}/zonal.xlsx"]}]))

    def csvcase(cid, description, fs, *, rows_fn=None, header=EN, cli=(), read=None,
                expect, **params):
        rows = rows_fn(fs) if rows_fn else [f.row() for f in fs]
        cases.append(firms_case(f"crs/{cid}", "crs", description, f"crs/{cid}.csv",
                                csv_text(header, rows).encode(), expect=expect,
                                records=len(fs), cli=cli, read=read, **params))

    # a vertical, local or geocentric CRS must be refused as such, not accepted and then
    # reported as swapped columns
    for cid, coords, expect, forbid in (
        ("coords_vertical_5773", "EPSG:5773", "refused", ["swap"]),
        ("coords_compound_9705", "EPSG:9705", "accounting", []),
        ("coords_unknown_epsg", "EPSG:999999", "refused", []),
        ("coords_proj_string", "+proj=longlat +datum=WGS84", "accounting", []),
        ("coords_local_cs_wkt", LOCAL_CS, "refused", ["swap"]),
        ("coords_geocentric", "EPSG:4978", "refused", ["swap"]),
        ("coords_empty", "", "accounting", []),
    ):
        csvcase(cid, f"--coords {coords[:40]!r}", firms(10, rng), cli=("--coords", coords),
                read={"coords": coords}, expect=expect, forbid=forbid)
    csvcase("swapped_lonlat", "latitude in the lon column and longitude in lat", firms(10, rng),
            rows_fn=lambda fs: [f.row(lon=f"{f.lat:.6f}", lat=f"{f.lon:.6f}") for f in fs],
            expect="refused", hints=["swap", "交换", "互换"])
    csvcase("projected_4549_declared", "CGCS2000 GK metres with --coords 4549", firms(10, rng),
            rows_fn=lambda fs: [f.row(lon=f"{to4549.transform(f.lon, f.lat)[0]:.2f}",
                                      lat=f"{to4549.transform(f.lon, f.lat)[1]:.2f}") for f in fs],
            cli=("--coords", "4549"), read={"coords": "4549"}, expect="clean")
    csvcase("projected_4549_undeclared", "CGCS2000 GK metres without --coords", firms(10, rng),
            rows_fn=lambda fs: [f.row(lon=f"{to4549.transform(f.lon, f.lat)[0]:.2f}",
                                      lat=f"{to4549.transform(f.lon, f.lat)[1]:.2f}") for f in fs],
            expect="refused", hints=["4549", "projected", "投影"])
    csvcase("web_mercator_undeclared", "Web Mercator metres without --coords", firms(10, rng),
            rows_fn=lambda fs: [f.row(lon=f"{to3857.transform(f.lon, f.lat)[0]:.2f}",
                                      lat=f"{to3857.transform(f.lon, f.lat)[1]:.2f}") for f in fs],
            expect="refused")
    csvcase("degrees_declared_4549", "degrees with --coords 4549", firms(10, rng),
            cli=("--coords", "4549"), read={"coords": "4549"}, expect="refused")
    csvcase("gcj02_declared", "GCJ-02 degrees with --coords gcj02", firms(10, rng),
            cli=("--coords", "gcj02"), read={"coords": "gcj02"}, expect="accounting")
    fs = firms(10, rng)
    cases.append(firms_case(
        "crs/gpkg_4490", "crs", "a firms GeoPackage in CGCS2000 geographic (EPSG:4490)",
        "crs/firms_4490.gpkg", _layer_writer(lambda fs=fs: firm_frame(fs, "EPSG:4490")),
        expect="clean", records=len(fs)))
    fs = firms(10, rng)
    cases.append(firms_case(
        "crs/gpkg_4549", "crs", "a firms GeoPackage in EPSG:4549 metres",
        "crs/firms_4549.gpkg",
        _layer_writer(lambda fs=fs: firm_frame(fs, "EPSG:4549", to4549.transform)),
        expect="clean", records=len(fs)))
    for cid, acrs in (("analysis_crs_vertical", "EPSG:5773"), ("analysis_crs_local", LOCAL_CS),
                      ("analysis_crs_geographic", "EPSG:4326")):
        cases.append(Case(
            f"crs/{cid}", "crs", "index zonal", f"--analysis-crs {acrs[:30]!r}", {},
            [{"argv": ["index", "zonal", "--firms", "{corpus}/common/firms_clean.csv",
                       "--analysis-crs", acrs, "--out", "{out}/zonal.xlsx"]}],
            "no_traceback", None, {}))
    return cases


# ----- numbers


def number_cases() -> list[Case]:
    rng = _rng("numbers")
    cases = []
    header = list(EN) + ["revenue", "注册资本"]

    def add(cid, description, column, planted, *, rows_expect=None, values=None,
            expect="accounting"):
        """``planted``: values for rows 2.. of ``column`` (the rest ordinary)."""
        fs = firms(max(12, len(planted) + 3), rng)
        rows = []
        for k, f in enumerate(fs):
            row = f.row() + [str(100 * (k + 1)), "500万元人民币"]
            if k < len(planted):
                value = planted[k]
                row[header.index(column)] = value(f) if callable(value) else value
            rows.append(row)
        cases.append(firms_case(
            f"numbers/{cid}", "numbers", description, f"numbers/{cid}.csv",
            csv_text(header, rows).encode("utf-8"), expect=expect, records=len(fs),
            rows=rows_expect or {}, values=values or {}))

    add("employees_1e15", "employee counts of 1e15 and 2,000,000,000", "employees",
        ["1e15", "1000000000000000", "2000000000", "50"],
        rows_expect={"2": "flag_or_reject", "3": "flag_or_reject", "4": "flag_or_reject",
                     "5": "keep"})
    add("employees_negative", "negative employee counts", "employees", ["-5", "-0", "-1e3"],
        rows_expect={"2": "reject", "4": "reject"})
    add("employees_nan_inf", "NaN and infinity as text", "employees",
        ["NaN", "inf", "-inf", "Infinity", "nan", "1e400"],
        rows_expect={"3": "flag_or_reject", "4": "flag_or_reject", "5": "flag_or_reject",
                     "7": "flag_or_reject"})
    add("lon_nan_inf", "NaN and infinity as longitude", "lon",
        ["NaN", "inf", "-inf", "1e400", "nan"],
        rows_expect={str(r): "reject" for r in range(2, 7)})
    add("lat_nan_inf", "NaN and infinity as latitude", "lat", ["NaN", "Infinity", "-1e999"],
        rows_expect={str(r): "reject" for r in range(2, 5)})
    add("fullwidth_digits", "full-width digits in employees", "employees",
        ["１２３", "４５", "７"], values={"2": {"employees": 123}, "3": {"employees": 45},
                                       "4": {"employees": 7}})
    add("fullwidth_coordinates", "full-width digits in longitude", "lon",
        [lambda f: f"{f.lon:.6f}".translate(_FULLWIDTH)] * 2)
    add("fullwidth_codes", "full-width industry codes", "industry_code",
        ["Ｃ３９１１", "３９１１", "Ｉ６５１３"],
        rows_expect={"2": "keep", "3": "keep", "4": "keep"})
    add("thousands_separators", "thousands separators in employees", "employees",
        ["1,234", "12,345", "1 234", "1,23,456", "1.234", "1'234"],
        values={"2": {"employees": 1234}, "3": {"employees": 12345}})
    add("scientific_notation", "科学计数法 in employees", "employees",
        ["1.2E+03", "1.2e3", "5E+1", "3.0e+00"],
        values={"2": {"employees": 1200}, "3": {"employees": 1200}, "4": {"employees": 50},
                "5": {"employees": 3}})
    add("scientific_coordinates", "科学计数法 in longitude", "lon",
        [lambda f: f"{f.lon / 100:.8f}E+02", lambda f: f"{f.lon / 100:.8f}e2"],
        rows_expect={"2": "keep", "3": "keep"})
    add("scientific_credit_code", "credit codes mangled by Excel into 9.13301E+17", "firm_id",
        ["9.13301E+17", "9.13301E+17", "9.13301E+17"], rows_expect={"2": "any", "3": "any"})
    add("chinese_numerals", "Chinese numerals and units in employees", "employees",
        ["一百二十", "约50人", "50人", "二十余人", "百"])
    add("revenue_extremes", "revenue of 1e15, negative and NaN", "revenue",
        ["1e15", "-100", "NaN", "1e308", "1e309"])
    add("capital_extremes", "registered capital of 1e15 万元 and nonsense", "注册资本",
        ["1e15万元", "-500万元", "五百万元", "100万美元", "NaN万元", "500万元人民币"])
    add("decimal_comma_coordinates", "decimal commas in quoted coordinates", "lat",
        [lambda f: f"{f.lat:.6f}".replace(".", ",")] * 2)
    add("degrees_minutes_seconds", "coordinates as degrees, minutes and seconds", "lon",
        [lambda f: _dms(f.lon, "°", "′", "″"), lambda f: _dms(f.lon, "°", "'", '"') + "E",
         lambda f: _dms(f.lon, "度", "分", "秒")])
    add("many_decimals", "coordinates with 30 decimals", "lon",
        [lambda f: f"{f.lon:.6f}" + "000000000000000000000001"] * 2,
        rows_expect={"2": "keep", "3": "keep"})
    add("employees_float", "fractional employee counts", "employees", ["12.5", "0.001", "3.0"])
    add("codes_invalid", "codes that do not exist, or half-valid", "industry_code",
        ["C9999", "Z3911", "39", "C", "=C3911", "C3911C3911", "3911.0"],
        rows_expect={"2": "flag_or_reject", "3": "flag_or_reject"})
    return cases


_FULLWIDTH = str.maketrans("0123456789.", "０１２３４５６７８９．")


def _dms(value: float, d: str, m: str, s: str) -> str:
    degrees = int(value)
    minutes = int((value - degrees) * 60)
    seconds = (value - degrees - minutes / 60) * 3600
    return f"{degrees}{d}{minutes:02d}{m}{seconds:05.2f}{s}"


# ----- names with markup and formulas


def _firms_layer(fs, payload_name, payload):
    """A firms layer as `geo seed`/`geo validate` write it, with payloads in text fields."""
    import shapely

    groups = {"C": "manufacturing", "G": "producer_services", "I": "producer_services",
              "J": "producer_services", "L": "producer_services", "M": "producer_services"}
    fields = {"C39": "", "I": "digital", "M": "tech", "J": "finance", "G": "logistics",
              "L": "business"}
    records = {
        "firm_id": [f.firm_id for f in fs],
        "name": [payload if k % 2 == 0 else f.name for k, f in enumerate(fs)],
        "industry_code": [f.code for f in fs],
        "section": [f.code[0] for f in fs],
        "division": [f.code[:3] for f in fs],
        "group": [groups.get(f.code[0], "other") for f in fs],
        "field": [next((v for k, v in fields.items() if f.code.startswith(k) and v), None)
                  for f in fs],
        "high_tech": [f.code.startswith(("C39", "C27")) for f in fs],
        "employees": [float(f.employees) for f in fs],
        "address": [payload] * len(fs),
        "reported_district": [payload] * len(fs),
        "flag_en": [payload] + [None] * (len(fs) - 1),
        "synthetic": [True] * len(fs),
        payload_name[:20]: [payload] * len(fs),
    }
    return lambda: _gdf(records, [shapely.Point(f.lon, f.lat) for f in fs])


ZONE_TEXT_FIELDS = ("name_zh", "name_en", "kind", "source", "accuracy", "focus_field",
                    "district_name_zh", "reason_zh", "reason_en", "label_zh", "label_en",
                    "dominant_field", "top_industries", "district", "platform", "town",
                    "method")


def _zones_layer(payload, n=4, rng=None):
    records = {"zone_id": [f"Z{k + 1}" for k in range(n)]}
    for name in ZONE_TEXT_FIELDS:
        records[name] = [payload if k != 1 else f"园区{k}" for k in range(n)]
    records["area_km2"] = [4.0] * n
    squares = [_square(x, y, 0.02) for x, y in ANCHORS[:n]]
    return lambda: _gdf(records, squares)


def name_cases() -> list[Case]:
    rng = _rng("names")
    cases = []
    layer_stems = ("towns", "platforms", "districts", "site_zones", "ps_clusters")
    for k, (pid, payload) in enumerate(PAYLOADS.items()):
        # index tables carry zone names; spreadsheets matter for formula-like text
        formula = pid in FORMULA_PAYLOADS
        # 1. a register with the payload as names: kept rows and rejected rows carry it
        fs = firms(10, rng)
        rows = []
        for i, f in enumerate(fs):
            row = f.row()
            if i % 2 == 0:
                row[1] = payload
            if i in (2, 3):
                row[3] = "200.5"  # outside: rejected, so the payload reaches rejects.csv
            if i == 5:
                row[3:5] = ["0", "0"]
            rows.append(row)
        header = list(EN) + ["address"]
        rows = [r + [payload] for r in rows]
        cases.append(Case(
            f"names/{pid}/register", "names", "firms",
            f"register with {pid} names, some rows rejected",
            {f"names/{pid}/register.csv": csv_text(header, rows).encode("utf-8")},
            validate_runs() + ([{"argv": [
                "index", "zonal", "--firms", "{file}", "--out", "{out}/zonal.xlsx"]}]
                if formula else []),
            "accounting", {"path": "{file}"},
            {"records": len(fs), "rows": {"4": "reject", "5": "reject", "7": "reject",
                                          "2": "keep" if pid != "long_100k" else "any"}}))
        # 2. a firms layer drawn and exported
        fs = firms(6, rng)
        cases.append(Case(
            f"names/{pid}/firms_layer", "names", "layer", f"firms layer with {pid} names",
            {f"names/{pid}/firms_layer/firms.geojson":
                _layer_writer(_firms_layer(fs, pid, payload))},
            [{"argv": ["map", "{file}", "--offline", "--out", "{out}/map.html"],
              "expect_exit": [0], "browser": True},
             {"argv": ["export", "{file}", "-f", "kml", "--out", "{out}/kml"], "expect_exit": [0]},
             {"argv": ["export", "{file}", "-f", "kmz", "--out", "{out}/kmz"], "expect_exit": [0]},
             {"argv": ["export", "{file}", "-f", "xlsx", "--out", "{out}/x.xlsx"],
              "expect_exit": [0]},
             {"argv": ["export", "{file}", "-f", "csv", "--out", "{out}/csv"], "expect_exit": [0]},
             {"argv": ["export", "{file}", "-f", "shp", "--out", "{out}/shp"],
              "expect_exit": [0]}],
            "outputs_safe"))
        # 3. a zone layer drawn, exported and used for indices
        stem = layer_stems[k % len(layer_stems)]
        cases.append(Case(
            f"names/{pid}/zones_layer", "names", "zones", f"{stem} layer with {pid} in every text",
            {f"names/{pid}/zones_layer/{stem}.geojson": _layer_writer(_zones_layer(payload))},
            [{"argv": ["map", "{file}", "--offline", "--out", "{out}/map.html"],
              "expect_exit": [0], "browser": True},
             {"argv": ["export", "{file}", "-f", "kml", "--out", "{out}/kml"], "expect_exit": [0]},
             {"argv": ["export", "{file}", "-f", "xlsx", "--out", "{out}/x.xlsx"],
              "expect_exit": [0]},
             {"argv": ["export", "{file}", "-f", "csv", "--out", "{out}/csv"], "expect_exit": [0]}]
            + ([{"argv": ["index", "zonal", "--firms", "{corpus}/common/firms_clean.csv",
                          "--zones", "{file}", "--out", "{out}/zonal.xlsx"], "expect_exit": [0]},
                {"argv": ["index", "zonal", "--firms", "{corpus}/common/firms_clean.csv",
                          "--zones", "{file}", "--out", "{out}/zonal.csv"], "expect_exit": [0]}]
               if formula else []),
            "outputs_safe"))
    # payloads as column names
    fs = firms(10, rng)
    header = list(EN) + ["<img src=x onerror=alert(1)>", "=HYPERLINK(\"http://evil.example\")",
                         "@cmd", "-2+3"]
    rows = [f.row() + ["x", "y", "z", "w"] for f in fs]
    rows[3][3] = "999"  # one rejected row so the header reaches rejects.csv
    cases.append(Case(
        "names/header_payloads/register", "names", "firms",
        "markup and formulas as column names of a register",
        {"names/header_payloads/register.csv": csv_text(header, rows).encode()},
        validate_runs(), "accounting", {"path": "{file}"}, {"records": len(fs)}))
    cases.append(Case(
        "names/header_payloads/zones_layer", "names", "zones",
        "markup and formulas as column names of a zone layer",
        {"names/header_payloads/zones_layer/towns.geojson": _layer_writer(lambda: _gdf(
            {"zone_id": ["A", "B"], "name_zh": ["甲", "乙"],
             "<img src=x onerror=alert(1)>": ["1", "2"], "=HYPERLINK(\"http://evil.example\")":
                 ["3", "4"], "@SUM(1)": ["5", "6"]},
            [_square(120.15, 30.27), _square(120.2, 30.2)]))},
        [{"argv": ["map", "{file}", "--offline", "--out", "{out}/map.html"], "expect_exit": [0],
          "browser": True},
         {"argv": ["export", "{file}", "-f", "kml", "--out", "{out}/kml"], "expect_exit": [0]},
         {"argv": ["export", "{file}", "-f", "xlsx", "--out", "{out}/x.xlsx"], "expect_exit": [0]},
         {"argv": ["export", "{file}", "-f", "csv", "--out", "{out}/csv"], "expect_exit": [0]},
         {"argv": ["export", "{file}", "-f", "shp", "--out", "{out}/shp"], "expect_exit": [0]}],
        "outputs_safe"))
    fs = firms(4, rng)
    cases.append(Case(
        "names/file_name_payload", "names", "layer",
        "a layer file whose name is markup", {
            "names/file_name_payload/<img src=x onerror=alert(1)>.geojson":
                _layer_writer(_firms_layer(fs, "x", "普通名称"))},
        [{"argv": ["map", "{file}", "--offline", "--out", "{out}/map.html"], "browser": True},
         {"argv": ["export", "{file}", "-f", "kml", "--out", "{out}/kml"]},
         {"argv": ["export", "{file}", "-f", "xlsx", "--out", "{out}/x.xlsx"]}],
        "outputs_safe"))
    return cases


# ----- database identifiers


def _layers_gpkg(names, columns=None, *, fmt="gpkg"):
    """A GeoPackage whose layers have any names (GDAL refuses some: renamed with SQL after)."""

    def write(path: Path) -> None:
        import sqlite3

        import pyogrio

        for k in range(len(names)):
            cols = columns or {"name_zh": "园区"}
            frame = _gdf({c: [f"{v}{k}"] * 2 for c, v in cols.items()},
                         [_square(120.15, 30.27), _square(120.2, 30.2)])
            if fmt == "gpkg":
                pyogrio.write_dataframe(frame, path, layer=f"layer_{k}", driver="GPKG",
                                        append=path.exists(), SPATIAL_INDEX="NO")
            else:
                path.write_text(frame.to_json(), encoding="utf-8")
        if fmt != "gpkg":
            return
        with sqlite3.connect(path) as db:
            for k, name in enumerate(names):
                quoted = name.replace('"', '""')
                db.execute(f'ALTER TABLE "layer_{k}" RENAME TO "{quoted}"')
                for table in ("gpkg_contents", "gpkg_geometry_columns", "gpkg_ogr_contents"):
                    db.execute(f"UPDATE {table} SET table_name = ? WHERE table_name = ?",
                               (name, f"layer_{k}"))
                db.execute("UPDATE gpkg_contents SET identifier = ? WHERE table_name = ?",
                           (name, name))

    return write


def _dsn(schema_user="geo", tail="/geo"):
    return f"postgresql://{schema_user}:{SECRET}@{BOGUS_HOST}{tail}"


def database_cases() -> list[Case]:
    cases = []
    dsn = _dsn()
    runs = [
        {"argv": ["export", "{file}", "--to", dsn, "--schema", "geo"]},
        {"argv": ["export", "{file}", "-f", "shp", "--out", "{out}/shp"]},
        {"argv": ["export", "{file}", "-f", "xlsx", "--out", "{out}/x.xlsx"]},
        {"argv": ["export", "{file}", "-f", "csv", "--out", "{out}/csv"]},
        {"argv": ["export", "{file}", "-f", "kml", "--out", "{out}/kml"]},
        {"argv": ["export", "{file}", "-f", "gpkg", "--out", "{out}/out.gpkg"]},
    ]
    base63 = "hangzhou_producer_service_agglomeration_zone_candidates_ranked_"
    assert len(base63) == 63
    base54 = "hangzhou_producer_service_agglomeration_zone_candidate"[:54]
    layer_sets = {
        "layers_share_63_bytes": [base63 + "by_demand", base63 + "by_supply"],
        "layers_share_54_bytes": [base54 + "_a", base54 + "_b"],
        "layers_chinese_long": ["杭州市生产性服务业集聚区候选地块按未满足需求排序甲",
                                "杭州市生产性服务业集聚区候选地块按未满足需求排序乙"],
        "layers_reserved_words": ["select", "user", "order", "table", "spatial_ref_sys",
                                  "layer_styles"],
        "layers_quotes": ["it's \"quoted\"", "a;b", "x.y", "带 空格", "Upper", "MiXeD"],
        "layers_paths": ["../../escape", "a/b", ".hidden", "con", "x" * 250],
    }
    for cid, names in layer_sets.items():
        cases.append(Case(f"dbids/{cid}", "database_identifiers", "layers",
                          f"layer names: {', '.join(n[:24] for n in names)}",
                          {f"dbids/{cid}.gpkg": _layers_gpkg(names)},
                          [dict(r) for r in runs], "no_traceback", None,
                          # QGIS's style table is not data: geo skips a layer of that name
                          {"layers": len([n for n in names if n != "layer_styles"])}))
    long_col = "registered_capital_in_ten_thousands_of_the_currency_declared_at"
    column_sets = {
        "columns_share_63_bytes": {long_col + "_2019": "a", long_col + "_2020": "b"},
        "columns_chinese_share_prefix": {"生产性服务业企业数量": "1", "生产性服务业从业人员": "2",
                                         "生产性服务业营业收入合计按区县汇总统计口径说明甲": "3",
                                         "生产性服务业营业收入合计按区县汇总统计口径说明乙": "4"},
        "columns_reserved": {"select": "1", "from": "2", "geom": "3", "geometry": "4",
                             "Name": "5", "Description": "6", "lon": "7", "wkt": "8",
                             "label_lon": "9"},
        "columns_quotes": {"a\"b": "1", "it's": "2", "x;y": "3", "tab\there": "4",
                           "new\nline": "5", "=cmd": "6", "<img src=x onerror=alert(1)>": "7"},
    }
    for cid, columns in column_sets.items():
        fmt = "gpkg" if cid == "columns_share_63_bytes" else "geojson"
        cases.append(Case(f"dbids/{cid}", "database_identifiers", "layers",
                          f"column names: {', '.join(c[:20] for c in columns)}",
                          {f"dbids/{cid}/zones.{fmt}": _layers_gpkg(["zones"], columns, fmt=fmt)},
                          [dict(r) for r in runs], "no_traceback", None, {"layers": 1}))
    for cid, schema in (("schema_pg_x", "pg_x"), ("schema_empty", ""),
                        ("schema_quotes", 'a"b'), ("schema_70_bytes", "s" * 70),
                        ("schema_public", "public"), ("schema_information", "information_schema"),
                        ("schema_pg_catalog", "pg_catalog"),
                        ("schema_injection", "geo; DROP SCHEMA public CASCADE; --"),
                        ("schema_chinese_long", "杭州市生产性服务业" * 4)):
        cases.append(Case(f"dbids/{cid}", "database_identifiers", "dsn",
                          f"--schema {schema!r}", {},
                          [{"argv": ["export", "{corpus}/common/zones_small.geojson", "--to", dsn,
                                     "--schema", schema]}], "no_secret", None,
                          {"schema": schema, "layers": 1}))
    return cases


def secret_cases() -> list[Case]:
    dsns = {
        "plain": _dsn(),
        "psycopg_dialect": f"postgresql+psycopg://geo:{SECRET}@{BOGUS_HOST}/db",
        "psycopg2_dialect": f"postgresql+psycopg2://geo:{SECRET}@{BOGUS_HOST}/db",
        "postgis_scheme": f"postgis://geo:{SECRET}@{BOGUS_HOST}/db",
        "keyword_form": f"host=127.0.0.1 port=9 user=geo password={SECRET} dbname=db",
        "password_in_query": f"postgresql://geo@{BOGUS_HOST}/db?password={SECRET}",
        "percent_encoded": f"postgresql://geo:SEC%52ET@{BOGUS_HOST}/db",
        "bad_port": f"postgresql://geo:{SECRET}@127.0.0.1:notaport/db",
        "port_out_of_range": f"postgresql://geo:{SECRET}@127.0.0.1:99999/db",
        "ipv6": f"postgresql://geo:{SECRET}@[::1]:9/db",
        "bad_option": f"postgresql://geo:{SECRET}@{BOGUS_HOST}/db?sslmode=bogus",
        "bad_timeout": f"postgresql://geo:{SECRET}@{BOGUS_HOST}/db?connect_timeout=abc",
        "no_user": f"postgresql://:{SECRET}@{BOGUS_HOST}/db",
        "socket_dir": f"postgresql://geo:{SECRET}@/db?host=/nonexistent/socket",
        "unicode_password": f"postgresql://geo:{SECRET}密码@{BOGUS_HOST}/db",
        "at_in_password": f"postgresql://geo:{SECRET}@x@{BOGUS_HOST}/db",
        "trailing_space": f" postgresql://geo:{SECRET}@{BOGUS_HOST}/db ",
        "newline": f"postgresql://geo:{SECRET}@{BOGUS_HOST}/db\nx",
    }
    cases = []
    for cid, dsn in dsns.items():
        cases.append(Case(f"secrets/{cid}", "secrets", "dsn", f"--to {cid}", {},
                          [{"argv": ["export", "{corpus}/common/zones_small.geojson", "--to",
                                     dsn], "timeout": 30}], "no_secret"))
    return cases


# ----- file structure


def structure_cases() -> list[Case]:
    rng = _rng("structure")
    cases = []

    def add(cid, description, filename, data, *, expect, records=0, **params):
        cases.append(firms_case(f"structure/{cid}", "structure", description,
                                f"structure/{filename}", data, expect=expect, records=records,
                                **params))

    add("empty_file", "an empty file", "empty_file.csv", b"", expect="refused")
    add("only_bom", "only a UTF-8 BOM", "only_bom.csv", codecs.BOM_UTF8, expect="refused")
    add("only_header", "a header line and nothing else", "only_header.csv",
        (",".join(EN) + "\r\n").encode(), expect="refused")
    add("only_newlines", "only blank lines", "only_newlines.csv", b"\r\n" * 50,
        expect="refused")
    add("binary_garbage", "random bytes", "binary_garbage.csv",
        bytes(rng.integers(0, 256, size=4096, dtype=np.uint8)), expect="refused")
    add("zip_as_csv", "a workbook saved with the .csv suffix", "zip_as_csv.csv",
        _book({"企业": [ZH] + [_xrow(f) for f in firms(5, rng)]}), expect="refused")
    fs = firms(10, rng)
    add("duplicate_columns", "two 经度 columns (the second one empty)", "duplicate_columns.csv",
        csv_text(list(ZH) + ["经度"], [f.row() + [""] for f in fs]).encode(),
        expect="accounting", records=len(fs))
    fs = firms(10, rng)
    add("empty_column_names", "header cells left empty", "empty_column_names.csv",
        csv_text(list(EN) + ["", ""], [f.row() + ["a", "b"] for f in fs]).encode(),
        expect="clean", records=len(fs))
    fs = firms(10, rng)
    wide = list(EN) + [f"c{k}" for k in range(5000)]
    add("five_thousand_columns", "5,000 extra columns", "five_thousand_columns.csv",
        csv_text(wide, [f.row() + [""] * 5000 for f in fs]).encode(), expect="clean",
        records=len(fs), timeout=30)
    fs = firms(10, rng)
    add("header_whitespace", "headers with spaces, tabs and full-width spaces",
        "header_whitespace.csv", csv_text([" firm_id", "name\t", "　industry_code", "lon ",
                                           " lat", "employees"],
                                          [f.row() for f in fs]).encode(), expect="clean",
        records=len(fs))
    fs = firms(10, rng)
    add("no_required_columns", "columns that mean nothing", "no_required_columns.csv",
        csv_text(["a", "b", "c"], [["1", "2", "3"]] * 10).encode(), expect="refused")
    add("xls_suffix", "an old .xls file", "xls_suffix.xls", b"\xd0\xcf\x11\xe0" + b"\x00" * 508,
        expect="refused")
    add("html_as_xls", "an HTML table saved as .xls (a common 'Excel' export)",
        "html_as_xls.xls", "<html><table><tr><td>企业名称</td></tr></table></html>".encode(),
        expect="refused")
    fs = firms(10, rng)
    for cid, kind in (("parquet_list_column", "list"), ("parquet_struct_column", "struct"),
                      ("parquet_binary_column", "binary"), ("parquet_dict_column", "dict")):
        add(cid, f"a Parquet table with a {kind} column", f"{cid}.parquet",
            _parquet_writer(fs, kind), expect="accounting", records=len(fs))
    add("truncated_parquet", "a Parquet file cut in half", "truncated_parquet.parquet",
        _truncated(_parquet_writer(fs, "list")), expect="refused")
    add("unsupported_suffix", "a .dbf file", "unsupported_suffix.dbf", b"\x03" + b"\x00" * 100,
        expect="refused")
    cases.append(Case("structure/directory_as_file", "structure", "firms",
                      "a folder named like a CSV", {"structure/directory_as_file.csv/x": b""},
                      [{"argv": ["validate", "{corpus}/structure/directory_as_file.csv",
                                 "--rejects", "{out}/r.csv", "--flagged", "{out}/f.csv"]}],
                      "no_traceback"))
    cases.append(Case("structure/missing_file", "structure", "firms", "a file that does not exist",
                      {}, [{"argv": ["validate", "{corpus}/structure/does_not_exist.csv",
                                     "--rejects", "{out}/r.csv", "--flagged", "{out}/f.csv"]}],
                      "no_traceback"))
    fs = firms(12, rng)
    add("rejects_path_is_input", "--rejects pointing at the input file",
        "rejects_path_is_input.csv", csv_text(EN, [f.row() for f in fs[:11]] + [
            fs[11].row(lon="999")]).encode(), expect="no_traceback", records=len(fs))
    cases[-1].runs = [{"argv": ["validate", "{file}", "--rejects", "{file}", "--flagged",
                                "{out}/f.csv"]}]
    cases[-1].read = None
    return cases


def _parquet_writer(fs, kind):
    def write(path: Path) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        columns = {k: [f.row()[i] for f in fs] for i, k in enumerate(EN)}
        if kind == "list":
            extra = pa.array([[1, 2], [3]] * (len(fs) // 2), type=pa.list_(pa.int64()))
        elif kind == "struct":
            extra = pa.array([{"a": 1, "b": "x"}] * len(fs))
        elif kind == "binary":
            extra = pa.array([b"\x00\xff"] * len(fs), type=pa.binary())
        else:
            extra = pa.array(["甲", "乙"] * (len(fs) // 2)).dictionary_encode()
        table = pa.table({**{k: pa.array(v) for k, v in columns.items()}, "tags": extra})
        pq.write_table(table, path)

    return write


# --------------------------------------------------------------------------- common files


def common_files() -> dict[str, bytes | Callable[[Path], None]]:
    rng = _rng("common")
    fs = firms(40, rng)
    zones = _gdf(_zone_records(2, rng), [_square(120.155, 30.275, 0.03),
                                         _square(120.21, 30.21, 0.03)])
    return {
        "common/firms_clean.csv": csv_text(EN, [f.row() for f in fs]).encode("utf-8"),
        "common/zones_small.geojson": _layer_writer(lambda: zones),
    }


# --------------------------------------------------------------------------- driver


FAMILIES = (encoding_cases, delimiter_cases, quoting_cases, sheet_cases, geometry_cases,
            crs_cases, number_cases, name_cases, database_cases, secret_cases, structure_cases)


def plan() -> list[Case]:
    """Every case, in a fixed order (no files are written)."""
    cases = [case for family in FAMILIES for case in family()]
    ids = [c.id for c in cases]
    duplicated = [i for i, n in Counter(ids).items() if n > 1]
    assert not duplicated, duplicated
    return cases


def generate(out: str | Path, cases: list[Case] | None = None) -> list[dict]:
    """Write every case's files and ``manifest.json`` into ``out``; return the manifest."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    cases = plan() if cases is None else cases
    for rel, data in common_files().items():
        _write(out / rel, data)
    for case in cases:
        for rel, data in case.files.items():
            _write(out / rel, data)
    manifest = [case.manifest() for case in cases]
    document = {"seed": SEED, "secret": SECRET, "markup_signatures": list(MARKUP_SIGNATURES),
                "formula_prefixes": list(FORMULA_PREFIXES), "cases": manifest}
    (out / "manifest.json").write_text(json.dumps(document, ensure_ascii=False, indent=1),
                                       encoding="utf-8")
    return manifest


def _write(path: Path, data) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if callable(data):
        with warnings.catch_warnings():
            # GDAL's notes on laundered Shapefile field names
            warnings.simplefilter("ignore", RuntimeWarning)
            data(path)
    else:
        path.write_bytes(data)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="folder to write the corpus into")
    parser.add_argument("--list", action="store_true", help="print categories and counts")
    args = parser.parse_args(argv)
    if args.list or args.out is None:
        cases = plan()
        counts = Counter(c.category for c in cases)
        runs = Counter()
        for c in cases:
            runs[c.category] += len(c.runs)
        for category, n in counts.items():
            print(f"{category:24s} {n:4d} cases {runs[category]:4d} runs")
        print(f"{'total':24s} {len(cases):4d} cases {sum(runs.values()):4d} runs")
    if args.out is not None:
        manifest = generate(args.out)
        print(f"{len(manifest)} cases written to {args.out}")


if __name__ == "__main__":
    main()
