"""Distance-based analyses of enterprise data: types, windows, tables and plots.

Glue between firm tables and the point-pattern functions (:mod:`geo.ripley`,
:mod:`geo.kdensity`, :mod:`geo.mfunction`, :mod:`geo.colocation`), shared by
the CLI and ``geo run``.

A *type* is named by a group (``manufacturing``, ``producer_services``,
``other``), ``high_tech``, a producer-service field (``digital``, ``tech``,
``finance``, ``logistics``, ``business``, ``other_ps``), or a GB/T 4754 code
prefix (``C39``, ``I65``, ``7320``); or, with ``type_column``, any value of a
column of the file.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.crs import WGS84
from geo.errors import ConfigError
from geo.industry import FIELDS, GROUPS, normalise_code
from geo.outputs import atomic_path
from geo.ripley import FunctionResult, Window
from geo.safety import write_csv

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def type_mask(firms: pd.DataFrame, spec: str, type_column: str | None = None) -> np.ndarray:
    """Which firms are of type ``spec``.

    Parameters
    ----------
    firms : DataFrame
        Normalised firms.
    spec : str
        Group, ``high_tech``, field, code prefix, or a value of ``type_column``.
    type_column : str, optional
        Column whose raw values name the types.

    Returns
    -------
    ndarray of bool

    Raises
    ------
    ConfigError
        If ``spec`` names nothing.
    """
    if type_column:
        if type_column not in firms.columns:
            raise ConfigError(f"no column '{type_column}' in the enterprise table")
        return (firms[type_column].astype(str) == spec).to_numpy()
    if spec in GROUPS:
        return firms["group"].eq(spec).to_numpy()
    if spec == "high_tech":
        return (firms["group"].eq("manufacturing") & firms["high_tech"]).to_numpy()
    if spec in FIELDS:
        return (firms["group"].eq("producer_services") & firms["field"].eq(spec)).to_numpy()
    code, error = normalise_code(spec)
    if code is None:
        raise ConfigError(
            f"unknown type '{spec}': use {', '.join(GROUPS)}, high_tech, a field "
            f"({', '.join(FIELDS)}) or a GB/T 4754 code prefix such as C39 ({error})"
        )
    digits = code[1:]
    return firms["industry_code"].astype(str).str[1:].str.startswith(digits).to_numpy()


def labelled_types(
    firms: pd.DataFrame, a: str, b: str | None, type_column: str | None = None
) -> np.ndarray:
    """Type label per firm: ``a``, ``b`` or ``"other"`` (A wins where both match)."""
    mask_a = type_mask(firms, a, type_column)
    labels = np.full(len(firms), "other", dtype=object)
    if b is not None:
        mask_b = type_mask(firms, b, type_column)
        labels[mask_b] = b
    labels[mask_a] = a
    return labels


def type_atoms(
    firms: pd.DataFrame, a: str, partners: tuple[str, ...], type_column: str | None = None
) -> tuple[np.ndarray, dict[str, tuple[str, ...]]]:
    """One type per firm for several overlapping types: the pieces they cut the firms into.

    ``a`` and each partner select firms (:func:`type_mask`); a firm's piece
    is the set of selections it falls in (``a`` wins over the partners, as
    in :func:`labelled_types`), and each selection is the union of its
    pieces. The pair engine of :mod:`geo.coagglomeration` then serves ``a``
    with every partner in one pass.

    Parameters
    ----------
    firms : DataFrame
        Normalised firms.
    a : str
        The first type (``manufacturing``).
    partners : tuple of str
        The types paired with it (``producer_services``, ``digital``...).
    type_column : str, optional
        Column whose raw values name the types.

    Returns
    -------
    tuple
        The piece of each firm (None: in no selection) and, for ``a`` and
        every partner, the pieces it unites.
    """
    mask_a = type_mask(firms, a, type_column)
    masks = np.column_stack([type_mask(firms, p, type_column) & ~mask_a for p in partners])
    keys = np.where(mask_a, a, None).astype(object)
    # a piece per combination of selections: its bits, then its name (vectorised: 1M firms)
    bits = masks.astype(np.int64) @ (np.int64(1) << np.arange(len(partners), dtype=np.int64))
    for combination in np.unique(bits[bits > 0]):
        keys[bits == combination] = "+".join(
            p for k, p in enumerate(partners) if combination >> k & 1)
    members = {a: (a,)} if mask_a.any() else {}
    for k, partner in enumerate(partners):
        pieces = sorted({keys[i] for i in np.flatnonzero(masks[:, k])})
        if pieces:
            members[partner] = tuple(pieces)
    return keys, members


def make_window(
    spec: str, firms_projected: gpd.GeoDataFrame, analysis_crs: str, area: shapely.Geometry
) -> Window:
    """Observation window: ``study`` (the study area), ``bbox``, or a zone layer / file.

    A layer spec may select zones by id: ``districts:330106,330108``.

    Parameters
    ----------
    spec : str
        Window specification.
    firms_projected : GeoDataFrame
        Firms in the analysis CRS (for ``bbox``).
    analysis_crs : str
        Projected CRS.
    area : shapely.Geometry
        Study area in WGS84.

    Returns
    -------
    Window
    """
    from geo.zones import load_zones

    if spec == "bbox":
        x0, y0, x1, y1 = firms_projected.total_bounds
        return Window.rectangle(x0, x1, y0, y1)
    if spec == "study":
        geometry = gpd.GeoSeries([area], crs=WGS84).to_crs(analysis_crs).iloc[0]
        return Window.from_geometry(geometry)
    name, _, ids = spec.partition(":") if not Path(spec).suffix else (spec, "", "")
    layer = load_zones(name, area=area, analysis_crs=analysis_crs)
    if ids:
        wanted = {i.strip() for i in ids.split(",") if i.strip()}
        unknown = wanted - set(layer["zone_id"])
        if unknown:
            raise ConfigError(f"window: no zones {', '.join(sorted(unknown))} in {name}")
        layer = layer[layer["zone_id"].isin(wanted)]
    return Window.from_geometry(layer.to_crs(analysis_crs).union_all())


def points_in_window(
    firms: gpd.GeoDataFrame, window: Window, analysis_crs: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Projected coordinates of the firms inside the window, and the inside mask."""
    projected = firms.to_crs(analysis_crs).geometry
    x, y = projected.x.to_numpy(), projected.y.to_numpy()
    inside = window.contains(x, y)
    return x, y, inside


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
    classification (:func:`geo.industry.label`), GB/T 4754 code prefixes
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
    from geo.industry import label

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
    (:func:`geo.maps.static.find_cjk_font`); without one the plot is drawn
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

    from geo.maps.static import find_cjk_font, wrap_text

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


