"""Founding and closing dates of registers: the forms Chinese exports write, and what they mean.

The register ``tests/data/registers/dated_register.xlsx`` (written by
``make_dated_register.py`` beside it, with its truth in ``dated_register.json``) has
real Excel date cells, day numbers, Chinese, ISO, compact, full-width and written-out
dates, and planted problems.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from geo.io.firms import normalise_firms, read_firms
from geo.io.values import parse_dates, parse_years

REGISTERS = Path(__file__).parent / "data" / "registers"

FORMS = [
    ("2024-03-05", "2024-03-05"),
    ("2024-3-5", "2024-03-05"),
    ("2024/3/5", "2024-03-05"),
    ("2024.3.5", "2024-03-05"),
    ("20240305", "2024-03-05"),
    ("2024年3月5日", "2024-03-05"),
    ("2024年03月05日", "2024-03-05"),
    ("２０２４年３月５日", "2024-03-05"),
    ("二〇二四年三月五日", "2024-03-05"),
    ("二零二四年十二月三十一日", "2024-12-31"),
    ("2024-03-05 00:00:00", "2024-03-05"),
    ("2024-03-05T08:30", "2024-03-05"),
    ("2024/3/5 12:30:15", "2024-03-05"),
    ("20240305083000", "2024-03-05"),
    ("45356", "2024-03-05"),       # Excel day number saved as text
    (45356, "2024-03-05"),         # ... and as a number
    (45356.75, "2024-03-05"),      # ... with a time of day
    ("2024-03", "2024-03-01"),
    ("2024年3月", "2024-03-01"),
    ("2024", "2024-01-01"),
    ("2024年", "2024-01-01"),
    (dt.datetime(2024, 3, 5, 17, 0), "2024-03-05"),
    (pd.Timestamp("2024-03-05 23:59"), "2024-03-05"),
]


@pytest.mark.parametrize(("cell", "date"), FORMS, ids=[str(c) for c, _ in FORMS])
def test_date_forms_of_chinese_registers(cell, date):
    dates, bad = parse_dates(pd.Series([cell], dtype=object))
    assert str(dates[0].astype("datetime64[D]")) == date and not bad[0]


@pytest.mark.parametrize("cell", ["05/03/2024", "2024-02-30", "2024-13-01", "已注销", "2024年13月",
                                  "202403", "1e5"])
def test_unreadable_and_impossible_dates_are_bad(cell):
    dates, bad = parse_dates(pd.Series([cell]))
    assert np.isnat(dates[0]) and bad[0]


@pytest.mark.parametrize("cell", [None, "", "  ", "-", "—", "NULL", float("nan")])
def test_blank_dates_are_missing_not_bad(cell):
    dates, bad = parse_dates(pd.Series([cell], dtype=object))
    assert np.isnat(dates[0]) and not bad[0]


def test_a_datetime_column_keeps_its_dates():
    values = pd.Series(pd.to_datetime(["2015-03-05 10:00", None, "2020-12-31 00:00"]))
    dates, bad = parse_dates(values)
    assert [str(d) for d in dates.astype("datetime64[D]")] == ["2015-03-05", "NaT", "2020-12-31"]
    assert not bad.any()


def test_founding_years_from_dates():
    years, bad = parse_years(pd.Series(["2015年3月12日", "42075", "2015", "x"]), dates=True)
    assert years[:3].tolist() == [2015.0, 2015.0, 2015.0] and np.isnan(years[3])
    assert bad.tolist() == [False, False, False, True]


def _iso(value) -> str | None:
    return None if pd.isna(value) else pd.Timestamp(value).date().isoformat()


def test_the_dated_register_reads_as_its_truth():
    truth = json.loads((REGISTERS / "dated_register.json").read_text(encoding="utf-8"))
    table = read_firms(REGISTERS / "dated_register.xlsx")
    firms = table.firms.set_index("source_row")
    rejected = set(table.rejects["source_row"])
    for row in truth:
        if row["status"] == "reject":
            assert row["row"] in rejected and row["row"] not in firms.index, row
            continue
        firm = firms.loc[row["row"]]
        assert _iso(firm["founded"]) == row["founded"], row
        assert _iso(firm["closed"]) == row["closed"], row
        assert firm["year"] == int(row["founded"][:4])
        flagged = firm["flag_en"] is not None and "closed before" in firm["flag_en"]
        assert flagged == (row["status"] == "flag"), row
    reasons = table.rejects.set_index("source_row")
    assert reasons.loc[14, "reason_zh"] == "注销日期无法识别"
    assert "注销日期不合理" in reasons.loc[15, "reason_zh"]
    assert reasons.loc[16, "reason_en"] == "unreadable revocation date"
    assert table.summary["flagged_by_reason"] == {"closed before founded": 1}


def test_closing_year_before_a_founding_year_flags_only_when_earlier():
    frame = pd.DataFrame({
        "企业名称": ["甲", "乙", "丙"], "行业代码": ["C3911"] * 3,
        "经度": [120.15, 120.16, 120.17], "纬度": [30.25, 30.26, 30.27],
        "成立年份": [2015, 2015, 2015], "注销日期": ["2014-12-31", "2015-01-01", "2016"],
    })
    firms = normalise_firms(frame, source="years.csv").firms
    assert firms["flag_en"].notna().tolist() == [True, False, False]
    assert firms["founded"].isna().all()  # a year alone is not a date
    assert firms["year"].tolist() == [2015, 2015, 2015]
