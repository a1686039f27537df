import time

import numpy as np
import pandas as pd
import pytest

from geo.errors import ConfigError
from geo.io.industry import (
    FIELDS,
    GROUPS,
    RULE_COLUMNS,
    label,
    load_classification,
    load_divisions,
    load_sections,
    normalise_code,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("C3911", "C3911"),
        ("c3911", "C3911"),
        ("3911", "C3911"),
        (3911, "C3911"),
        (3911.0, "C3911"),
        ("3911.0", "C3911"),
        (np.int64(3911), "C3911"),
        ("39", "C39"),
        ("391", "C391"),
        (" I6510 ", "I6510"),
        ("Ｃ３９１１", "C3911"),
        ("ｉ６５１０", "I6510"),
        ("C 3911", "C3911"),
        ("0511", "A0511"),
        ("A0511", "A0511"),
        (5, "A05"),
        # 511 read from a number is taken as given: group 511 of wholesale (see docstring)
        (511, "F511"),
    ],
)
def test_normalise_code_accepts(raw, expected):
    assert normalise_code(raw) == (expected, None)


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ("I3911", "section I does not contain division 39"),
        ("X12", "unknown section letter X"),
        ("99", "no division 99"),
        ("9811", "no division 98"),
        ("", "missing industry code"),
        ("   ", "missing industry code"),
        (None, "missing industry code"),
        (float("nan"), "missing industry code"),
        (pd.NA, "missing industry code"),
        ("12345", "expected 2 to 4 digits"),
        ("C39A1", "expected 2 to 4 digits"),
        ("39.5", "expected 2 to 4 digits"),
        (39.5, "not an industry code"),
        (True, "not an industry code"),
    ],
)
def test_normalise_code_rejects_with_reason(raw, fragment):
    code, reason = normalise_code(raw)
    assert code is None
    assert fragment in reason


def test_all_97_divisions_present_and_in_their_sections():
    divisions = load_divisions()
    assert list(divisions["division"]) == [f"{i:02d}" for i in range(1, 98)]
    sections = load_sections()
    assert list(sections["section"]) == list("ABCDEFGHIJKLMNOPQRST")
    for row in sections.itertuples():
        inside = divisions[
            (divisions["division"] >= row.first_division)
            & (divisions["division"] <= row.last_division)
        ]
        assert set(inside["section"]) == {row.section}, row.section
    assert divisions["name_zh"].str.len().gt(0).all() and divisions["name_en"].str.len().gt(0).all()
    names = dict(zip(divisions["division"], divisions["name_zh"], strict=True))
    assert names["39"] == "计算机、通信和其他电子设备制造业"
    assert names["65"] == "软件和信息技术服务业"
    assert names["79"] == "土地管理业"
    english = dict(zip(divisions["division"], divisions["name_en"], strict=True))
    assert english["39"] == "Manufacture of computers, communication and other electronic equipment"
    assert english["65"] == "Software and information technology services"
    # manufacturing is exactly divisions 13-43
    assert list(divisions.loc[divisions["section"] == "C", "division"]) == [
        str(i) for i in range(13, 44)
    ]