PAIR_STATISTICS = ("clq", "kd", "crossk", "m")


def _pair_studies(frame, x, y, sample, window, pairs: str, statistics: tuple[str, ...], *,
                  nsim: int, seed: int, k_rmax: float, kd_rmax: float, notes: list,
                  neighbours=None) -> dict:
    """Division-pair studies of :func:`run_distance_analyses` (CLQ on every firm)."""
    from geo.coagglomeration import (
        coagglomeration_clq,
        coagglomeration_cross_l,
        coagglomeration_kd,
        coagglomeration_m,
        industry_types,
        resolve_pairs,
    )
    from geo.ripley import default_r

    unknown = set(statistics) - set(PAIR_STATISTICS)
    if unknown:
        raise ConfigError(f"[distance] pair_statistics: unknown {', '.join(sorted(unknown))}; "
                          f"use {', '.join(PAIR_STATISTICS)}")
    if not pairs or not statistics:
        return {}
    types = industry_types(frame, "division")
    studies = {}
    for statistic in statistics:
        try:
            chosen, _ = resolve_pairs(pairs, frame, types, min_firms=10,
                                      symmetric=statistic == "kd")
        except ConfigError as error:
            # a small or narrow register may have no such pair: the run goes on without it
            notes.append(f"{statistic} of industry pairs skipped: {error}")
            continue
        if statistic == "clq":
            studies[statistic] = coagglomeration_clq(x, y, types, chosen, nsim=nsim, seed=seed,
                                                     neighbours=neighbours)
            continue
        xs, ys, ts = x[sample], y[sample], types[sample]
        if statistic == "kd":
            studies[statistic] = coagglomeration_kd(xs, ys, ts, chosen, rmax=kd_rmax, n_r=101,
                                                    nsim=nsim, seed=seed)
        elif statistic == "crossk":
            studies[statistic] = coagglomeration_cross_l(
                xs, ys, window, ts, [p for p in chosen if p[0] != p[1]],
                r=default_r(k_rmax, 129), nsim=nsim, seed=seed)
        else:
            studies[statistic] = coagglomeration_m(xs, ys, ts, chosen,
                                                   r=np.linspace(0, k_rmax, 65), nsim=nsim,
                                                   seed=seed)
    return studies


