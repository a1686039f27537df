"""Write ``dated_register.xlsx``: a register export with founding and closing dates (run once).

    .venv/bin/python tests/data/registers/make_dated_register.py

A Qichacha-style sheet (企业名称, 行业代码, 经度, 纬度 in WGS84, 成立日期, 注销日期,
吊销日期) whose dates are written the many ways Chinese exports write them: real Excel
date cells, Excel day numbers saved as numbers, ``2015年3月5日``, ``2015/3/5``, compact
``20150305``, a month or a year alone, full-width digits, Chinese numerals, with a time.
Planted: an unreadable 注销日期, an implausible year, a firm closed before it was
founded, and one with both a 注销日期 and a 吊销日期 (the earlier counts). The truth of
every row goes to ``dated_register.json`` (``founded``, ``closed`` as ISO dates or null,
``status`` ``keep``/``flag``/``reject``). Firms are synthetic; the positions are points
of central Hangzhou.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

# openpyxl writes other bytes with lxml (python-docx brings it) than without it:
# its own serialiser always, so the files do not depend on what else is installed
os.environ["OPENPYXL_LXML"] = "False"

import openpyxl  # noqa: E402

HERE = Path(__file__).parent
# (成立日期 cell, 注销日期 cell, 吊销日期 cell, founded, closed, status)
ROWS = [
    (dt.datetime(2015, 3, 5), None, None, "2015-03-05", None, "keep"),          # Excel date
    (42068, None, None, "2015-03-05", None, "keep"),                           # day number
    ("2015年3月5日", "2020年6月30日", None, "2015-03-05", "2020-06-30", "keep"),
    ("2015/3/5", "2019-01-01", None, "2015-03-05", "2019-01-01", "keep"),
    ("20150305", None, "2018.7.1", "2015-03-05", "2018-07-01", "keep"),
    ("2015-03-05 09:30:00", None, None, "2015-03-05", None, "keep"),
    ("2015-03", None, None, "2015-03-01", None, "keep"),
    ("2015年3月", "2021年", None, "2015-03-01", "2021-01-01", "keep"),
    ("２０１５年３月５日", None, None, "2015-03-05", None, "keep"),               # full width
    ("二〇一五年三月五日", None, None, "2015-03-05", None, "keep"),               # numerals
    ("2015.3.5", "2022-12-31", "2021-03-01", "2015-03-05", "2021-03-01", "keep"),  # earlier
    ("2018-07-01", "2017-01-01", None, "2018-07-01", "2017-01-01", "flag"),     # before
    ("2016-01-01", "2016-13-01", None, None, None, "reject"),                  # no month 13
    ("2016-01-01", "1066-10-14", None, None, None, "reject"),                  # implausible
    ("2016-01-01", None, "已吊销", None, None, "reject"),                       # not a date
    ("2016-01-01T00:00:00", "", "-", "2016-01-01", None, "keep"),              # blanks
    (dt.datetime(2012, 8, 8, 0, 0), dt.datetime(2020, 1, 15), None, "2012-08-08",
     "2020-01-15", "keep"),
    ("2012年08月08日", None, None, "2012-08-08", None, "keep"),
]


def main() -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "企业列表"
    sheet.append(["企业名称", "行业代码", "经度", "纬度", "成立日期", "注销日期", "吊销日期"])
    truth = []
    for i, (founded_cell, deregistered, revoked, founded, closed, status) in enumerate(ROWS):
        code = ("C3911", "I6513", "M7320", "G5810")[i % 4]
        lon, lat = 120.10 + 0.005 * i, 30.25 + 0.003 * (i % 5)
        sheet.append([f"测试企业{i + 1}有限公司", code, lon, lat, founded_cell, deregistered,
                      revoked])
        if isinstance(founded_cell, dt.datetime):
            sheet.cell(i + 2, 5).number_format = "yyyy-mm-dd"
        if isinstance(deregistered, dt.datetime):
            sheet.cell(i + 2, 6).number_format = "yyyy/m/d"
        truth.append({"row": i + 2, "founded": founded, "closed": closed, "status": status})
    book.properties.created = dt.datetime(2024, 6, 11)  # byte-identical reruns
    book.save(HERE / "dated_register.xlsx")
    (HERE / "dated_register.json").write_text(
        json.dumps(truth, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
