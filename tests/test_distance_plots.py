"""Distance-function plots and readings: language, units, and what the curve says."""

import warnings

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from geo import function_outputs
from geo.function_outputs import (
    function_figure,
    function_reading,
    function_title,
    plot_function,
    type_label,
    write_function_table,
)
from geo.maps.fonts import find_cjk_font
from geo.stats.ripley import FunctionResult

needs_cjk = pytest.mark.skipif(find_cjk_font() is None, reason="no font with Chinese glyphs")
GLYPH_MISSING = r"Glyph .* missing from font"
PAIR = {"a": "manufacturing", "b": "producer_services", "nsim": 99}


def _lcross(above=(0, 2000), below=None, gap=None):
    """Cross-L (metres) with an envelope r ± 10 m: above it over ``above``, below over ``below``."""
    r = np.linspace(0, 5000, 51)  # every 100 m
    observed = r.copy()
    if above:
        observed[(r > above[0]) & (r <= above[1])] += 50
    if below:
        observed[(r >= below[0]) & (r <= below[1])] -= 50
    if gap is not None:
        observed[np.isclose(r, gap)] = r[np.isclose(r, gap)]  # back inside at one distance
    return FunctionResult("Lcross", r, observed, r.copy(), lo=r - 10, hi=r + 10,
                          envelope="pointwise", parameters=dict(PAIR))


def test_reading_gives_the_distance_up_to_which_types_co_locate():
    result = _lcross(above=(0, 2000))
    assert function_reading(result, "en") == (
        "Manufacturing and producer services co-locate more than random labelling up to 2 km")
    assert function_reading(result, "zh") == (
        "在 2 km 以内，制造业与生产性服务业的共位程度高于随机标记")
    assert function_reading(_lcross(above=(0, 1300)), "en").endswith("up to 1.3 km")


def test_reading_of_less_than_random_and_both():
    result = _lcross(above=(0, 800), below=(3000, 4000))
    assert function_reading(result, "en") == (
        "Manufacturing and producer services co-locate more than random labelling up to 0.8 km; "
        "manufacturing and producer services co-locate less than random labelling from 3 to 4 km")
    assert function_reading(result, "zh") == (
        "在 0.8 km 以内，制造业与生产性服务业的共位程度高于随机标记；"
        "在 3–4 km，制造业与生产性服务业的共位程度低于随机标记")


def test_reading_within_the_envelope_and_without_simulations():
    within = _lcross(above=None)
    assert function_reading(within, "en") == (
        "Manufacturing and producer services stay within the random-labelling envelope up to "
        "5 km: no significant co-location or separation")
    assert "包络线内" in function_reading(within, "zh")
    bare = FunctionResult("Lcross", within.r, within.observed, within.theoretical,
                          parameters=dict(PAIR))
    assert "nsim = 0" in function_reading(bare, "en") and "nsim = 0" in function_reading(bare, "zh")


def test_one_distance_back_inside_the_envelope_is_bridged():
    assert function_reading(_lcross(above=(0, 2000), gap=1000), "en").endswith("up to 2 km")


def test_reading_of_one_type_and_of_m():
    r = np.linspace(0, 3000, 31)
    kd = FunctionResult("Kd", r, np.where(r <= 500, 2.0, 1.0), np.ones_like(r),
                        lo=np.full_like(r, 0.9), hi=np.full_like(r, 1.1), envelope="global",
                        parameters={"a": "manufacturing", "b": None})
    assert function_reading(kd, "en") == (
        "Manufacturing firms cluster more than random labelling up to 0.5 km")
    assert function_reading(kd, "zh") == "在 0.5 km 以内，制造业企业的集聚程度高于随机标记"
    m = FunctionResult("M", r, np.full_like(r, 0.5), np.ones_like(r), lo=np.full_like(r, 0.9),
                       hi=np.full_like(r, 1.1), envelope="pointwise",
                       parameters={"reference": "manufacturing", "neighbour": "digital"})
    assert function_title(m, "zh") == "M 函数（Marcon-Puech）：制造业周围的数字服务"
    assert function_title(m, "en") == (
        "M function (Marcon-Puech): digital services around manufacturing")
    assert "低于随机标记" in function_reading(m, "zh")


