"""Web map: recipe styling, synthetic labelling, sampling of large point layers."""

import dataclasses
import json
import re

import geopandas as gpd
import numpy as np
import pytest
import shapely

from geo.errors import ConfigError
from geo.maps import load_recipe, web_map


def _firms(n, seed=0):
    rng = np.random.default_rng(seed)
    classes = np.where(np.arange(n) < n // 4, "digital", "manufacturing")
    return gpd.GeoDataFrame(
        {"firm_id": [f"f{i}" for i in range(n)], "map_class": classes},
        geometry=shapely.points(120.1 + rng.random(n) * 0.1, 30.2 + rng.random(n) * 0.1),
        crs="EPSG:4326",
    )


def _recipe(max_points):
    recipe = load_recipe("default")
    layers = tuple(
        dataclasses.replace(style, max_points=max_points) if style.name == "firms" else style
        for style in recipe.layers
    )
    return dataclasses.replace(recipe, layers=layers)


def _points_in(html_text):
    return html_text.count('"type": "Point"')


def test_large_point_layer_is_sampled_and_says_so():
    firms = _firms(400)
    text = web_map({"firms": firms}, _recipe(100), lang="en").get_root().render()
    assert _points_in(text) == 100
    assert "random sample of 100 of 400 shown" in text
    # layer names count every firm, not only the sample
    assert "(100)" in text and "(300)" in text


def test_sample_is_deterministic_and_unsampled_below_limit():
    firms = _firms(400)
    first = web_map({"firms": firms}, _recipe(100), seed=3).get_root().render()
    again = web_map({"firms": firms}, _recipe(100), seed=3).get_root().render()
    shown = re.findall(r'"firm_id": "(f\d+)"', first)
    assert len(shown) == 100
    assert shown == re.findall(r'"firm_id": "(f\d+)"', again)
    other = web_map({"firms": firms}, _recipe(100), seed=4).get_root().render()
    assert shown != re.findall(r'"firm_id": "(f\d+)"', other)
    full = web_map({"firms": firms}, _recipe(0)).get_root().render()
    assert _points_in(full) == 400
    assert "随机显示" not in full


def test_synthetic_flag_reaches_title_legend_and_attribution():
    text = web_map({"firms": _firms(10)}, _recipe(0), synthetic=True).get_root().render()
    assert "（合成数据）" in text
    assert "合成数据：企业为模拟生成" in text
    assert json.dumps("合成数据")[1:-1] in text or "合成数据" in text


def test_unknown_language_is_a_config_error():
    with pytest.raises(ConfigError, match="language"):
        web_map({"firms": _firms(5)}, _recipe(0), lang="fr")


def test_recipe_errors_are_config_errors(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[map]\ntitle_zh = 'x'\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="malformed"):
        load_recipe(bad)
    with pytest.raises(ConfigError, match="not found"):
        load_recipe(tmp_path / "missing.toml")


def test_choropleth_classes_bins_and_min_firms():
    import pandas as pd

    from geo.maps import Choropleth, classify_values

    spec = Choropleth("c", "zones", "lq", "区位熵", "LQ", ("#000", "#111", "#222"),
                      scheme="user_defined", bins=(0.8, 1.25), min_firms=5)
    classes, labels = classify_values(pd.Series([0.5, 1.0, 3.0, np.nan]), spec)
    assert classes.tolist() == [0, 1, 2, -1]
    assert labels == ["0.50–0.80", "0.80–1.25", "1.25–3.00"]
    zones = gpd.GeoDataFrame(
        {"zone_id": ["a", "b", "c"], "name_zh": ["甲", "乙", "丙"], "n_firms": [10, 2, 7],
         "lq": [0.5, 9.0, 2.0]},
        geometry=[shapely.box(120 + i * 0.01, 30, 120.01 + i * 0.01, 30.01) for i in range(3)],
        crs="EPSG:4326",
    )
    recipe = dataclasses.replace(_recipe(0), choropleths=(spec,))
    text = web_map({"zones": zones, "firms": _firms(5)}, recipe, lang="zh").get_root().render()
    has = lambda t: t in text or json.dumps(t)[1:-1] in text  # noqa: E731  (JSON escapes)
    assert not has("乙")  # 2 firms: below min_firms, not drawn
    assert has("甲") and has("丙")
    assert "仅显示企业数 ≥ 5 的区域" in text
