"""Tables, readings and plots of distance functions (K, L, Kd, M) and the names of types.

A function's table is tidy CSV with its parameters; its reading is one
sentence saying where the observed curve leaves its envelope; its plot a PNG
with the envelope, the null value and that sentence, in Chinese or English.
The functions come from :mod:`geo.stats.distance` and the statistics modules.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from geo.errors import ConfigError
from geo.outputs import atomic_path
from geo.safety import write_csv
from geo.stats.ripley import FunctionResult

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def write_function_table(
    results: list[FunctionResult], path: str | Path, synthetic: bool, *,
    allow_formulas: bool = False,
) -> Path:
    """Write one or more functions as a tidy CSV (with parameters and the synthetic flag).

    Each function's reading (:func:`function_reading`) is in the columns
    ``reading_zh`` and ``reading_en``, the same on every row of the function.

    Parameters
    ----------
    results : list of FunctionResult
        The functions.
    path : str or Path
        Destination, written atomically.
    synthetic : bool
        Whether the firms are synthetic (a column says so).
    allow_formulas : bool
        Trusted data: type labels (from the user's data) that a spreadsheet
        would run as formulas are written as they are, not with a leading
        ``'`` (:func:`geo.safety.write_csv`).

    Returns
    -------
    Path
    """
    frames = []
    for result in results:
        frame = result.to_frame()
        for key in _PARAMETER_COLUMNS:
            if key in result.parameters:
                frame[key] = result.parameters[key]
        frame["p_value"] = result.p_value
        frame["reading_zh"] = function_reading(result, "zh")
        frame["reading_en"] = function_reading(result, "en")
        frame["synthetic"] = synthetic
        frames.append(frame)
    path = Path(path)
    with atomic_path(path) as tmp:
        write_csv(pd.concat(frames, ignore_index=True), tmp, allow_formulas=allow_formulas)
    return path


_PARAMETER_COLUMNS = ("year", "a", "b", "reference", "neighbour", "correction", "ties",
                      "border", "nsim", "seed", "envelope", "bandwidth_m", "bandwidth_rule",
                      "estimator", "weighted")


def read_function_table(path: str | Path) -> list[FunctionResult]:
    """Read the functions :func:`write_function_table` wrote, one per function and pair.

    Parameters
    ----------
    path : str or Path
        A ``distance_functions.csv``.

    Returns
    -------
    list of FunctionResult
        Without simulations; ``parameters`` holds the table's parameter columns.
    """
    table = pd.read_csv(path, encoding="utf-8-sig", keep_default_na=True,
                        dtype={"a": str, "b": str, "reference": str, "neighbour": str,
                               "year": str})
    keys = [k for k in ("year", "function", "a", "b", "reference", "neighbour")
            if k in table.columns]
    results = []
    for _, frame in table.groupby(keys, sort=False, dropna=False):
        first = frame.iloc[0]
        parameters = {k: first[k] for k in _PARAMETER_COLUMNS
                      if k in frame.columns and not pd.isna(first[k])}
        has_envelope = "lo" in frame.columns and frame["lo"].notna().any()
        p_value = first.get("p_value")
        results.append(FunctionResult(
            str(first["function"]), frame["r"].to_numpy(float),
            frame["observed"].to_numpy(float), frame["theoretical"].to_numpy(float),
            lo=frame["lo"].to_numpy(float) if has_envelope else None,
            hi=frame["hi"].to_numpy(float) if has_envelope else None,
            envelope=parameters.get("envelope"),
            p_value=None if p_value is None or pd.isna(p_value) else float(p_value),
            parameters=parameters,
        ))
    return results


# Function names and the units their values are plotted in (distances in km).
_FUNCTION_NAMES = {
    "K": ("K 函数", "K function"), "L": ("L 函数", "L function"),
    "Kcross": ("交叉 K 函数", "Cross-K function"), "Lcross": ("交叉 L 函数", "Cross-L function"),
    "Kd": ("Kd 函数（Duranton-Overman）", "Kd function (Duranton-Overman)"),
    "Kd_bilateral": ("双变量 Kd 函数（Duranton-Overman）",
                     "Bilateral Kd function (Duranton-Overman)"),
    "M": ("M 函数（Marcon-Puech）", "M function (Marcon-Puech)"),
}
# (scale of the values, unit): K in km², L in km, Kd per km, M a ratio
_FUNCTION_UNITS = {"K": (1e-6, "km²"), "Kcross": (1e-6, "km²"), "L": (1e-3, "km"),
                   "Lcross": (1e-3, "km"), "Kd": (1e3, "1/km"), "Kd_bilateral": (1e3, "1/km"),
                   "M": (1.0, "")}


def type_label(spec: str | None, lang: str = "en") -> str:
    """Name of a type in ``lang``: ``manufacturing`` is 制造业 / manufacturing.

    Groups, ``high_tech`` and fields get their names from the industry
    classification (:func:`geo.io.industry.label`), GB/T 4754 code prefixes
    their division's name with the code; other values (a column's own
    types) are returned as they are.

    Parameters
    ----------
    spec : str or None
        The type as given to the analyses.
    lang : {"zh", "en"}
        Language.

    Returns
    -------
    str

    Examples
    --------
    >>> type_label("producer_services", "zh"), type_label("producer_services", "en")
    ('生产性服务业', 'producer services')
    """
    from geo.io.industry import label

    if not spec:
        return ""
    try:
        name = label(spec, "zh" if lang == "zh" else "en")
    except (KeyError, ConfigError):
        code = spec[1:] if spec[:1].isalpha() and spec[1:].isdigit() else spec
        try:
            name = f"{label(code[:2], lang)} ({spec})" if code[:2].isdigit() else spec
        except (KeyError, ConfigError):
            return spec
        return name
    # in an English sentence the names of groups and fields are common nouns
    return name if lang == "zh" else name[:1].lower() + name[1:]


def _pair(result: FunctionResult) -> tuple[str, str | None]:
    """Types A and B of a function (M names them reference and neighbour)."""
    params = result.parameters
    if "reference" in params:
        return params["reference"], params.get("neighbour")
    return params.get("a", ""), params.get("b")


def _km(metres: float) -> str:
    """Distance in km for a sentence: 2 decimals at most, no trailing zeros."""
    return f"{metres / 1000:.2f}".rstrip("0").rstrip(".")


_BRIDGE = 2  # distances: shorter gaps between runs, or before the first, are bridged


def _runs(mask: np.ndarray, r: np.ndarray) -> list[tuple[float, float, bool]]:
    """Find the runs of ``mask``: (first r, last r, whether it starts at the smallest r).

    Gaps of up to ``_BRIDGE`` distances are bridged: a pointwise envelope
    crossed at one distance out of many is noise, not a change of pattern.
    """
    hits = np.flatnonzero(mask)
    if not len(hits):
        return []
    breaks = np.flatnonzero(np.diff(hits) > _BRIDGE + 1)
    starts = np.r_[hits[0], hits[breaks + 1]]
    stops = np.r_[hits[breaks], hits[-1]]
    return [(float(r[a]), float(r[b]), a <= _BRIDGE) for a, b in zip(starts, stops, strict=True)]


def envelope_runs(result: FunctionResult) -> dict[str, list[tuple[float, float, bool]]]:
    """Find where the observed curve leaves its envelope, as :func:`function_reading` reads it.

    Parameters
    ----------
    result : FunctionResult
        A function with its envelope.

    Returns
    -------
    dict
        ``above`` and ``below``: runs ``(first r, last r, starts at the
        smallest r)`` in metres, gaps of up to two distances bridged; both
        empty without an envelope or a distance with a value.
    """
    if result.lo is None or result.hi is None:
        return {"above": [], "below": []}
    r = np.asarray(result.r, dtype=float)
    observed, lo, hi = (np.asarray(v, dtype=float) for v in (result.observed, result.lo, result.hi))
    valid = np.isfinite(observed) & np.isfinite(lo) & np.isfinite(hi) & (r > 0)
    r, observed, lo, hi = r[valid], observed[valid], lo[valid], hi[valid]
    return {"above": _runs(observed > hi, r), "below": _runs(observed < lo, r)}


def function_reading(result: FunctionResult, lang: str = "en") -> str:
    """One sentence saying what the observed curve shows against its envelope.

    Where the observed curve lies above the upper envelope the types
    co-locate (or, for one type, cluster) more than random labelling; below
    the lower envelope, less; inside it, the data do not differ from random
    labelling. Distances are the first and last ``r`` (km) of the first run
    of each kind (and the second run, if any), ``up to X km`` when the run
    starts at the smallest distances with a defined value; gaps of one or two
    distances within a run are bridged.

    Parameters
    ----------
    result : FunctionResult
        A function with its envelope (``lo``, ``hi``).
    lang : {"zh", "en"}
        Language of the sentence.

    Returns
    -------
    str

    Examples
    --------
    >>> r = np.linspace(0, 5000, 51)
    >>> f = FunctionResult("Lcross", r, r + np.where(r <= 2000, 50.0, 0.0), r.copy(),
    ...                    lo=r - 10, hi=r + 10, envelope="pointwise",
    ...                    parameters={"a": "manufacturing", "b": "producer_services"})
    >>> function_reading(f, "en")
    'Manufacturing and producer services co-locate more than random labelling up to 2 km'
    >>> function_reading(f, "zh")
    '在 2 km 以内，制造业与生产性服务业的共位程度高于随机标记'
    """
    zh = lang == "zh"
    a, b = _pair(result)
    name_a, name_b = type_label(a, lang), type_label(b, lang)
    if zh:
        subject = f"{name_a}与{name_b}的共位程度" if b else f"{name_a}企业的集聚程度"
    else:
        subject = f"{name_a} and {name_b} co-locate" if b else f"{name_a} firms cluster"
    if result.lo is None or result.hi is None:
        return ("未做模拟（nsim = 0）：未与随机标记比较" if zh else
                "No simulations (nsim = 0): not tested against random labelling")
    r = np.asarray(result.r, dtype=float)
    observed, lo, hi = (np.asarray(v, dtype=float) for v in (result.observed, result.lo, result.hi))
    valid = np.isfinite(observed) & np.isfinite(lo) & np.isfinite(hi) & (r > 0)
    if not valid.any():
        return f"{subject}无法估计（无有效距离）" if zh else f"{subject}: no distance with a value"
    r = r[valid]
    found = envelope_runs(result)
    parts = []
    for runs, more in ((found["above"][:2], True), (found["below"][:2], False)):
        if not runs:
            continue
        if zh:
            spans = "、".join(f"{_km(x1)} km 以内" if first else f"{_km(x0)}–{_km(x1)} km"
                             for x0, x1, first in runs)
            parts.append(f"在 {spans}，{subject}{'高' if more else '低'}于随机标记")
        else:
            spans = " and ".join(f"up to {_km(x1)} km" if first else
                                 f"from {_km(x0)} to {_km(x1)} km" for x0, x1, first in runs)
            parts.append(f"{subject} {'more' if more else 'less'} than random labelling {spans}")
    if zh:
        if not parts:
            return (f"在 {_km(r[-1])} km 以内，{subject}均在随机标记的包络线内："
                    "无显著共位或分离" if b else
                    f"在 {_km(r[-1])} km 以内，{subject}均在随机标记的包络线内：无显著集聚或分散")
        return "；".join(parts)
    if not parts:
        verb = "co-location or separation" if b else "clustering or dispersion"
        parts = [f"{subject.rsplit(' ', 1)[0]} stay within the random-labelling envelope up "
                 f"to {_km(r[-1])} km: no significant {verb}"]
    sentence = "; ".join(parts)
    return sentence[:1].upper() + sentence[1:]


def function_title(result: FunctionResult, lang: str = "en") -> str:
    """Title of a function's plot: the function and its types, in ``lang``.

    Examples
    --------
    >>> f = FunctionResult("Lcross", np.zeros(2), np.zeros(2), np.zeros(2),
    ...                    parameters={"a": "manufacturing", "b": "producer_services"})
    >>> function_title(f, "zh"), function_title(f, "en")
    ('交叉 L 函数：制造业与生产性服务业', 'Cross-L function: manufacturing and producer services')
    """
    zh = lang == "zh"
    names = _FUNCTION_NAMES.get(result.name, (result.name, result.name))
    a, b = _pair(result)
    name_a, name_b = type_label(a, lang), type_label(b, lang)
    if result.name == "M" and b:
        types = f"{name_a}周围的{name_b}" if zh else f"{name_b} around {name_a}"
    elif b:
        types = f"{name_a}与{name_b}" if zh else f"{name_a} and {name_b}"
    else:
        types = name_a
    return (names[0] + "：" if zh else names[1] + ": ") + types


def plot_function(
    result: FunctionResult, path: str | Path, title: str | None = None,
    synthetic: bool = False, *, lang: str = "en",
) -> Path:
    """PNG of a function with its envelope and null value, and a one-line reading.

    Distances are in km, the function's values in the units of its axis
    label (L in km, K in km², Kd per km, M a ratio). The title names the
    function and the types in ``lang``; under the plot, the reading of
    :func:`function_reading`. Chinese needs a CJK font
    (:func:`geo.maps.fonts.find_cjk_font`); without one the plot is drawn
    in English rather than with empty boxes.

    Parameters
    ----------
    result : FunctionResult
        The function.
    path : str or Path
        The PNG, written atomically.
    title : str, optional
        Title; default :func:`function_title` in ``lang``. Drawn as plain
        text (no mathtext).
    synthetic : bool
        Whether the firms are synthetic (the title says so).
    lang : {"zh", "en"}
        Language of the text.

    Returns
    -------
    Path
    """
    import matplotlib

    fig, families = _function_figure(result, title, synthetic, lang)
    path = Path(path)
    with matplotlib.rc_context({"font.family": families}), atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    return path


def function_figure(
    result: FunctionResult, title: str | None = None, synthetic: bool = False, *,
    lang: str = "en",
) -> Figure:
    """Draw the figure :func:`plot_function` saves (texts with gids ``title``, ``reading``).

    Parameters and fallbacks are those of :func:`plot_function`.

    Returns
    -------
    matplotlib.figure.Figure
    """
    return _function_figure(result, title, synthetic, lang)[0]


def _function_figure(
    result: FunctionResult, title: str | None, synthetic: bool, lang: str
) -> tuple[Figure, list[str]]:
    """Draw the plot; return it and the font families its text needs when drawn."""
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from geo.maps.fonts import find_cjk_font, wrap_text

    cjk = find_cjk_font()
    if lang == "zh" and cjk is None:
        lang = "en"  # no Chinese glyphs: English text, not empty boxes
    zh = lang == "zh"
    families = [cjk, "DejaVu Sans"] if zh else ["DejaVu Sans", *([cjk] if cjk else [])]
    heading = title if title else function_title(result, lang)
    if synthetic:
        heading += "（合成数据）" if zh else " (synthetic data)"
    scale, unit = _FUNCTION_UNITS.get(result.name, (1.0, ""))
    name = {"Kd_bilateral": "Kd", "Lcross": "L", "Kcross": "K"}.get(result.name, result.name)
    ylabel = f"{name}(r)" + (f" ({unit})" if unit else "")
    with matplotlib.rc_context({"font.family": families, "axes.unicode_minus": False}):
        fig = Figure(figsize=(7, 4.8), dpi=150)
        FigureCanvasAgg(fig)
        ax = fig.add_axes((0.11, 0.22, 0.86, 0.63))
        km = result.r / 1000
        if result.lo is not None:
            nsim = result.parameters.get("nsim")
            kind = {"pointwise": ("逐点", "pointwise"), "global": ("全局", "global")}.get(
                str(result.envelope), (str(result.envelope), str(result.envelope)))
            ax.fill_between(km, result.lo * scale, result.hi * scale, color="#bbbbbb",
                            alpha=0.6, label=f"随机标记{kind[0]}包络线（{nsim} 次模拟）" if zh
                            else f"random labelling, {kind[1]} envelope ({nsim} simulations)")
        if np.isfinite(result.theoretical).any():
            # K and L: the Poisson value; Kd: the simulations' mean; M: 1 (random labelling)
            null = {"K": ("完全空间随机（CSR）下的值", "value under complete spatial randomness"),
                    "Kd": ("模拟均值", "mean of the simulations"),
                    "M": ("随机标记下的期望值", "expected under random labelling")}[
                "K" if name in ("K", "L") else name]
            ax.plot(km, result.theoretical * scale, "--", color="#555555",
                    label=null[0] if zh else null[1])
        ax.plot(km, result.observed * scale, color="#b71c1c", lw=1.8,
                label="观测值" if zh else "observed")
        ax.set_xlabel("距离 (km)" if zh else "Distance (km)")
        ax.set_ylabel(ylabel)
        ax.set_xlim(0, float(km[-1]) if len(km) else 1)
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
        fig.text(0.5, 0.975, "\n".join(wrap_text(heading, 72)), ha="center", va="top",
                 fontsize=11, fontweight="bold", parse_math=False, gid="title")
        fig.text(0.5, 0.025, "\n".join(wrap_text(function_reading(result, lang), 100)),
                 ha="center", va="bottom", fontsize=9, color="#1a237e", parse_math=False,
                 gid="reading")
    return fig, families