def test_type_labels():
    assert type_label("manufacturing", "zh") == "制造业"
    assert type_label("producer_services", "zh") == "生产性服务业"
    assert type_label("producer_services", "en") == "producer services"
    assert type_label("C39", "zh").endswith("(C39)") and "电子" in type_label("C39", "zh")
    assert type_label("工厂", "en") == "工厂"  # a value of the user's own type column


def _texts(figure):
    figure.canvas.draw()
    texts = {t.get_gid(): t.get_text() for t in figure.texts}
    axes = figure.axes[0]
    return texts, axes.get_xlabel(), axes.get_ylabel()


@needs_cjk
def test_chinese_plot_has_title_units_and_reading():
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=GLYPH_MISSING)
        figure = function_figure(_lcross(above=(0, 2000)), synthetic=True, lang="zh")
        texts, xlabel, ylabel = _texts(figure)
    assert texts["title"] == "交叉 L 函数：制造业与生产性服务业（合成数据）"
    assert texts["reading"] == "在 2 km 以内，制造业与生产性服务业的共位程度高于随机标记"
    assert xlabel == "距离 (km)" and ylabel == "L(r) (km)"
    # the observed curve is drawn in km as well
    line = next(line for line in figure.axes[0].get_lines() if line.get_label() == "观测值")
    assert line.get_ydata()[20] == pytest.approx(2.05)


def test_english_plot_has_title_units_and_reading():
    figure = function_figure(_lcross(above=(0, 2000)), lang="en")
    texts, xlabel, ylabel = _texts(figure)
    assert texts["title"] == "Cross-L function: manufacturing and producer services"
    assert texts["reading"].endswith("up to 2 km")
    assert xlabel == "Distance (km)" and ylabel == "L(r) (km)"


def test_without_a_chinese_font_the_plot_is_english(monkeypatch):
    monkeypatch.setattr("geo.maps.fonts.find_cjk_font", lambda: None)
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=GLYPH_MISSING)
        texts, xlabel, _ = _texts(function_figure(_lcross(), lang="zh"))
    assert texts["title"].startswith("Cross-L function") and xlabel == "Distance (km)"


def test_user_title_is_plain_text(tmp_path):
    path = plot_function(_lcross(), tmp_path / "k.png", "Growth $x^2$ 50%", lang="en")
    with Image.open(path) as image:
        assert image.format == "PNG"
    figure = function_figure(_lcross(), "Growth $x^2$ 50%", lang="en")
    title = next(t for t in figure.texts if t.get_gid() == "title")
    assert title.get_text() == "Growth $x^2$ 50%" and not title.get_parse_math()


def test_reading_goes_into_the_table(tmp_path):
    path = write_function_table([_lcross(above=(0, 2000)), _lcross(above=None)],
                                tmp_path / "f.csv", synthetic=False)
    table = pd.read_csv(path, encoding="utf-8-sig")
    first, second = table.iloc[0], table.iloc[-1]
    assert first["reading_en"].endswith("up to 2 km")
    assert first["reading_zh"] == "在 2 km 以内，制造业与生产性服务业的共位程度高于随机标记"
    assert "no significant" in second["reading_en"]
    assert table.groupby(table.index // 51)["reading_en"].nunique().eq(1).all()


def test_kd_and_k_units():
    r = np.linspace(0, 3000, 31)
    kd = FunctionResult("Kd_bilateral", r, np.full_like(r, 2e-4), np.full_like(r, 2e-4),
                        parameters=dict(PAIR))
    _, _, ylabel = _texts(function_figure(kd, lang="en"))
    assert ylabel == "Kd(r) (1/km)"
    assert function_outputs._FUNCTION_UNITS["Kcross"] == (1e-6, "km²")
