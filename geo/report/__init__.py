"""The results pack of a run: ``report.html``, ``report.docx`` and ``tables.xlsx``.

``geo report RUN_FOLDER`` (and ``geo run``, under ``report/``) reads the run's
tables, maps and manifest (:mod:`geo.report.data`), builds the wide tables, the
summary findings, the charts and the reading guide (:mod:`geo.report.document`)
and renders them as one self-contained HTML page (:mod:`geo.report.html`), a
Word document (:mod:`geo.report.word`) and a workbook (:mod:`geo.report.workbook`).
The charts are also saved as PNG files, for a planner's own document.
"""

from __future__ import annotations

from pathlib import Path

from geo.errors import ConfigError
from geo.outputs import atomic_path

REPORT_FILES = ("report.html", "report.docx", "tables.xlsx")


def write_report(
    folder: str | Path,
    out: str | Path | None = None,
    lang: str | None = None,
    manifest: dict | None = None,
) -> list[Path]:
    """Build the results pack of a run folder.

    Parameters
    ----------
    folder : str or Path
        The ``geo run`` folder.
    out : str or Path, optional
        Where to write the pack; default ``folder/report``.
    lang : {"zh", "en"}, optional
        Language; default the run's language.
    manifest : dict, optional
        The run's manifest, when ``geo run`` has not written it yet.

    Returns
    -------
    list of Path
        The files written: the three documents, then the charts (``figures/``).

    Raises
    ------
    InputError
        If ``folder`` is not a complete run folder.
    ConfigError
        For an unknown language.
    """
    from geo.report.data import load_run
    from geo.report.document import build_report
    from geo.report.html import render_html
    from geo.report.word import write_docx
    from geo.report.workbook import write_xlsx

    data = load_run(folder, manifest)
    lang = lang or str(data.manifest.get("parameters", {}).get("lang", "zh"))
    if lang not in ("zh", "en"):
        raise ConfigError(f"unknown language '{lang}': use zh or en")
    out = Path(out) if out is not None else Path(folder) / "report"
    report = build_report(data, lang)
    written = []
    with atomic_path(out / "report.html") as tmp:
        tmp.write_text(render_html(report), encoding="utf-8")
    written.append(out / "report.html")
    with atomic_path(out / "report.docx") as tmp:
        write_docx(report, tmp)
    written.append(out / "report.docx")
    with atomic_path(out / "tables.xlsx") as tmp:
        write_xlsx(report, tmp)
    written.append(out / "tables.xlsx")
    for section in report.sections:
        for block in section.blocks:
            if block.kind == "chart":
                target = out / "figures" / f"{block.content.id}.png"
                with atomic_path(target) as tmp:
                    tmp.write_bytes(block.content.png)
                written.append(target)
    return written