DEFAULT_PARTNERS = ("producer_services", "digital", "tech", "finance", "logistics", "business")


def run_distance_analyses(
    firms: gpd.GeoDataFrame,
    area: shapely.Geometry,
    analysis_crs: str,
    *,
    partners: tuple[str, ...] = DEFAULT_PARTNERS,
    nsim: int = 99,
    seed: int = 1,
    k_rmax: float = 3000.0,
    kd_rmax: float = 5000.0,
    max_points: int = 50_000,
    pairs: str = "",
    pair_statistics: tuple[str, ...] = ("clq",),
) -> dict:
    """Cross-L, Kd and co-location of manufacturing with producer services (and each field).

    Parameters
    ----------
    firms : GeoDataFrame
        Normalised firms (WGS84).
    area : shapely.Geometry
        Study area (WGS84): the window of the K functions.
    analysis_crs : str
        Projected CRS.
    partners : tuple of str
        Service types paired with manufacturing.
    nsim : int
        Simulations of every envelope and test.
    seed : int
        Seed of the sample and the simulations.
    k_rmax, kd_rmax : float
        Largest distances of cross-L and Kd (metres).
    max_points : int
        Above this many firms, the K and Kd functions use a seeded random
        sample of them (independent thinning leaves K and Kd unchanged in
        expectation); 0 uses every firm. Co-location quotients always use
        every firm.
    pairs : str
        Industry pairs by GB/T 4754 division (``manufacturing*producer_services``,
        ``all`` or a CSV file, see :func:`geo.coagglomeration.resolve_pairs`);
        empty for none.
    pair_statistics : tuple of str
        Statistics of those pairs: ``clq`` (every firm), ``kd``, ``crossk``,
        ``m`` (the sample, like the functions above).

    Returns
    -------
    dict
        ``functions`` (list of FunctionResult), ``colocation`` (DataFrame),
        ``local_clq`` (GeoDataFrame of producer-service firms), ``pair_studies``
        (statistic -> :class:`geo.coagglomeration.PairStudy`) and ``parameters``.
    """
    from geo.coagglomeration import coagglomeration_cross_l, coagglomeration_kd
    from geo.colocation import (
        colocation_quotients,
        local_colocation_quotient,
        nearest_neighbour_matrix,
    )
    from geo.ripley import default_r

    window = make_window("study", firms.to_crs(analysis_crs), analysis_crs, area)
    x_all, y_all, inside = points_in_window(firms, window, analysis_crs)
    frame = firms[inside]
    x_all, y_all = x_all[inside], y_all[inside]
    sample = np.arange(len(frame))
    if 0 < max_points < len(frame):
        sample = np.sort(np.random.default_rng(seed).choice(len(frame), max_points, False))
    sub = frame.iloc[sample]
    xs, ys = x_all[sample], y_all[sample]
    # every partner with manufacturing in one pass of each function (pieces: type_atoms)
    pieces, members = type_atoms(sub, "manufacturing", partners)
    counts = pd.Series(pieces).value_counts()
    sizes = {name: int(counts.reindex(list(parts)).fillna(0).sum())
             for name, parts in members.items()}
    paired = [p for p in partners
              if sizes.get(p, 0) >= 2 and sizes.get("manufacturing", 0) >= 2]
    field_pairs = [("manufacturing", p) for p in paired]
    functions = []
    if field_pairs:
        cross = coagglomeration_cross_l(xs, ys, window, pieces, field_pairs, members=members,
                                        r=default_r(k_rmax, 129), nsim=nsim, seed=seed)
        kd = coagglomeration_kd(xs, ys, pieces, field_pairs, members=members, rmax=kd_rmax,
                                n_r=101, nsim=nsim, seed=seed)
        for lcross, kdensity in zip(cross.results, kd.results, strict=True):
            functions += [lcross, kdensity]
    clq_rows = []
    nearest = nearest_neighbour_matrix(x_all, y_all)  # built once for every partner
    for partner in paired:
        full_types = labelled_types(frame, "manufacturing", partner)
        clq = colocation_quotients(
            x_all, y_all, full_types, pairs=[(partner, "manufacturing"),
                                              ("manufacturing", partner)],
            nsim=nsim, seed=seed, neighbours=nearest,
        )
        clq_rows.append(clq.table)
    pair_notes: list[str] = []
    pair_studies = _pair_studies(frame, x_all, y_all, sample, window, pairs, pair_statistics,
                                 nsim=nsim, seed=seed, k_rmax=k_rmax, kd_rmax=kd_rmax,
                                 notes=pair_notes, neighbours=nearest)
    ps_types = labelled_types(frame, "producer_services", "manufacturing")
    local = local_colocation_quotient(x_all, y_all, ps_types, "producer_services",
                                      "manufacturing", nsim=nsim, seed=seed)
    layer = frame.iloc[local.index][
        [c for c in ("firm_id", "name", "industry_code", "field", "geometry") if c in frame]
    ].copy()
    layer["lclq"] = local["lclq"].to_numpy()
    layer["bandwidth_m"] = local["bandwidth"].to_numpy()
    if nsim:
        layer["p_colocation"] = local["p_colocation"].to_numpy()
        layer["p_isolation"] = local["p_isolation"].to_numpy()
    return {
        "functions": functions,
        "colocation": pd.concat(clq_rows, ignore_index=True) if clq_rows else pd.DataFrame(),
        "local_clq": layer,
        "pair_studies": pair_studies,
        "parameters": {
            "nsim": nsim, "seed": seed, "k_rmax_m": k_rmax, "kd_rmax_m": kd_rmax,
            "points_in_window": int(len(frame)), "points_used_for_k_and_kd": int(len(sub)),
            "k_correction": "border", "local_clq_k": 8, "pairs": pairs,
            "pair_statistics": list(pair_statistics) if pairs else [],
            "pair_counts": {k: len(v.table) for k, v in pair_studies.items()},
            "pair_notes": pair_notes,
            "null": "types permuted over all firms (one permutation per simulation serves "
                    "every pair)",
        },
    }


