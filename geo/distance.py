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

import warnings
from pathlib import Path

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
        for key in ("a", "b", "reference", "neighbour", "correction", "ties", "border",
                    "nsim", "seed", "envelope", "bandwidth_m", "bandwidth_rule", "estimator",
                    "weighted"):
            if key in result.parameters:
                frame[key] = result.parameters[key]
        frame["p_value"] = result.p_value
        frame["synthetic"] = synthetic
        frames.append(frame)
    path = Path(path)
    with atomic_path(path) as tmp:
        write_csv(pd.concat(frames, ignore_index=True), tmp, allow_formulas=allow_formulas)
    return path


_CJK_FONTS = ("Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "WenQuanYi Zen Hei",
              "WenQuanYi Micro Hei", "Microsoft YaHei", "SimHei", "PingFang SC")


def _cjk_fonts() -> list[str]:
    """Installed fonts that can draw Chinese, best first."""
    from matplotlib import font_manager

    installed = {f.name for f in font_manager.fontManager.ttflist}
    return [name for name in _CJK_FONTS if name in installed]


def plot_function(
    result: FunctionResult, path: str | Path, title: str, synthetic: bool
) -> Path:
    """PNG of a function with its envelope and null value, distances in km."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cjk = _cjk_fonts()
    if cjk:  # type names and titles may be Chinese
        plt.rcParams["font.sans-serif"] = [*cjk, *plt.rcParams["font.sans-serif"]]
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    km = result.r / 1000
    if result.lo is not None:
        ax.fill_between(km, result.lo, result.hi, color="#bbbbbb", alpha=0.6,
                        label=f"{result.envelope} envelope ({result.parameters.get('nsim')} sims)")
    if np.isfinite(result.theoretical).any():
        ax.plot(km, result.theoretical, "--", color="#555555", label="null / theoretical")
    ax.plot(km, result.observed, color="#b71c1c", lw=1.8, label="observed")
    ax.set_xlabel("distance (km)")
    ax.set_ylabel(result.name)
    ax.set_title(title + (" [SYNTHETIC DATA]" if synthetic else ""), fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    with warnings.catch_warnings():
        # without a CJK font, Chinese labels draw as boxes; the plot is still right
        warnings.filterwarnings("ignore", message="Glyph .* missing from font")
        fig.tight_layout()
        path = Path(path)
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png")
    plt.close(fig)
    return path


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
        expectation); co-location quotients always use every firm.

    Returns
    -------
    dict
        ``functions`` (list of FunctionResult), ``colocation`` (DataFrame),
        ``local_clq`` (GeoDataFrame of producer-service firms) and
        ``parameters``.
    """
    from geo.colocation import colocation_quotients, local_colocation_quotient
    from geo.kdensity import kd_function
    from geo.ripley import default_r, kfunction

    window = make_window("study", firms.to_crs(analysis_crs), analysis_crs, area)
    x_all, y_all, inside = points_in_window(firms, window, analysis_crs)
    frame = firms[inside]
    x_all, y_all = x_all[inside], y_all[inside]
    sample = np.arange(len(frame))
    if len(frame) > max_points:
        sample = np.sort(np.random.default_rng(seed).choice(len(frame), max_points, False))
    sub = frame.iloc[sample]
    xs, ys = x_all[sample], y_all[sample]
    functions = []
    clq_rows = []
    for partner in partners:
        types = labelled_types(sub, "manufacturing", partner)
        if (types == partner).sum() < 2 or (types == "manufacturing").sum() < 2:
            continue
        functions.append(
            kfunction(xs, ys, window, types=types, a="manufacturing", b=partner,
                      r=default_r(k_rmax, 129), correction="border", nsim=nsim, seed=seed,
                      fun="L")
        )
        functions.append(
            kd_function(xs, ys, types, "manufacturing", partner, rmax=kd_rmax, n_r=101,
                        nsim=nsim, seed=seed)
        )
        full_types = labelled_types(frame, "manufacturing", partner)
        clq = colocation_quotients(
            x_all, y_all, full_types, pairs=[(partner, "manufacturing"),
                                              ("manufacturing", partner)],
            nsim=nsim, seed=seed,
        )
        clq_rows.append(clq.table)
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
        "parameters": {
            "nsim": nsim, "seed": seed, "k_rmax_m": k_rmax, "kd_rmax_m": kd_rmax,
            "points_in_window": int(len(frame)), "points_used_for_k_and_kd": int(len(sub)),
            "k_correction": "border", "local_clq_k": 8,
        },
    }