@pytest.mark.parametrize(
    ("code", "group", "field", "high_tech"),
    [
        ("C3911", "manufacturing", None, True),  # computers
        ("C2710", "manufacturing", None, True),  # pharmaceuticals
        ("C3741", "manufacturing", None, True),  # aircraft (group 374)
        ("C3581", "manufacturing", None, True),  # medical devices (group 358)
        ("C4011", "manufacturing", None, True),  # instruments
        ("C3511", "manufacturing", None, False),  # other special-purpose machinery
        ("C3711", "manufacturing", None, False),  # railway equipment, not 374
        ("C1810", "manufacturing", None, False),
        ("C13", "manufacturing", None, False),
        ("C4320", "manufacturing", None, False),
        ("I6510", "producer_services", "digital", False),
        ("I6311", "producer_services", "digital", False),
        ("M7320", "producer_services", "tech", False),
        ("M7491", "producer_services", "tech", False),
        ("J6620", "producer_services", "finance", False),
        ("G5430", "producer_services", "logistics", False),
        ("G6010", "producer_services", "logistics", False),
        ("L7212", "producer_services", "business", False),
        ("N7820", "producer_services", "other_ps", False),
        ("F5123", "other", None, False),  # wholesale is not in the six sections
        ("K7010", "other", None, False),
        ("A0511", "other", None, False),
        ("B0610", "other", None, False),
        ("S9100", "other", None, False),
    ],
)
def test_classify_representative_codes(code, group, field, high_tech):
    row = load_classification().classify(pd.Series([code])).iloc[0]
    assert row["industry_code"] == code
    assert row["section"] == code[0]
    assert row["division"] == code[1:3]
    assert row["group"] == group
    assert row["field"] == field
    assert bool(row["high_tech"]) is high_tech
    assert row["code_error"] is None


def test_classify_columns_invalid_codes_and_index():
    codes = pd.Series(["3911", None, "I3911", 6510, "6510"], index=[10, 11, 12, 13, 14])
    out = load_classification().classify(codes)
    assert list(out.columns) == [
        "industry_code", "section", "division", "group", "field", "high_tech", "code_error",
    ]
    assert list(out.index) == [10, 11, 12, 13, 14]
    assert out.loc[11, "code_error"] == "missing industry code"
    assert "section I" in out.loc[12, "code_error"]
    assert out.loc[12, "industry_code"] is None and out.loc[12, "group"] is None
    assert out.loc[13, "industry_code"] == out.loc[14, "industry_code"] == "I6510"
    assert out["high_tech"].dtype == bool
    assert out.loc[10, "field"] is None


def test_classify_a_million_rows_quickly():
    rng = np.random.default_rng(0)
    pool = np.array(["C3911", "3581", "6510", "F5123", "c2710", "I3911", "", "7212"])
    codes = pd.Series(rng.choice(pool, 1_000_000))
    start = time.perf_counter()
    out = load_classification().classify(codes)
    assert time.perf_counter() - start < 5
    assert out["code_error"].notna().sum() == codes.isin(["I3911", ""]).sum()


def test_bundled_rules_follow_the_definitions():
    rules = load_classification().rules
    assert list(rules.columns) == list(RULE_COLUMNS)
    assert set(rules["group"]) <= set(GROUPS)
    divisions = rules[rules["code_prefix"].str.len() == 2]
    manufacturing = divisions[divisions["group"] == "manufacturing"]["code_prefix"]
    assert sorted(manufacturing) == [str(i) for i in range(13, 44)]
    expected_fields = {
        "logistics": range(53, 61),
        "digital": range(63, 66),
        "finance": range(66, 70),
        "business": range(71, 73),
        "tech": range(73, 76),
        "other_ps": range(76, 80),
    }
    for field, codes in expected_fields.items():
        got = divisions[divisions["field"] == field]["code_prefix"]
        assert sorted(got) == [str(i) for i in codes], field
    assert set(rules.loc[rules["high_tech"], "code_prefix"]) == {"27", "374", "39", "358", "40"}
    assert set(rules["field"].dropna()) <= set(FIELDS)


def test_longest_prefix_wins(tmp_path):
    path = tmp_path / "rules.csv"
    path.write_text(
        "code_prefix,group,field,high_tech,label_zh,label_en\n"
        "39,manufacturing,,false,电子,Electronics\n"
        "397,manufacturing,,true,半导体,Semiconductors\n"
        "3976,other,,false,例外,Exception\n"
        "74,producer_services,tech,false,专业技术,Professional\n"
        "7491,producer_services,business,false,设计,Design\n",
        encoding="utf-8",
    )
    rules = load_classification(path)
    out = rules.classify(pd.Series(["C3911", "C3973", "C3976", "M7491", "M7410", "C2710"]))
    assert list(out["high_tech"]) == [False, True, False, False, False, False]
    assert list(out["group"]) == [
        "manufacturing", "manufacturing", "other", "producer_services", "producer_services",
        "other",
    ]
    assert list(out["field"]) == [None, None, None, "business", "tech", None]


