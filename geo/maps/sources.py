"""The sources of a map's layers, said once each, in the map's language.

The web map's 数据来源 / Sources panel and the static maps' source note read
the same sentences (:func:`source_note`), so a layer is credited alike
everywhere.
"""

from __future__ import annotations

import functools

import geopandas as gpd
import pandas as pd

from geo.maps.recipe import Lang, MapRecipe

_GRID = "generated grid "  # geo.io.grids.make_grid's source
_OWN_TITLES = {"grid": {"zh": "分析网格", "en": "Analysis grid"}}  # layers geo makes


@functools.cache
def _bundled_sources(name: str) -> frozenset[str]:
    from geo.io.zones import load_layer

    return frozenset(map(str, load_layer(name)["source"].dropna().unique()))


def _clauses(frame: gpd.GeoDataFrame) -> tuple[list[str], int]:
    """Source clauses (``;``-separated) every feature shares, and how many features add others."""
    features = [[c.strip() for c in str(v).split(";") if c.strip()]
                for v in frame["source"].dropna()]
    if not features:
        return [], 0
    common = [c for c in dict.fromkeys(features[0]) if all(c in f for f in features)]
    return common, sum(any(c not in common for c in f) for f in features)


def source_note(layers: dict[str, gpd.GeoDataFrame], lang: Lang = "zh",
                recipe: MapRecipe | None = None, extra: list[str] | None = None) -> list[str]:
    """Sentences crediting a map's zone layers: short, complete and without repeats.

    A zone layer is one with a ``source`` column, other than results derived
    from zones (``*_indices``, ``site_*``). A bundled layer is credited by its
    catalogue entry (``layers/catalog.toml``): title, source and licence in
    ``lang``. A user's layer gets its title (from ``recipe``, else its name),
    whether it is approximate, and the source clauses (``;``-separated) that
    all its features share. Clauses particular to some features are counted,
    not listed, and a last sentence says where they are. Layers with the same
    sources share one sentence; ``extra`` entries follow, once each.

    Parameters
    ----------
    layers : dict of str to GeoDataFrame
        The map's layers by name.
    lang : {"zh", "en"}
        Language of the note.
    recipe : MapRecipe, optional
        Titles of user layers (else their names).
    extra : list of str, optional
        Further sources, one sentence each.

    Returns
    -------
    list of str
        Sentences, without a leading "Sources:" label.

    Examples
    --------
    >>> from geo.io.zones import load_layer
    >>> source_note({"districts": load_layer("districts")}, "en")[0][:46]
    'Hangzhou districts and counties (county-level '
    """
    from geo.io.zones import load_catalog

    zh = lang == "zh"
    catalog = load_catalog()
    by_body: dict[str, list[str]] = {}
    details = False
    for name, frame in layers.items():
        if "source" not in frame.columns or name.endswith("_indices") or name.startswith(
                "site_"):
            continue
        common, particular = _clauses(frame)
        if not common and not particular:
            continue
        if zh:  # the one source text geo itself writes (geo.io.grids)
            common = [f"本工具生成的网格 {c.removeprefix(_GRID)}" if c.startswith(_GRID) else c
                      for c in common]
        details = details or particular > 0
        meta = catalog.get(name)
        if meta is not None and set(map(str, frame["source"].dropna())) <= _bundled_sources(name):
            label = meta["title_zh"] if zh else meta["title_en"]
            source = meta.get("source_zh", meta["source"]) if zh else meta["source"]
            licence = meta.get("licence_zh", meta["licence"]) if zh else meta["licence"]
            body = f"{source}（{licence}）" if zh else f"{source} ({licence})"
        else:
            style = recipe.layer(name) if recipe is not None else None
            label = style.title(lang) if style else _OWN_TITLES.get(name, {}).get(lang, name)
            accuracy = (frame["accuracy"].dropna().astype(str) if "accuracy" in frame
                        else pd.Series(dtype=str))
            if len(accuracy) and accuracy.str.lower().str.startswith("approximate").all():
                label += "（近似范围）" if zh else " (approximate)"
            body = ("；" if zh else "; ").join(common)
            if particular:
                if zh:
                    body += (f"；另有 {particular} 个要素的逐一说明" if common
                             else f"{particular} 个要素各有来源说明")
                else:
                    body += (f"; with notes on {particular} features" if common
                             else f"a separate source for each of its {particular} features")
        by_body.setdefault(body, []).append(label)
    sentences = [("、" if zh else ", ").join(labels) + ("：" if zh else ": ") + body
                 for body, labels in by_body.items()]
    sentences += [str(entry) for entry in dict.fromkeys(extra or [])
                  if str(entry) not in sentences]
    if details:
        sentences.append(
            "逐要素的完整来源见各图层的 source 字段（运行结果的 layers.gpkg）" if zh
            else "every feature's full source: the source column of each layer "
                 "(layers.gpkg of the run)"
        )
    return sentences
