"""Tables and the pair-matrix figure of a co-agglomeration study (:mod:`geo.stats.coagglomeration`).

A study is written as a tidy table (one row per pair, with the industries'
names in Chinese and English), the pair matrix of its headline value (Kd:
localisation Gamma; cross-L: the largest L(r) - r; M: its maximum; CLQ: the
quotient), every pair's curve with its envelope, and a heatmap of the matrix
in which significant pairs are marked.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from geo.function_outputs import type_label
from geo.outputs import atomic_path
from geo.safety import write_csv
from geo.stats.coagglomeration import MATRIX_VALUE, PairStudy

# what the headline value means, for the figure's colour bar and the tables' readers
_VALUE_NAMES = {
    "Gamma": ("Γ − Ψ（红：集聚，高于上包络；蓝：分散，低于下包络）",
              "Γ − Ψ (red: localised above the upper band; blue: dispersed below the lower)"),
    "l_excess_m": ("L(r) − r 的最大值（米）", "largest L(r) − r (m)"),
    "m_max": ("M 的最大值", "largest M"),
    "clq": ("共位商 CLQ", "co-location quotient"),
}
_STATISTIC_NAMES = {
    "Kd": ("Kd（Duranton-Overman）", "Kd (Duranton-Overman)"),
    "cross-L": ("交叉 L 函数", "cross-L function"),
    "M": ("M 函数（Marcon-Puech）", "M function (Marcon-Puech)"),
    "CLQ": ("共位商", "co-location quotient"),
}


def named_table(study: PairStudy, synthetic: bool) -> pd.DataFrame:
    """Return the study's table with both industries' names in Chinese and English."""
    table = study.table.copy()
    for side in ("a", "b"):
        position = table.columns.get_loc(side) + 1
        for lang in ("en", "zh"):
            table.insert(position, f"{side}_name_{lang}",
                         [type_label(t, lang) for t in table[side]])
    table.insert(0, "statistic", study.statistic)
    for key in ("nsim", "seed"):
        table[key] = study.parameters.get(key)
    table["synthetic"] = synthetic
    return table


def write_pair_study(study: PairStudy, out: str | Path, synthetic: bool, *,
                     lang: str = "en") -> list[Path]:
    """Write a study: table, matrix, curves and the matrix figure, each atomically.

    Parameters
    ----------
    study : PairStudy
        The study.
    out : str or Path
        The table (``.csv``); the others are written beside it as
        ``<stem>_matrix.csv``, ``<stem>_curves.csv`` (not for CLQ) and
        ``<stem>_matrix.png``.
    synthetic : bool
        Whether the firms are synthetic (every file says so).
    lang : {"zh", "en"}
        Language of the figure.

    Returns
    -------
    list of Path
        The files written.
    """
    out = Path(out)
    written = []
    with atomic_path(out) as tmp:
        write_csv(named_table(study, synthetic), tmp)
    written.append(out)
    matrix = study.matrix()
    matrix_path = out.with_name(f"{out.stem}_matrix.csv")
    frame = matrix.reset_index().rename(columns={"a": "a \\ b"})
    if synthetic:
        frame["synthetic"] = True
    with atomic_path(matrix_path) as tmp:
        write_csv(frame, tmp)
    written.append(matrix_path)
    if study.results:
        curves_path = out.with_name(f"{out.stem}_curves.csv")
        curves = study.curves()
        curves["synthetic"] = synthetic
        with atomic_path(curves_path) as tmp:
            write_csv(curves, tmp)
        written.append(curves_path)
    written.append(plot_pair_matrix(study, out.with_name(f"{out.stem}_matrix.png"),
                                    synthetic, lang=lang))
    return written


def _tick(code: str, lang: str) -> str:
    """Short axis label: the code and the start of the name."""
    name = type_label(code, lang)
    name = name.rsplit(" (", 1)[0] if name.endswith(")") else name
    if name == code:
        return code
    name = name.removeprefix("Manufacture of ").removesuffix("制造业") or name
    limit = 8 if lang == "zh" else 16
    return f"{code} {name[:limit]}{'…' if len(name) > limit else ''}"


def _decided(study: PairStudy) -> pd.DataFrame | None:
    """Pairs whose test rejects the null either way (faded cells are the others)."""
    table = study.table
    if "p_colocation" in table:
        decided = (table["p_colocation"] <= 0.05) | (table["p_isolation"] <= 0.05)
    elif "Psi" in table:
        decided = (table["Gamma"] > 0) | (table["Psi"] > 0)
    elif "p_value" in table:
        decided = table["p_value"] <= 0.05
    else:
        return None
    frame = table.assign(decided=decided.astype(float))
    return frame.pivot_table(index="a", columns="b", values="decided", aggfunc="first")


def plot_pair_matrix(study: PairStudy, path: str | Path, synthetic: bool = False, *,
                     lang: str = "en") -> Path:
    """Heatmap of the pair matrix: significant pairs carry a dot, untested-away ones fade.

    A cell whose test rejects the null neither way (co-location nor
    isolation, localisation nor dispersion) is drawn faded, so a quotient of
    0 from a handful of firms does not read as strong isolation.

    Parameters
    ----------
    study : PairStudy
        The study.
    path : str or Path
        The PNG, written atomically.
    synthetic : bool
        Whether the firms are synthetic (the title says so).
    lang : {"zh", "en"}
        Language; English when no Chinese font is installed.

    Returns
    -------
    Path
    """
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from geo.maps.fonts import find_cjk_font

    cjk = find_cjk_font()
    if lang == "zh" and cjk is None:
        lang = "en"
    zh = lang == "zh"
    families = [cjk, "DejaVu Sans"] if zh else ["DejaVu Sans", *([cjk] if cjk else [])]
    value = MATRIX_VALUE[study.statistic]
    matrix = study.matrix()
    significant = (study.matrix("significant").reindex_like(matrix)
                   if "significant" in study.table else None)
    decided = _decided(study)
    rows, cols = matrix.shape
    width = min(5 + 0.3 * cols, 30)
    height = min(3.5 + 0.25 * rows, 30)
    title = _STATISTIC_NAMES[study.statistic][0 if zh else 1]
    title = f"{title}：行业对矩阵" if zh else f"{title}: industry pairs"
    if synthetic:
        title += "（合成数据）" if zh else " (synthetic data)"
    nsim = study.parameters.get("nsim")
    note = (f"● 显著协同集聚（{nsim} 次随机置换）；浅色：不显著（p > 0.05）；空白：无此行业对" if zh
            else f"● significant co-agglomeration ({nsim} permutations); faded: not "
                 "significant either way (p > 0.05); blank: no such pair") \
        if significant is not None and nsim else ""
    with matplotlib.rc_context({"font.family": families, "axes.unicode_minus": False}):
        fig = Figure(figsize=(width, height), dpi=110, layout="constrained")
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        data = matrix.to_numpy(dtype=float)
        if study.statistic == "Kd" and "Psi" in study.table:
            # D&O's localisation and dispersion on one diverging scale
            data = data - study.matrix("Psi").reindex_like(matrix).to_numpy(dtype=float)
        finite = data[np.isfinite(data)]
        diverging = value == "clq" or study.statistic == "Kd"
        cmap = matplotlib.colormaps["RdBu_r" if diverging else "Reds"].with_extremes(
            bad="white")  # pairs without a value (too few firms): blank, not "no effect"
        if value == "clq":
            top = max(float(np.nanmax(np.abs(np.log2(finite[finite > 0])))) if
                      (finite > 0).any() else 1.0, 1e-9)
            # CLQ 0 (no B among A's nearest neighbours) is full isolation: the darkest blue
            with np.errstate(divide="ignore", invalid="ignore"):
                shown = np.clip(np.log2(data), -top, top)
            low, high, bar_label = -top, top, "log2 CLQ"
        elif diverging:
            shown = data
            top = max(float(np.abs(finite).max()) if len(finite) else 1.0, 1e-12)
            low, high = -top, top
            bar_label = _VALUE_NAMES[value][0 if zh else 1]
        else:
            shown = data
            low, high = (min(0.0, float(finite.min())) if len(finite) else 0.0), None
            bar_label = _VALUE_NAMES[value][0 if zh else 1]
        alpha = None
        if decided is not None and nsim:
            alpha = np.where(decided.reindex_like(matrix).fillna(0).to_numpy(float) > 0,
                             1.0, 0.3)
        image = ax.imshow(shown, cmap=cmap, vmin=low, vmax=high, aspect="auto", alpha=alpha)
        if significant is not None:
            yy, xx = np.nonzero(significant.fillna(False).to_numpy(dtype=bool))
            ax.scatter(xx, yy, s=10, c="black", marker="o", linewidths=0)
        ax.set_xticks(range(cols), [_tick(c, lang) for c in matrix.columns], rotation=90,
                      fontsize=7)
        ax.set_yticks(range(rows), [_tick(c, lang) for c in matrix.index], fontsize=7)
        fig.colorbar(image, ax=ax, fraction=0.04).set_label(bar_label, fontsize=8)
        fig.suptitle(title, fontsize=11, fontweight="bold", parse_math=False)
        if note:
            fig.supxlabel(note, fontsize=8, parse_math=False, x=0.02, ha="left")
        path = Path(path)
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png")
    return path