def test_user_override_file_with_bom_and_section_letters(tmp_path):
    path = tmp_path / "rules.csv"
    path.write_text(
        "code_prefix,group,field,high_tech,label_zh,label_en\n"
        "C39,manufacturing,,TRUE,电子,Electronics\n"
        "F51,producer_services,business,false,批发,Wholesale\n",
        encoding="utf-8-sig",
    )
    rules = load_classification(path)
    assert rules.source == str(path)
    out = rules.classify(pd.Series(["F5123", "C3911", "I6510"]))
    assert list(out["group"]) == ["producer_services", "manufacturing", "other"]
    assert list(out["field"]) == ["business", None, None]


def test_user_override_file_in_gbk(tmp_path):
    path = tmp_path / "rules.csv"
    path.write_bytes(
        "code_prefix,group,field,high_tech,label_zh,label_en\n"
        "39,manufacturing,,true,电子信息,Electronics\n".encode("gbk")
    )
    assert load_classification(path).rules["label_zh"].tolist() == ["电子信息"]


@pytest.mark.parametrize(
    ("body", "row", "column", "fragment"),
    [
        ("39,industry,,false,a,b", 1, "group", "unknown group 'industry'"),
        ("99,manufacturing,,false,a,b", 1, "code_prefix", "no division 99"),
        ("I39,manufacturing,,false,a,b", 1, "code_prefix", "section I does not contain"),
        ("65,producer_services,,false,a,b", 1, "field", "need a field"),
        ("65,producer_services,culture,false,a,b", 1, "field", "need a field"),
        ("39,manufacturing,digital,false,a,b", 1, "field", "only allowed for group"),
        ("39,manufacturing,,maybe,a,b", 1, "high_tech", "true or false"),
        ("65,producer_services,digital,true,a,b", 1, "high_tech", "only be true for group"),
        ("39,manufacturing,,false,a,b\n39,manufacturing,,true,a,b", 2, "code_prefix", "twice"),
    ],
)
def test_bad_override_file_names_file_row_column(tmp_path, body, row, column, fragment):
    path = tmp_path / "rules.csv"
    path.write_text(
        "code_prefix,group,field,high_tech,label_zh,label_en\n" + body + "\n", encoding="utf-8"
    )
    with pytest.raises(ConfigError) as info:
        load_classification(path)
    error = info.value
    assert error.file == str(path)
    assert error.row == row
    assert error.column == column
    assert fragment in str(error)


def test_override_file_missing_columns_or_file(tmp_path):
    path = tmp_path / "rules.csv"
    path.write_text("prefix,group\n39,manufacturing\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="missing columns") as info:
        load_classification(path)
    assert "code_prefix" in str(info.value) and str(path) in str(info.value)
    with pytest.raises(ConfigError, match="not found"):
        load_classification(tmp_path / "nope.csv")
    empty = tmp_path / "empty.csv"
    empty.write_text("", encoding="utf-8")
    with pytest.raises(ConfigError, match="cannot read"):
        load_classification(empty)


def test_labels():
    assert label("manufacturing") == "制造业"
    assert label("producer_services") == "生产性服务业"
    assert label("other") == "其他行业"
    assert label("high_tech") == "高技术制造业"
    assert label("high_tech", "en") == "High-tech manufacturing"
    for key, zh in {
        "digital": "数字服务", "tech": "科技服务", "finance": "金融服务",
        "logistics": "物流服务", "business": "商务服务",
    }.items():
        assert label(key) == zh
        assert label(key, "en")
    assert label("C") == "制造业"
    assert label("65", "en") == "Software and information technology services"
    with pytest.raises(KeyError):
        label("nonsense")
    with pytest.raises(ConfigError):
        label("digital", "fr")