def cross_l_by_year(
    firms_by_year: dict[str, gpd.GeoDataFrame],
    area: shapely.Geometry,
    analysis_crs: str,
    *,
    a: str = "manufacturing",
    b: str = "producer_services",
    nsim: int = 99,
    seed: int = 1,
    rmax: float = 3000.0,
    max_points: int = 50_000,
) -> list[FunctionResult]:
    """Cross-L of ``a`` with ``b`` for each year's firms, as :func:`run_distance_analyses` does.

    Parameters
    ----------
    firms_by_year : dict of str to GeoDataFrame
        The firms of each year (WGS84), in order.
    area : shapely.Geometry
        Study area (WGS84), the window.
    analysis_crs : str
        Projected CRS.
    a, b : str
        The types.
    nsim, seed : int
        Random-labelling simulations of each envelope and their seed.
    rmax : float
        Largest distance (metres).
    max_points : int
        A seeded random sample of this many firms above it (0: every firm).

    Returns
    -------
    list of FunctionResult
        One per year with both types, ``parameters["year"]`` its label.
    """
    from geo.coagglomeration import coagglomeration_cross_l
    from geo.ripley import default_r

    results = []
    for year, firms in firms_by_year.items():
        window = make_window("study", firms.to_crs(analysis_crs), analysis_crs, area)
        x, y, inside = points_in_window(firms, window, analysis_crs)
        frame, x, y = firms[inside], x[inside], y[inside]
        if 0 < max_points < len(frame):
            keep = np.sort(np.random.default_rng(seed).choice(len(frame), max_points, False))
            frame, x, y = frame.iloc[keep], x[keep], y[keep]
        pieces, members = type_atoms(frame, a, (b,))
        if min(int(np.isin(pieces, members[t]).sum()) for t in (a, b)) < 2:
            continue
        study = coagglomeration_cross_l(x, y, window, pieces, [(a, b)], members=members,
                                        r=default_r(rmax, 129), nsim=nsim, seed=seed)
        result = study.results[0]
        result.parameters["year"] = year
        results.append(result)
    return results

