"""Write the messy enterprise registers of the register-reading tests (run once; files kept).

    .venv/bin/python tests/data/registers/make_registers.py

Seven small registers in the styles a Hangzhou planning institute receives them in, each
with problems planted at known rows, plus ``expected.json`` (the planted facts as
machine-readable ground truth) and ``README.md`` (the same in prose, with the counts). All
three are written from one seeded generator, so a second run gives byte-identical files.

Positions are placed in WGS84 inside the bundled district polygons
(``layers/districts.geojson``), measured in EPSG:4549, and written as GCJ-02 (Amap) with
``geo.io.crs.wgs84_to_gcj02``, rounded to 6 decimals as Amap returns them. The WGS84 positions
recorded in ``expected.json`` are those a reader recovers from the written GCJ-02 values
with ``geo.io.crs.gcj02_to_wgs84``.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import re
import zipfile
from pathlib import Path

# openpyxl writes other bytes with lxml (python-docx brings it) than without it:
# its own serialiser always, so the files do not depend on what else is installed
os.environ["OPENPYXL_LXML"] = "False"

import geopandas as gpd  # noqa: E402
import numpy as np  # noqa: E402
import openpyxl  # noqa: E402
import pyproj  # noqa: E402
import shapely  # noqa: E402

from geo.io.crs import DEFAULT_ANALYSIS_CRS, gcj02_to_wgs84, wgs84_to_gcj02  # noqa: E402

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
OUT = HERE  # where the files go: --out FOLDER (the tests regenerate into a temp folder)
SEED = 20240611

# --------------------------------------------------------------------------- reference data

# GB/T 4754-2017 classes used here, with their names (checked against a full 2017 table).
CLASSES_2017 = {
    "0111": "稻谷种植", "0151": "仁果类和核果类水果种植", "0164": "茶叶种植",
    "0211": "林木育种", "0220": "造林和更新", "0412": "内陆养殖", "0511": "种子种苗培育活动",
    "0610": "烟煤和无烟煤开采洗选", "0810": "铁矿采选", "1011": "石灰石、石膏开采",
    "1019": "粘土及其他土砂石开采", "1190": "其他开采专业及辅助性活动",
    "2524": "煤制品制造", "5111": "谷物、豆及薯类批发",
    "1514": "黄酒制造", "1530": "精制茶加工", "1713": "棉印染精加工", "1751": "化纤织造加工",
    "1761": "针织或钩针编织物织造", "1811": "运动机织服装制造", "1830": "服饰制造",
    "2110": "木质家具制造", "2231": "纸和纸板容器制造", "2319": "包装装潢及其他印刷",
    "2614": "有机化学原料制造", "2710": "化学药品原料药制造", "2720": "化学药品制剂制造",
    "2761": "生物药品制造", "2926": "塑料包装箱及容器制造", "3311": "金属结构制造",
    "3484": "机械零部件加工", "3581": "医疗诊断、监护及治疗设备制造",
    "3670": "汽车零部件及配件制造", "3744": "航空相关设备制造", "3819": "其他电机制造",
    "3841": "锂离子电池制造", "3851": "家用制冷电器具制造", "3911": "计算机整机制造",
    "3914": "工业控制计算机及系统制造", "3921": "通信系统设备制造", "3973": "集成电路制造",
    "3976": "光电子器件制造", "3981": "电阻电容电感元件制造", "4011": "工业自动控制系统装置制造",
    "4028": "电子测量仪器制造", "4190": "其他未列明制造业", "4320": "通用设备修理",
    "4413": "水力发电", "4430": "热力生产和供应", "4710": "住宅房屋建筑",
    "4813": "市政道路工程建筑", "4910": "电气安装", "5011": "公共建筑装饰和装修",
    "5012": "住宅装饰和装修", "5132": "服装批发", "5211": "百货零售", "5212": "超级市场零售",
    "5261": "汽车新车零售", "5292": "互联网零售",
    "5431": "普通货物道路运输", "5437": "城市配送", "5821": "货物运输代理", "5920": "通用仓储",
    "6020": "快递服务", "6110": "旅游饭店", "6130": "民宿服务", "6210": "正餐服务",
    "6220": "快餐服务", "6231": "茶馆服务", "6311": "固定电信服务", "6410": "互联网接入及相关服务",
    "6422": "互联网游戏服务", "6432": "互联网生活服务平台", "6450": "互联网数据服务",
    "6513": "应用软件开发", "6520": "集成电路设计", "6531": "信息系统集成服务",
    "6532": "物联网技术服务", "6550": "信息处理和存储支持服务", "6560": "信息技术咨询服务",
    "6572": "动漫、游戏数字内容服务", "6591": "呼叫中心", "6621": "商业银行服务",
    "6731": "创业投资基金", "6760": "资本投资服务", "7010": "房地产开发经营", "7020": "物业管理",
    "7030": "房地产中介服务", "7111": "汽车租赁", "7211": "企业总部管理",
    "7231": "律师及相关法律服务", "7241": "会计、审计及税务服务", "7242": "市场调查",
    "7251": "互联网广告服务", "7263": "劳务派遣服务", "7281": "科技会展服务",
    "7310": "自然科学研究和试验发展", "7320": "工程和技术研究和试验发展", "7483": "工程勘察活动",
    "7484": "工程设计活动", "7485": "规划设计管理", "7491": "工业设计服务", "7492": "专业设计服务",
    "7520": "知识产权服务", "7530": "科技中介服务", "7540": "创业空间服务",
    "7723": "固体废物治理", "7810": "市政设施管理", "7861": "名胜风景区管理",
    "8010": "家庭服务", "8040": "理发及美容服务", "8111": "汽车修理与维护", "8310": "学前教育",
    "8391": "职业技能培训", "8411": "综合医院", "8610": "新闻业", "8730": "影视节目制作",
    "8810": "文艺创作与表演", "9030": "休闲观光活动", "9051": "文化活动服务",
}
# GB/T 4754-2011 classes planted in mixed_2011_2017.csv: 2011 name, the 2017 code of the
# same activity (a group when the 2011 class was split), and what the same 4 digits mean
# in 2017 (None: no such 2017 class).
CLASSES_2011 = {
    "6510": ("软件开发", "I651", None),
    "6520": ("信息系统集成服务", "I6531", "集成电路设计"),
    "6530": ("信息技术咨询服务", "I6560", None),
    "6540": ("数据处理和存储服务", "I6550", "运行维护服务"),
    "6550": ("集成电路设计", "I6520", "信息处理和存储支持服务"),
    "6591": ("数字内容服务", "I657", "呼叫中心"),
    "6592": ("呼叫中心", "I6591", None),
    "7910": ("家庭服务", "O8010", "土地整治服务"),
    "7940": ("理发及美容服务", "O8040", None),
    "8011": ("汽车修理与维护", "O8111", None),
    "8210": ("学前教育", "P8310", None),
    "8311": ("综合医院", "Q8411", None),
    "8630": ("电影和影视节目制作", "R8730", None),
    "8710": ("文艺创作与表演", "R8810", "广播"),
}
# Amap's centres (GCJ-02) of Hangzhou and its districts, as its geocoder returns them for an
# address that names only the city or the district.
CITY_CENTRE = (120.153576, 30.287459)
AMAP_CENTRES = {
    "上城区": (120.19732, 30.226543), "拱墅区": (120.141503, 30.319126),
    "西湖区": (120.130396, 30.259242), "滨江区": (120.211981, 30.208332),
    "萧山区": (120.264263, 30.184119), "余杭区": (119.978742, 30.273705),
    "富阳区": (119.96022, 30.048803), "临安区": (119.724457, 30.234375),
    "临平区": (120.299222, 30.419154), "钱塘区": (120.493941, 30.32304),
    "桐庐县": (119.691755, 29.79418), "淳安县": (119.042015, 29.609678),
    "建德市": (119.281195, 29.474964),
}
SHANGHAI = (121.473701, 31.230416)  # Amap's centre of 上海市 (GCJ-02)

STREETS = {
    "上城区": ["解放路", "延安路", "庆春路", "钱江路", "富春路", "秋涛路", "望江东路", "九堡大道"],
    "拱墅区": ["莫干山路", "湖墅南路", "大关路", "丽水路", "登云路", "环城北路", "体育场路"],
    "西湖区": ["文三路", "文二路", "教工路", "天目山路", "古墩路", "西溪路", "学院路", "紫金港路"],
    "滨江区": ["江南大道", "滨盛路", "网商路", "长河路", "江虹路", "物联网街", "月明路"],
    "萧山区": ["市心路", "人民路", "金城路", "建设一路", "通惠路", "博学路", "鸿达路"],
    "余杭区": ["文一西路", "五常大道", "良睦路", "高教路", "向往街", "余杭塘路", "仓兴街"],
    "富阳区": ["金桥北路", "江滨西大道", "迎宾北路", "大桥路", "桂花路", "新登大道"],
    "临安区": ["钱王大街", "衣锦街", "城中街", "科技大道", "江桥路", "锦城街道天目路"],
    "临平区": ["迎宾路", "世纪大道", "临平大道", "藕花洲大街", "星光街", "红丰路"],
    "钱塘区": ["下沙路", "学林街", "文渊路", "义蓬路", "海达南路", "福城路"],
    "桐庐县": ["迎春南路", "白云源路", "学圣路", "春江路", "城南街道金东路"],
    "淳安县": ["千岛湖镇环湖北路", "千岛湖镇新安大街", "千岛湖镇阳光路", "千岛湖镇排岭南路"],
    "建德市": ["新安江街道新安路", "洋溪街道洋安大道", "新安江街道严州大道", "府东街"],
}
# registration-authority codes used in credit ids before a district existed in its present form
OLD_ADCODES = {
    "上城区": ("330102", "330104"), "拱墅区": ("330105", "330103"), "临平区": ("330110",),
    "钱塘区": ("330104", "330109"), "富阳区": ("330183",), "临安区": ("330185",),
}
SHORT = {
    "萧山区": "萧山", "余杭区": "余杭", "富阳区": "富阳", "临安区": "临安", "临平区": "临平",
    "钱塘区": "钱塘", "桐庐县": "桐庐县", "淳安县": "淳安县", "建德市": "建德市",
}
URBAN = ("上城区", "拱墅区", "西湖区", "滨江区")
WEIGHTS = {  # district weights of ordinary firms by group
    "manufacturing": {"萧山区": 16, "余杭区": 9, "临平区": 12, "钱塘区": 12, "富阳区": 10,
                      "临安区": 7, "桐庐县": 5, "建德市": 4, "淳安县": 2, "滨江区": 6,
                      "西湖区": 3, "拱墅区": 3, "上城区": 2},
    "producer_services": {"西湖区": 16, "滨江区": 15, "上城区": 14, "拱墅区": 11, "余杭区": 14,
                          "萧山区": 9, "临平区": 4, "钱塘区": 5, "富阳区": 3, "临安区": 2,
                          "桐庐县": 2, "建德市": 1, "淳安县": 1},
    "other": {"上城区": 10, "拱墅区": 10, "西湖区": 10, "滨江区": 6, "萧山区": 12, "余杭区": 10,
              "临平区": 6, "钱塘区": 5, "富阳区": 6, "临安区": 5, "桐庐县": 4, "建德市": 4,
              "淳安县": 4},
}

# Company-name templates by class: {p} place prefix, {b} two-character trade name.
_S = ("有限公司", "科技有限公司", "股份有限公司")
TEMPLATES: dict[str, list[str]] = {
    "0111": ["{p}{b}粮油专业合作社", "{p}{b}农业开发有限公司"],
    "0151": ["{p}{b}水蜜桃专业合作社", "{p}{b}果业有限公司"],
    "0164": ["{p}{b}茶叶有限公司", "{p}{b}茶场", "{p}{b}龙井茶专业合作社"],
    "0211": ["{p}{b}林木种苗有限公司"],
    "0220": ["{p}{b}林业开发有限公司"],
    "0412": ["{p}{b}水产养殖有限公司", "{p}{b}渔业有限公司"],
    "0511": ["{p}{b}种苗有限公司", "{p}{b}花木种苗专业合作社"],
    "0610": ["{p}{b}矿业有限公司"],
    "0810": ["{p}{b}铁矿有限公司"],
    "1011": ["{p}{b}钙业有限公司", "{p}{b}石灰石矿业有限公司"],
    "1019": ["{p}{b}砂石有限公司"],
    "1190": ["{p}{b}矿山工程技术服务有限公司"],
    "2524": ["{p}{b}煤制品有限公司"],
    "4413": ["{p}{b}水电站", "{p}{b}水力发电有限公司"],
    "4430": ["{p}{b}热电有限公司"],
    "6621": ["{p}{b}农村商业银行股份有限公司", "{p}{b}村镇银行股份有限公司"],
    "7211": ["{p}{b}控股集团有限公司", "{p}{b}实业集团有限公司"],
    "7231": ["浙江{b}律师事务所", "浙江{b}律师事务所杭州分所"],
    "7241": ["{p}{b}会计师事务所有限公司", "{p}{b}税务师事务所有限公司"],
    "8310": ["{p}{b}幼儿园有限公司", "{p}{b}双语幼儿园"],
    "8391": ["{p}{b}职业技能培训学校有限公司"],
    "8411": ["{p}{b}医院有限公司", "{p}{b}综合门诊部有限公司"],
}
WORDS = {
    "1514": ["黄酒", "酿酒"], "1530": ["茶叶", "茗茶"], "1713": ["印染"], "1751": ["化纤", "纺织"],
    "1761": ["针织"], "1811": ["服饰", "服装"], "1830": ["服饰"], "2110": ["家具", "家居"],
    "2231": ["包装", "纸制品"], "2319": ["印务", "印刷"], "2614": ["化工"], "2710": ["药业"],
    "2720": ["制药", "药业"], "2761": ["生物医药", "生物技术"], "2926": ["塑业", "塑料制品"],
    "3311": ["钢结构", "钢构"], "3484": ["精密机械", "机械"], "3581": ["医疗器械", "医疗设备"],
    "3670": ["汽车部件", "汽配"], "3744": ["航空科技", "航空设备"], "3819": ["电机"],
    "3841": ["新能源", "电池"], "3851": ["电器", "制冷设备"], "3911": ["电子", "计算机"],
    "3914": ["工控"], "3921": ["通信设备", "通讯"], "3973": ["微电子", "半导体"],
    "3976": ["光电"], "3981": ["电子元件"], "4011": ["自动化", "智能控制"],
    "4028": ["仪器", "测控"], "4190": ["工艺品"], "4320": ["机电设备维修", "设备修理"],
    "4710": ["建设", "建筑工程"], "4813": ["市政工程", "路桥工程"],
    "4910": ["电气安装", "机电安装"],
    "5011": ["装饰工程", "幕墙装饰"], "5012": ["装饰设计", "家装"], "5132": ["服饰贸易", "服装"],
    "5111": ["粮油贸易", "农产品贸易"],
    "5211": ["百货"], "5212": ["超市"], "5261": ["汽车销售服务"], "5292": ["电子商务", "网络商贸"],
    "5431": ["物流", "货运"], "5437": ["同城配送", "城配物流"],
    "5821": ["国际货运代理", "货运代理"],
    "5920": ["仓储", "供应链管理"], "6020": ["快递", "速递"], "6110": ["酒店", "大酒店"],
    "6130": ["民宿"], "6210": ["餐饮管理", "酒楼"], "6220": ["快餐"], "6231": ["茶楼", "茶馆"],
    "6311": ["通信服务"], "6410": ["网络"], "6422": ["网络游戏", "互娱"], "6432": ["网络科技"],
    "6450": ["数据", "大数据"], "6513": ["软件", "信息技术"], "6520": ["芯片设计", "微电子"],
    "6531": ["系统集成", "信息技术"], "6532": ["物联网"], "6550": ["云计算", "数据服务"],
    "6560": ["信息咨询", "数字科技"], "6572": ["动漫", "游戏"], "6591": ["呼叫中心", "客户服务"],
    "6731": ["创业投资", "创投"], "6760": ["投资管理", "资本管理"], "7010": ["房地产开发", "置业"],
    "7020": ["物业管理", "物业服务"], "7030": ["房产经纪", "房地产代理"], "7111": ["汽车租赁"],
    "7242": ["市场调查", "市场研究"], "7251": ["网络广告", "广告"], "7263": ["人力资源", "劳务"],
    "7281": ["会展", "展览"], "7310": ["生物研究院", "研究院"],
    "7320": ["工程技术研究院", "研究院"], "7483": ["勘察", "岩土工程"],
    "7484": ["建筑设计", "工程设计"], "7485": ["规划设计", "城市规划"],
    "7491": ["工业设计"], "7492": ["设计", "创意设计"], "7520": ["知识产权代理", "专利代理"],
    "7530": ["科技服务", "技术转移"], "7540": ["众创空间", "孵化器"], "7723": ["环保", "固废处理"],
    "7810": ["市政设施管理"], "7861": ["旅游开发", "景区管理"], "8010": ["家政服务", "家政"],
    "8040": ["美容美发", "美发"], "8111": ["汽车维修", "汽车服务"], "8610": ["新闻传媒"],
    "8730": ["影视文化", "影业"], "8810": ["文化艺术", "演艺"], "9030": ["休闲农业", "旅游开发"],
    "9051": ["文化策划", "文化活动"],
}
CODES = {  # ordinary 2017 classes by group, for the rows nothing is planted in
    "manufacturing": ["1514", "1530", "1713", "1751", "1761", "1811", "1830", "2110", "2231",
                      "2319", "2614", "2710", "2720", "2761", "2926", "3311", "3484", "3581",
                      "3670", "3744", "3819", "3841", "3851", "3911", "3914", "3921", "3973",
                      "3976", "3981", "4011", "4028", "4190", "4320"],
    "producer_services": ["5431", "5437", "5821", "5920", "6020", "6311", "6410", "6422",
                          "6432", "6450", "6513", "6513", "6513", "6520", "6531", "6532",
                          "6550", "6560", "6572", "6591", "6621", "6731", "6760", "7111",
                          "7211", "7231", "7241", "7242", "7251", "7263", "7281", "7310",
                          "7320", "7483", "7484", "7485", "7491", "7492", "7520", "7530",
                          "7540", "7723", "7810", "7861"],
    "other": ["4710", "4813", "4910", "5011", "5012", "5132", "5211", "5212", "5261", "5292",
              "5292", "6110", "6130", "6210", "6220", "6231", "7010", "7020", "7030", "8010",
              "8040", "8111", "8310", "8391", "8411", "8610", "8730", "8810", "9030", "9051"],
}
GROUP_SHARE = {"manufacturing": 0.35, "producer_services": 0.4, "other": 0.25}

BRAND = (
    "华信联泰恒达通远鑫瑞博创智云海康宏安嘉盛德源禾诚浩睿易迅杰卓新锦富春江明光天宇中正和"
    "合兴旺丰茂聚汇晨曦启航星辰领峰汉唐永益佳晟弘毅凯"
)
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍建国志红飞斌宇浩然欣怡子轩晓东"

GROUPS = ("manufacturing", "producer_services", "other")
USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
FIXED_ZIP_TIME = (2024, 6, 11, 9, 0, 0)
FIXED_ISO_TIME = "2024-06-11T09:00:00Z"


def read_table(name: str) -> list[dict[str, str]]:
    path = ROOT / "geo" / "data" / "industry" / name
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


SECTIONS = {row["section"]: row["name_zh"] for row in read_table("sections.csv")}
DIVISIONS = {r["division"]: (r["section"], r["name_zh"]) for r in read_table("divisions.csv")}


def group_of(division: str) -> str:
    """Group of a division by the brief's definition (independent of geo.io.industry)."""
    number = int(division)
    if 13 <= number <= 43:
        return "manufacturing"
    if 53 <= number <= 60 or 63 <= number <= 69 or 71 <= number <= 79:
        return "producer_services"
    return "other"


def full_code(digits: str) -> str:
    """Section letter + digits (2 to 4) of a GB/T 4754-2017 code."""
    return DIVISIONS[digits[:2]][0] + digits


def naive_code(raw: str) -> str | None:
    """What a reader gives that takes a 3-digit code as given and checks only the division."""
    text = raw.strip().upper()
    letter = text[0] if text[:1].isalpha() else ""
    digits = text[1:] if letter else text
    if len(digits) == 1:
        digits = "0" + digits
    if digits[:2] not in DIVISIONS:
        return None
    section = DIVISIONS[digits[:2]][0]
    if letter and letter != section:
        return None
    return section + digits


# --------------------------------------------------------------------------- geography


class Geography:
    """District polygons (metric), the study area, and placing points in them."""

    def __init__(self) -> None:
        frame = gpd.read_file(ROOT / "layers" / "districts.geojson")
        self.names = [str(n) for n in frame["name_zh"]]
        self.adcode = {n: str(a) for n, a in zip(self.names, frame["adcode"], strict=True)}
        metric = frame.to_crs(DEFAULT_ANALYSIS_CRS)
        self.poly = dict(zip(self.names, metric.geometry, strict=True))
        self.wgs = dict(zip(self.names, frame.geometry, strict=True))
        self.union = shapely.union_all(list(metric.geometry))
        self.union_wgs = shapely.union_all(list(frame.geometry))
        for geom in (*self.poly.values(), *self.wgs.values(), self.union, self.union_wgs):
            shapely.prepare(geom)
        self._inset: dict[tuple[str, float], shapely.Geometry] = {}
        self.to_wgs = pyproj.Transformer.from_crs(DEFAULT_ANALYSIS_CRS, "EPSG:4326", always_xy=True)
        self.to_metric = pyproj.Transformer.from_crs(
            "EPSG:4326", DEFAULT_ANALYSIS_CRS, always_xy=True
        )
        towns = gpd.read_file(ROOT / "layers" / "town_centres.geojson").to_crs(DEFAULT_ANALYSIS_CRS)
        self.centres: dict[str, list[tuple[float, float]]] = {}
        for name, (glon, glat) in AMAP_CENTRES.items():
            self.centres[name] = [self.metric_of_gcj(glon, glat)]
        for district, point in zip(towns["district_name_zh"], towns.geometry, strict=True):
            self.centres[str(district)].append((point.x, point.y))

    def metric_of_gcj(self, glon: float, glat: float) -> tuple[float, float]:
        lon, lat = gcj02_to_wgs84(glon, glat)
        return self.to_metric.transform(float(lon), float(lat))

    def inset(self, district: str, metres: float) -> shapely.Geometry:
        key = (district, metres)
        if key not in self._inset:
            geom = self.poly[district].buffer(-metres)
            shapely.prepare(geom)
            self._inset[key] = geom
        return self._inset[key]

    def sample(self, rng: np.random.Generator, district: str, inset: float = 300.0):
        """A metric point well inside a district, clustered around its centres."""
        area = self.inset(district, inset)
        west, south, east, north = area.bounds
        centres = self.centres[district]
        sigma = 2500.0 if district in URBAN else 4500.0
        while True:
            if rng.random() < 0.7:
                cx, cy = centres[int(rng.integers(len(centres)))]
                x, y = cx + rng.normal(0.0, sigma), cy + rng.normal(0.0, sigma)
            else:
                x, y = rng.uniform(west, east), rng.uniform(south, north)
            if shapely.contains_xy(area, x, y):
                return float(x), float(y)

    def district_at(self, lon: float, lat: float) -> str | None:
        for name in self.names:
            if shapely.intersects_xy(self.wgs[name], lon, lat):
                return name
        return None

    def place_metric(self, x: float, y: float) -> dict:
        """Write a metric point as GCJ-02 (6 decimals) and say what a reader recovers."""
        lon, lat = self.to_wgs.transform(x, y)
        glon, glat = wgs84_to_gcj02(lon, lat)
        return self.place_gcj(round(float(glon), 6), round(float(glat), 6))

    def place_gcj(self, glon: float, glat: float) -> dict:
        lon, lat = gcj02_to_wgs84(glon, glat)
        lon, lat = float(lon), float(lat)
        return {
            "gcj": (glon, glat),
            "wgs": (lon, lat),
            "district": self.district_at(lon, lat),
            "inside": bool(shapely.intersects_xy(self.union_wgs, lon, lat)),
        }

    def nearest_district(self, x: float, y: float) -> str:
        point = shapely.Point(x, y)
        return min(self.names, key=lambda n: self.poly[n].distance(point))


# --------------------------------------------------------------------------- identities


class Identities:
    """Unique company names, credit codes and people's names."""

    def __init__(self, rng: np.random.Generator, adcodes: dict[str, str]) -> None:
        self.rng = rng
        self.adcodes = adcodes
        self.names: set[str] = set()
        self.ids: set[str] = set()

    def pick(self, seq):
        return seq[int(self.rng.integers(len(seq)))]

    def brand(self) -> str:
        first = self.pick(BRAND)
        second = self.pick(BRAND)
        while second == first:
            second = self.pick(BRAND)
        return first + second

    def prefix(self, district: str) -> str:
        if district in ("桐庐县", "淳安县", "建德市"):
            return self.pick([SHORT[district], SHORT[district], "杭州"])
        if district in SHORT and self.rng.random() < 0.4:
            return "杭州" + SHORT[district]
        return self.pick(["杭州", "杭州", "杭州", "浙江"])

    def company(self, code4: str, district: str) -> str:
        if code4 in TEMPLATES:
            templates = TEMPLATES[code4]
        else:
            templates = [f"{{p}}{{b}}{w}{s}" for w in WORDS[code4] for s in _S]
        while True:
            name = self.pick(templates).format(p=self.prefix(district), b=self.brand())
            if name not in self.names:
                self.names.add(name)
                return name

    def person(self) -> str:
        given = self.pick(GIVEN) + (self.pick(GIVEN) if self.rng.random() < 0.7 else "")
        return self.pick(SURNAMES) + given

    def year(self) -> int:
        return int(min(2023, 1993 + np.floor(31 * self.rng.random() ** 0.6)))

    def credit_code(self, district: str, year: int, name: str) -> str:
        """An 18-character unified social credit code with valid check characters.

        Head 91 (company), 93 (farmers' cooperative), 31 (law firm, registered by the
        provincial justice department) or 52 (private non-enterprise unit); the
        registration authority is the district, or its predecessor for older firms.
        """
        adcode = self.adcodes[district]
        if year < 2021 and district in OLD_ADCODES and self.rng.random() < 0.7:
            adcode = self.pick(OLD_ADCODES[district])
        elif self.rng.random() < 0.08:
            adcode = "330100"
        head = "91"
        if "合作社" in name:
            head = "93"
        elif "律师事务所" in name:
            head, adcode = "31", "330000"
        elif name.endswith("幼儿园"):
            head = "52"
        while True:
            if year >= 2016:
                body = "MA" + "".join(self.pick(USCC_CHARS) for _ in range(6))
            else:
                body = "".join(self.pick("0123456789") for _ in range(8))
            stem = head + adcode + body + org_check(body)
            code = stem + uscc_check(stem)
            if code not in self.ids:
                self.ids.add(code)
                return code


def uscc_check(stem: str) -> str:
    total = sum(USCC_CHARS.index(c) * w for c, w in zip(stem, USCC_WEIGHTS, strict=True))
    return USCC_CHARS[(31 - total % 31) % 31]


def org_check(body: str) -> str:
    values = [int(c) if c.isdigit() else ord(c) - 55 for c in body]
    check = 11 - sum(v * w for v, w in zip(values, ORG_WEIGHTS, strict=True)) % 11
    return {10: "X", 11: "0"}.get(check, str(check))


# --------------------------------------------------------------------------- firm records


class Builder:
    """Shared state of one file: its generator, identities and geography."""

    def __init__(self, geo: Geography, index: int) -> None:
        self.geo = geo
        self.rng = np.random.default_rng([SEED, index])
        self.ids = Identities(self.rng, geo.adcode)

    def pick(self, seq):
        return self.ids.pick(seq)

    def district_for(self, group: str) -> str:
        weights = WEIGHTS[group]
        names = list(weights)
        p = np.array([weights[n] for n in names], dtype=float)
        return names[int(self.rng.choice(len(names), p=p / p.sum()))]

    def ordinary_code(self) -> str:
        groups = list(GROUP_SHARE)
        p = np.array([GROUP_SHARE[g] for g in groups])
        group = groups[int(self.rng.choice(len(groups), p=p))]
        return self.pick(CODES[group])

    def employees(self, group: str) -> int:
        mu = {"manufacturing": 3.9, "producer_services": 3.1, "other": 2.6}[group]
        return int(np.clip(np.round(np.exp(self.rng.normal(mu, 1.1))), 1, 20000))

    def firm(self, code4: str, district: str, *, inset: float = 300.0, point=None) -> dict:
        """One firm: identity, position (a place dict) and its true 2017 code and group."""
        name = self.ids.company(code4, district)
        year = self.ids.year()
        place = point if point is not None else self.geo.place_metric(
            *self.geo.sample(self.rng, district, inset)
        )
        group = group_of(code4[:2])
        return {
            "name": name,
            "firm_id": self.ids.credit_code(district, year, name),
            "year": year,
            "district": district,
            "code4": code4,
            "code": full_code(code4),
            "group": group,
            "employees": self.employees(group),
            "place": place,
        }

    def address(self, district: str) -> str:
        street = self.pick(STREETS[district])
        text = f"浙江省杭州市{district}{street}{int(self.rng.integers(1, 999))}号"
        if self.rng.random() < 0.4:
            block, floor = int(self.rng.integers(1, 12)), int(self.rng.integers(1, 24))
            text += f"{block}幢{floor}0{int(self.rng.integers(1, 9))}室"
        return text

    def date(self, year: int, style: str) -> str:
        month, day = int(self.rng.integers(1, 13)), int(self.rng.integers(1, 29))
        if style == "iso":
            return f"{year}-{month:02d}-{day:02d}"
        if style == "slash":
            return f"{year}/{month}/{day}"
        return f"{year}年{month}月{day}日"

    def capital(self, *, excel: bool) -> str:
        amount = self.pick([10, 30, 50, 100, 100, 200, 300, 500, 500, 1000, 2000, 5000])
        if self.rng.random() < 0.1:
            amount = round(float(amount) * 1.5 + 0.5, 1)
        units = ["万元人民币", "万元人民币", "万元人民币", "万人民币", "万美元", "万元"]
        if not excel:
            units = ["万元人民币", "万元人民币", "万元人民币", "万美元"]
        return f"{amount}{self.pick(units)}"

    def shuffle(self, records: list[dict]) -> list[dict]:
        order = self.rng.permutation(len(records))
        return [records[i] for i in order]


def excel_number(value: float) -> str:
    """A coordinate as Excel writes a number: up to 6 decimals, no trailing zeros."""
    return f"{value:.6f}".rstrip("0").rstrip(".")


def amap_number(value: float) -> str:
    return f"{value:.6f}"


def truth(firm: dict, row: int, **extra) -> dict:
    """The expected.json entry of one row."""
    place = firm["place"]
    entry = {
        "row": row,
        "firm_id": firm["firm_id"],
        "name": firm["name"],
        "status": "map",
        "code": firm["code"],
        "group": firm["group"],
        "planted": [],
        "district_label": firm["district"],
        "point_district": place["district"],
        "lon_wgs84": round(place["wgs"][0], 7),
        "lat_wgs84": round(place["wgs"][1], 7),
    }
    entry.update(extra)
    return entry


def write_csv(path: Path, header: list[str], rows: list[list[str]], *, encoding: str,
              newline: str) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator=newline)
    writer.writerow(header)
    writer.writerows(rows)
    path.write_bytes(buffer.getvalue().encode(encoding))


# --------------------------------------------------------------------------- 1. Excel GBK


def excel_gbk_stripped(geo: Geography) -> dict:
    b = Builder(geo, 1)
    header = ["企业名称", "统一社会信用代码", "行业门类", "行业大类", "行业代码", "企业地址",
              "所属区县", "经度", "纬度", "从业人员", "注册资本", "成立日期"]
    records = []

    def add(code4, district, raw, kind, section=None, division=None, **extra):
        firm = b.firm(code4, district)
        sec = section or DIVISIONS[code4[:2]][0]
        div = division or code4[:2]
        records.append({"firm": firm, "raw": raw, "kind": kind, "section": sec,
                        "division": div, **extra})

    # codes stored as numbers by Excel: the leading zero of sections A and B is gone
    stripped = [("0111", "富阳区"), ("0111", "桐庐县"), ("0151", "桐庐县"), ("0164", "西湖区"),
                ("0164", "淳安县"), ("0211", "临安区"), ("0220", "淳安县"), ("0412", "淳安县"),
                ("0412", "建德市"), ("0511", "萧山区"), ("0610", "建德市"), ("0810", "淳安县")]
    for code4, district in stripped:
        add(code4, district, str(int(code4)), "zero_stripped_code")
    # genuine 3-digit group codes, which look exactly like stripped ones
    add("1514", "萧山区", "151", "genuine_group_code")
    add("5111", "上城区", "511", "genuine_group_code")
    # section B codes of 4 digits are untouched
    add("1011", "建德市", "1011", "mining_4_digit")
    add("1019", "富阳区", "1019", "mining_4_digit")
    # codes written with their section letter
    for code4, raw in (("3911", "C3911"), ("6513", "I6513"), ("7320", "M7320"),
                       ("3841", "c3841")):
        add(code4, b.district_for(group_of(code4[:2])), raw, "section_letter")
    # the code contradicts the row's own 行业门类/行业大类
    contradictions = [("6513", "39"), ("3911", "65"), ("2720", "51"), ("1811", "72"),
                      ("7010", "17")]
    for code4, column_division in contradictions:
        add(code4, b.district_for("other"), code4, "section_contradicts_code",
            section=DIVISIONS[column_division][0], division=column_division)
    while len(records) < 120:
        code4 = b.ordinary_code()
        add(code4, b.district_for(group_of(code4[:2])), code4, "ordinary")
    records = b.shuffle(records)
    blank_employees = set(int(i) for i in b.rng.choice(len(records), size=10, replace=False))

    rows, entries = [], []
    for i, rec in enumerate(records):
        firm, row = rec["firm"], i + 2
        glon, glat = firm["place"]["gcj"]
        employees = "" if i in blank_employees else str(firm["employees"])
        style = b.pick(["iso", "iso", "slash", "slash", "cjk"])
        # the 3-digit group code of a genuine group row is the group itself
        if rec["kind"] == "genuine_group_code":
            firm["code"] = full_code(rec["raw"])
            firm["group"] = group_of(rec["raw"][:2])
        rows.append([
            firm["name"], firm["firm_id"], SECTIONS[rec["section"]],
            DIVISIONS[rec["division"]][1], rec["raw"], b.address(firm["district"]),
            firm["district"], excel_number(glon), excel_number(glat), employees,
            b.capital(excel=True), b.date(firm["year"], style),
        ])
        naive = naive_code(rec["raw"])
        entry = truth(firm, row, raw_code=rec["raw"], section_column=rec["section"],
                      division_column=rec["division"], naive_code=naive,
                      naive_group=group_of(naive[1:3]),
                      employees=None if i in blank_employees else firm["employees"])
        if rec["kind"] != "ordinary":
            entry["planted"].append(rec["kind"])
        if i in blank_employees:
            entry["planted"].append("employees_blank")
        if rec["kind"] == "section_contradicts_code":
            entry.update(status="reject", code=None, group=None,
                         code_says=firm["code"], code_says_group=firm["group"],
                         columns_say_group=group_of(rec["division"]),
                         reason="industry code contradicts the row's 行业门类/行业大类")
        entry["date_style"] = {"iso": "yyyy-mm-dd", "slash": "yyyy/m/d", "cjk": "yyyy年m月d日"}[
            style]
        entries.append(entry)
    # Excel writes rows whose cells were only cleared as a line of commas
    for _ in range(2):
        rows.append([""] * len(header))
        entries.append({"row": len(entries) + 2, "status": "ignore_or_reject", "code": None,
                        "group": None, "planted": ["excel_empty_row"],
                        "reason": "every cell empty (a cleared Excel row)"})
    write_csv(OUT / "excel_gbk_stripped.csv", header, rows, encoding="gbk", newline="\r\n")
    return {
        "format": {"encoding": "GBK", "bom": False, "newline": "CRLF", "delimiter": ",",
                   "numbers": "as Excel writes them: trailing zeros of coordinates dropped"},
        "coords": "gcj02",
        "header": header,
        "header_mapping": {"firm_id": "统一社会信用代码", "name": "企业名称",
                           "industry_code": "行业代码", "lon": "经度", "lat": "纬度",
                           "employees": "从业人员"},
        "industry_name_columns": {"section": "行业门类", "division": "行业大类"},
        "must_not_map": {
            "revenue": "注册资本 is registered capital, not revenue",
            "year": "成立日期 is a date (yyyy-mm-dd, yyyy/m/d or yyyy年m月d日), not a year "
                    "column; map it only if the year is parsed out of it",
        },
        "rows": entries,
    }


# --------------------------------------------------------------------------- 2. names only

# division-name variants seen in commercial exports; (2017 division, written as, kind)
NAME_VARIANTS = [
    ("15", "酒，饮料和精制茶制造业", "fullwidth_comma"),
    ("18", "纺织服装，服饰业", "fullwidth_comma"),
    ("15", "酒,饮料和精制茶制造业", "ascii_comma"),
    ("27", "医药制造业 ", "whitespace"),
    ("65", " 软件和信息技术服务业 ", "whitespace"),
    ("64", "互联网和 相关服务", "whitespace"),
    ("51", "批发业\u3000", "whitespace"),
    ("18", "纺织服装和服饰业", "he_for_dunhao"),
    ("43", "金属制品和机械和设备修理业", "he_for_dunhao"),
    ("27", "医药制造业（27）", "parenthesised_code"),
    ("35", "专用设备制造业（35）", "parenthesised_code"),
    ("65", "软件和信息技术服务业(65)", "parenthesised_code"),
]
# names of GB/T 4754-2011 divisions that 2017 renamed; (2017 division, 2011 name)
NAMES_2011 = [
    ("05", "农、林、牧、渔服务业"),
    ("11", "开采辅助活动"),
    ("25", "石油加工、炼焦和核燃料加工业"),
    ("87", "广播、电视、电影和影视录音制作业"),
]
# (section column, division column, what was meant or None)
UNMATCHED = [
    ("其他行业", "其他未列明行业", None),
    ("信息传输、软件和信息技术服物业", "软件和信息技朮服务业", "65"),
    ("新兴产业", "数字经济核心产业", None),
]


def names_only_qichacha(geo: Geography) -> dict:
    b = Builder(geo, 2)
    header = ["企业名称", "统一社会信用代码", "法定代表人", "登记状态", "成立日期", "注册资本",
              "国标行业门类", "国标行业大类", "所属区县", "企业地址", "经度", "纬度"]
    records = []

    def pick_class(division: str) -> str:
        options = [c for c in CLASSES_2017 if c[:2] == division]
        return b.pick(options)

    def add(division, section_text, division_text, kind, status="map", **extra):
        code4 = pick_class(division)
        group = group_of(division)
        firm = b.firm(code4, b.district_for(group))
        records.append({"firm": firm, "division": division, "section_text": section_text,
                        "division_text": division_text, "kind": kind, "status": status,
                        **extra})

    for division, text, kind in NAME_VARIANTS:
        section = DIVISIONS[division][0]
        section_text = SECTIONS[section]
        if kind == "parenthesised_code":
            section_text = f"{section_text}（{section}）"
        add(division, section_text, text, kind)
    for division, text in NAMES_2011:
        add(division, SECTIONS[DIVISIONS[division][0]], text, "gbt2011_division_name",
            status="map_or_reject")
    for section_text, division_text, meant in UNMATCHED:
        add(meant or b.pick(["65", "72", "51"]), section_text, division_text,
            "industry_name_unrecognised", status="reject", meant=meant)
    add(b.pick(["72", "52"]), "-", "-", "industry_missing", status="reject", meant=None)
    # sections K and P have a single division of the same name (房地产业, 教育)
    for division in ("70", "83"):
        add(division, SECTIONS[DIVISIONS[division][0]], DIVISIONS[division][1], "ordinary")
    while len(records) < 110:
        code4 = b.ordinary_code()
        division = code4[:2]
        add(division, SECTIONS[DIVISIONS[division][0]], DIVISIONS[division][1], "ordinary")
    records = b.shuffle(records)
    statuses = ["存续"] * 6 + ["在业"] * 3
    inactive = set(int(i) for i in b.rng.choice(
        [i for i, r in enumerate(records) if r["kind"] == "ordinary"], size=6, replace=False))
    inactive_labels = ["注销", "注销", "注销", "注销", "吊销，未注销", "吊销，未注销"]

    rows, entries = [], []
    for i, rec in enumerate(records):
        firm, row = rec["firm"], i + 2
        glon, glat = firm["place"]["gcj"]
        status_text = b.pick(statuses)
        if i in inactive:
            status_text = inactive_labels[sorted(inactive).index(i)]
        rows.append([
            firm["name"], firm["firm_id"], b.ids.person(), status_text,
            b.date(firm["year"], "iso"), b.capital(excel=False), rec["section_text"],
            rec["division_text"], firm["district"], b.address(firm["district"]),
            amap_number(glon), amap_number(glat),
        ])
        division = rec["division"]
        code = full_code(division)
        entry = truth(firm, row, section_column=rec["section_text"],
                      division_column=rec["division_text"], registration_status=status_text)
        entry["code"] = code
        entry["group"] = group_of(division)
        entry["class_hint"] = firm["code"]  # the class the synthetic firm was drawn from
        if rec["kind"] != "ordinary":
            entry["planted"].append(rec["kind"])
        if rec["kind"] == "ordinary" and rec["section_text"] == rec["division_text"]:
            entry["planted"].append("section_name_equals_division_name")
        if i in inactive:
            entry["planted"].append("inactive_registration")
        entry["status"] = rec["status"]
        if rec["status"] == "reject":
            entry.update(code=None, group=None, meant_division=rec["meant"],
                         reason="industry name matches no GB/T 4754-2017 section or division"
                         if rec["kind"] != "industry_missing" else "industry name missing")
        if rec["status"] == "map_or_reject":
            entry["reason_if_rejected"] = "GB/T 4754-2011 division name, renamed in 2017"
        entries.append(entry)
    write_csv(OUT / "names_only_qichacha.csv", header, rows, encoding="utf-8-sig", newline="\n")
    return {
        "format": {"encoding": "UTF-8 with BOM", "bom": True, "newline": "LF", "delimiter": ","},
        "coords": "gcj02",
        "header": header,
        "header_mapping": {"firm_id": "统一社会信用代码", "name": "企业名称", "lon": "经度",
                           "lat": "纬度"},
        "industry_name_columns": {"section": "国标行业门类", "division": "国标行业大类"},
        "no_code_column": True,
        "expected_code_level": "division (section letter + 2 digits, e.g. C15): the file "
                               "names only 门类 and 大类",
        "must_not_map": {"revenue": "注册资本 is registered capital, not revenue",
                         "year": "成立日期 is a date, not a year column"},
        "rows": entries,
    }


# --------------------------------------------------------------------------- 3. census


def census_headers(geo: Geography) -> dict:
    b = Builder(geo, 3)
    header = ["单位详细名称", "统一社会信用代码", "行业代码", "从业人员期末人数", "营业收入(千元)",
              "所属区县", "经度", "纬度"]
    records = []
    for code4, district in (("0164", "西湖区"), ("0511", "萧山区"), ("0412", "淳安县"),
                            ("0111", "建德市")):
        records.append((b.firm(code4, district), "leading_zero_kept"))
    while len(records) < 100:
        code4 = b.ordinary_code()
        records.append((b.firm(code4, b.district_for(group_of(code4[:2]))), "ordinary"))
    records = b.shuffle(records)
    rows, entries = [], []
    for i, (firm, kind) in enumerate(records):
        row = i + 2
        glon, glat = firm["place"]["gcj"]
        per_head = {"manufacturing": 900.0, "producer_services": 700.0, "other": 450.0}
        revenue = round(firm["employees"] * per_head[firm["group"]]
                        * float(np.exp(b.rng.normal(0.0, 0.5))), 1)
        name = firm["name"]
        if kind == "ordinary" and b.rng.random() < 0.08 and name.endswith("有限公司"):
            name = f"{name}{b.pick(['西湖', '滨江', '萧山', '余杭'])}分公司"
        firm["name"] = name
        rows.append([name, firm["firm_id"], firm["code4"], str(firm["employees"]),
                     f"{revenue:.1f}", firm["district"], amap_number(glon), amap_number(glat)])
        entry = truth(firm, row, raw_code=firm["code4"], employees=firm["employees"],
                      revenue_thousand_yuan=revenue)
        if kind != "ordinary":
            entry["planted"].append(kind)
        entries.append(entry)
    write_csv(OUT / "census_headers.csv", header, rows, encoding="utf-8", newline="\n")
    employees_by_group = {g: sum(e["employees"] for e in entries if e["group"] == g)
                          for g in GROUPS}
    return {
        "format": {"encoding": "UTF-8", "bom": False, "newline": "LF", "delimiter": ","},
        "coords": "gcj02",
        "header": header,
        "header_mapping": {"firm_id": "统一社会信用代码", "name": "单位详细名称",
                           "industry_code": "行业代码", "lon": "经度", "lat": "纬度",
                           "employees": "从业人员期末人数", "revenue": "营业收入(千元)"},
        "units": {"营业收入(千元)": "thousand yuan (千元); multiply by 1000 for yuan"},
        "employees_total": sum(e["employees"] for e in entries),
        "employees_by_group": employees_by_group,
        "revenue_total_thousand_yuan": round(sum(e["revenue_thousand_yuan"] for e in entries), 1),
        "rows": entries,
    }


# --------------------------------------------------------------------------- 4. fallbacks

MISMATCH_PAIRS = [("西湖区", "余杭区"), ("上城区", "拱墅区"), ("滨江区", "萧山区"),
                  ("萧山区", "钱塘区"), ("余杭区", "临平区"), ("富阳区", "西湖区"),
                  ("临安区", "余杭区"), ("拱墅区", "西湖区")]
SIMPLE_HEADER = ["企业名称", "统一社会信用代码", "行业代码", "所属区县", "经度", "纬度", "从业人员"]


def simple_row(firm: dict, raw_code: str | None = None) -> list[str]:
    glon, glat = firm["place"]["gcj"]
    return [firm["name"], firm["firm_id"], raw_code or firm["code4"], firm["district"],
            amap_number(glon), amap_number(glat), str(firm["employees"])]


def geocode_fallbacks(geo: Geography) -> dict:
    b = Builder(geo, 4)
    records = []
    city = geo.place_gcj(*CITY_CENTRE)
    xiaoshan = geo.place_gcj(*AMAP_CENTRES["萧山区"])
    shanghai = geo.place_gcj(*SHANGHAI)
    for _ in range(12):
        code4 = b.ordinary_code()
        firm = b.firm(code4, b.pick(geo.names), point=city)
        records.append((firm, "city_centre_fallback", None))
    for _ in range(6):
        code4 = b.ordinary_code()
        records.append((b.firm(code4, "萧山区", point=xiaoshan), "district_centre_fallback", None))
    for _ in range(5):
        code4 = b.ordinary_code()
        firm = b.firm(code4, b.pick(geo.names), point=shanghai)
        records.append((firm, "outside_city_geocode", None))
    for label, actual in MISMATCH_PAIRS:
        code4 = b.ordinary_code()
        point = geo.place_metric(*geo.sample(b.rng, actual, inset=2000.0))
        firm = b.firm(code4, label, point=point)
        records.append((firm, "district_label_mismatch", actual))
    while len(records) < 100:
        code4 = b.ordinary_code()
        records.append((b.firm(code4, b.district_for(group_of(code4[:2]))), "ordinary", None))
    records = b.shuffle(records)
    rows, entries = [], []
    for i, (firm, kind, actual) in enumerate(records):
        rows.append(simple_row(firm))
        entry = truth(firm, i + 2, employees=firm["employees"])
        if kind != "ordinary":
            entry["planted"].append(kind)
        if kind == "outside_city_geocode":
            entry.update(status="reject", reason="outside the study area (geocoded to Shanghai)")
        if kind == "district_label_mismatch":
            assert entry["point_district"] == actual
            inset_point = geo.to_metric.transform(*firm["place"]["wgs"])
            entry["metres_inside_point_district"] = round(
                geo.poly[actual].boundary.distance(shapely.Point(inset_point)), 1)
        entries.append(entry)
    write_csv(OUT / "geocode_fallbacks.csv", SIMPLE_HEADER, rows, encoding="utf-8", newline="\n")
    return {
        "format": {"encoding": "UTF-8", "bom": False, "newline": "LF", "delimiter": ","},
        "coords": "gcj02",
        "header": SIMPLE_HEADER,
        "header_mapping": simple_mapping(),
        "shared_points_gcj02": {
            "city_centre_fallback": {"lon": CITY_CENTRE[0], "lat": CITY_CENTRE[1],
                                     "what": "Amap's centre of 杭州市", "point_district":
                                     city["district"], "n": 12},
            "district_centre_fallback": {"lon": AMAP_CENTRES["萧山区"][0],
                                         "lat": AMAP_CENTRES["萧山区"][1],
                                         "what": "Amap's centre of 萧山区",
                                         "point_district": xiaoshan["district"], "n": 6},
            "outside_city_geocode": {"lon": SHANGHAI[0], "lat": SHANGHAI[1],
                                     "what": "Amap's centre of 上海市", "point_district": None,
                                     "n": 5},
        },
        "rows": entries,
    }


def simple_mapping() -> dict:
    return {"firm_id": "统一社会信用代码", "name": "企业名称", "industry_code": "行业代码",
            "lon": "经度", "lat": "纬度", "employees": "从业人员"}


# --------------------------------------------------------------------------- 5. boundary

OUTSIDE_M = (2.0, 5.0, 15.0, 50.0, 120.0, 400.0, 950.0, 3000.0, 20000.0)
INSIDE_M = (3.0, 20.0, 100.0)


def boundary_point(geo: Geography, rng: np.random.Generator, distance: float, outside: bool):
    """A metric point at `distance` from the study-area boundary, checked after rounding."""
    ring = geo.union.exterior
    length = ring.length
    tolerance = max(0.3, 0.002 * distance)
    while True:
        s = float(rng.uniform(0.0, length))
        base = ring.interpolate(s)
        ahead, behind = ring.interpolate((s + 1.0) % length), ring.interpolate((s - 1.0) % length)
        tx, ty = ahead.x - behind.x, ahead.y - behind.y
        norm = float(np.hypot(tx, ty))
        if norm < 1.5:  # a sharp corner: the normal is ill-defined
            continue
        nx, ny = -ty / norm, tx / norm
        probe = shapely.Point(base.x + 0.05 * nx, base.y + 0.05 * ny)
        if geo.union.contains(probe) == outside:
            nx, ny = -nx, -ny
        x, y = base.x + distance * nx, base.y + distance * ny
        place = geo.place_metric(x, y)
        wx, wy = geo.to_metric.transform(*place["wgs"])
        point = shapely.Point(wx, wy)
        measured = geo.union.boundary.distance(point)
        if place["inside"] == outside or abs(measured - distance) > tolerance:
            continue
        return place, measured, geo.nearest_district(wx, wy)


def near_boundary(geo: Geography) -> dict:
    b = Builder(geo, 5)
    records = []
    for distance in OUTSIDE_M:
        place, measured, nearest = boundary_point(geo, b.rng, distance, outside=True)
        code4 = b.ordinary_code()
        records.append((b.firm(code4, nearest, point=place), "outside_near_boundary",
                        distance, measured))
    for distance in INSIDE_M:
        place, measured, nearest = boundary_point(geo, b.rng, distance, outside=False)
        code4 = b.ordinary_code()
        records.append((b.firm(code4, nearest, point=place), "inside_near_boundary",
                        distance, measured))
    while len(records) < 80:
        code4 = b.ordinary_code()
        records.append((b.firm(code4, b.district_for(group_of(code4[:2]))), "ordinary",
                        None, None))
    records = b.shuffle(records)
    rows, entries = [], []
    for i, (firm, kind, target, measured) in enumerate(records):
        rows.append(simple_row(firm))
        entry = truth(firm, i + 2, employees=firm["employees"])
        if kind != "ordinary":
            entry["planted"].append(kind)
            entry["target_distance_m"] = target
            entry["distance_outside_m"] = round(measured if kind.startswith("outside")
                                                else -measured, 2)
        if kind == "outside_near_boundary":
            entry.update(status="reject", reason="outside the study area",
                         nearest_district=firm["district"])
        entries.append(entry)
    write_csv(OUT / "near_boundary.csv", SIMPLE_HEADER, rows, encoding="utf-8", newline="\n")
    return {
        "format": {"encoding": "UTF-8", "bom": False, "newline": "LF", "delimiter": ","},
        "coords": "gcj02",
        "header": SIMPLE_HEADER,
        "header_mapping": simple_mapping(),
        "distance_definition": "distance_outside_m: metres (EPSG:4549) from the WGS84 point a "
                               "reader recovers from the written GCJ-02 values "
                               "(geo.io.crs.gcj02_to_wgs84) to the boundary of the union of "
                               "layers/districts.geojson; positive outside, negative inside",
        "status_rule": "strict study-area test (no tolerance): outside rows are rejected",
        "rows": entries,
    }


# --------------------------------------------------------------------------- 6. 2011 vs 2017

PLANTED_2011 = ["7910", "7910", "7910", "7940", "7940", "7940", "6510", "6510", "6510",
                "6510", "6530", "6530", "6550", "6540", "6591", "6591", "6592", "6520",
                "8011", "8011", "8210", "8311", "8710", "8630"]
# 2017 classes of activities whose code changed, to sit beside the 2011 rows
EXTRA_2017 = ["6513", "6513", "6513", "6531", "6560", "6560", "6572", "6591", "6550", "6520",
              "8010", "8010", "8040", "8040", "8111", "8310", "8391", "8411", "8810", "8730",
              "7540", "6432", "0164"]
WORDS_2011 = {"6510": "6513", "6520": "6531", "6530": "6560", "6540": "6550", "6550": "6520",
              "6591": "6572", "6592": "6591", "7910": "8010", "7940": "8040", "8011": "8111",
              "8210": "8310", "8311": "8411", "8630": "8730", "8710": "8810"}


def mixed_2011_2017(geo: Geography) -> dict:
    b = Builder(geo, 6)
    records = []
    for code2011 in PLANTED_2011:
        like = WORDS_2011[code2011]  # a 2017 class of the same activity, for the name
        firm = b.firm(like, b.district_for(group_of(like[:2])))
        true_code = CLASSES_2011[code2011][1]
        firm.update(code=true_code, group=group_of(true_code[1:3]))
        records.append((firm, code2011, "2011"))
    for code4 in EXTRA_2017:
        district = "西湖区" if code4 == "0164" else b.district_for(group_of(code4[:2]))
        records.append((b.firm(code4, district), code4, "2017"))
    while len(records) < 100:
        code4 = b.ordinary_code()
        records.append((b.firm(code4, b.district_for(group_of(code4[:2]))), code4, "2017"))
    records = b.shuffle(records)
    rows, entries = [], []
    for i, (firm, raw, standard) in enumerate(records):
        rows.append(simple_row(firm, raw))
        naive = naive_code(raw)
        entry = truth(firm, i + 2, employees=firm["employees"], raw_code=raw, standard=standard,
                      naive_code=naive, naive_group=group_of(naive[1:3]))
        if standard == "2011":
            name2011, _, meaning2017 = CLASSES_2011[raw]
            entry["planted"].append("gbt2011_code")
            entry["class_2011"] = name2011
            entry["same_digits_in_2017"] = meaning2017
            if entry["naive_group"] != entry["group"]:
                entry["planted"].append("group_changes_if_read_as_2017")
        else:
            entry["class_2017"] = CLASSES_2017[raw]
        entries.append(entry)
    write_csv(OUT / "mixed_2011_2017.csv", SIMPLE_HEADER, rows, encoding="utf-8", newline="\n")
    return {
        "format": {"encoding": "UTF-8", "bom": False, "newline": "LF", "delimiter": ","},
        "coords": "gcj02",
        "header": SIMPLE_HEADER,
        "header_mapping": simple_mapping(),
        "hidden_column": "行业分类标准 (2011 or 2017) is not in the file; it is each row's "
                         "`standard` here",
        "code_meaning": "code/group: the GB/T 4754-2017 code and group of the firm's activity "
                        "(a 3-digit group where the 2011 class was split in 2017); "
                        "naive_code/naive_group: the digits read as a 2017 code",
        "rows": entries,
    }


# --------------------------------------------------------------------------- 7. hostile xlsx

NOTES = [
    "杭州市某街道经济服务中心 企业名录（内部资料）",
    "坐标系：GCJ-02（高德地图拾取）",
    "行业代码：GB/T 4754-2017，单元格为数值格式（首位0已被Excel去掉）",
    "数据截至2023年12月31日；企业名称按营业执照照录，未作清洗",
    "企业名录见第二个工作表「企业名录」",
]
HOSTILE = [
    ("html", "<img src=x onerror=alert(1)>有限公司"),
    ("formula", '=HYPERLINK("http://evil.example","点击")'),
    ("formula", "+SUM(1,2)"),
    ("formula", "@cmd"),
    ("formula", "-2+3+cmd|' /C calc'!A0"),
    ("formula", "\t=1+1"),
    ("html", '<script>alert("x")</script>杭州{b}科技有限公司'),
    ("html", "&lt;b&gt;杭州{b}实业有限公司&lt;/b&gt;"),
    ("newline", "杭州{b}贸易有限公司\n（原杭州{b}商行）"),
    ("quote_comma", '杭州"{b}"网络科技有限公司, 滨江分公司'),
    ("bidi", "杭州\u202e{b}科技有限公司"),
    ("zero_width", "杭州{b}电子商务有限公司\u200b"),
    ("template", "{{{{7*7}}}}杭州{b}文化传媒有限公司"),
    ("markdown", "[点击领取](javascript:alert(1))"),
    ("sql", "杭州{b}信息技术有限公司'; DROP TABLE firms;--"),
    ("emoji", "杭州🚀{b}科技有限公司"),
]


def hostile_text(geo: Geography) -> dict:
    b = Builder(geo, 7)
    header = ["企业名称", "统一社会信用代码", "行业代码", "企业地址", "所属区县", "经度", "纬度",
              "从业人员"]
    records = []
    for kind, template in HOSTILE:
        code4 = b.ordinary_code()
        firm = b.firm(code4, b.district_for(group_of(code4[:2])))
        firm["name"] = template.format(b=b.ids.brand())
        records.append((firm, ["hostile_name", f"hostile_{kind}"]))
    for code4, district in (("0610", "建德市"), ("0810", "淳安县")):
        records.append((b.firm(code4, district), ["zero_stripped_code"]))
    code4 = b.ordinary_code()
    records.append((b.firm(code4, b.district_for(group_of(code4[:2]))), ["hostile_address"]))
    while len(records) < 60:
        code4 = b.ordinary_code()
        records.append((b.firm(code4, b.district_for(group_of(code4[:2]))), []))
    records = b.shuffle(records)

    book = openpyxl.Workbook()
    notes = book.active
    notes.title = "说明"
    for i, line in enumerate(NOTES, start=1):
        notes.cell(row=i, column=1, value=line)
    sheet = book.create_sheet("企业名录")
    sheet.append(header)
    entries = []
    for i, (firm, planted) in enumerate(records):
        row = i + 2
        glon, glat = firm["place"]["gcj"]
        address = b.address(firm["district"])
        if "hostile_address" in planted:
            address = f'<a href="http://evil.example">{address}</a>'
        values = [firm["name"], firm["firm_id"], int(firm["code4"]), address, firm["district"],
                  glon, glat, firm["employees"]]
        for column, value in enumerate(values, start=1):
            cell = sheet.cell(row=row, column=column, value=value)
            if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t"):
                cell.data_type = "s"  # text, not a formula
                cell.quotePrefix = True  # as Excel stores a value typed with a leading '
        raw = str(int(firm["code4"]))
        naive = naive_code(raw)
        entry = truth(firm, row, raw_code=int(raw), naive_code=naive,
                      naive_group=group_of(naive[1:3]), employees=firm["employees"],
                      address=address)
        entry["planted"].extend(planted)
        entries.append(entry)
    buffer = io.BytesIO()
    book.save(buffer)
    (OUT / "hostile_text.xlsx").write_bytes(repack_xlsx(buffer.getvalue()))
    check = openpyxl.load_workbook(OUT / "hostile_text.xlsx", read_only=True, data_only=True)
    read_names = [r[0] for r in check["企业名录"].iter_rows(min_row=2, values_only=True)]
    check.close()
    assert read_names == [e["name"] for e in entries], "xlsx names do not round-trip"
    return {
        "format": {"type": "xlsx", "sheets": ["说明", "企业名录"], "firms_sheet": "企业名录",
                   "header_row": 1, "cell_types": "行业代码, 经度, 纬度, 从业人员 are numbers; "
                   "names starting with = + - @ or a tab are text cells (quotePrefix), not "
                   "formulas"},
        "coords": "gcj02",
        "header": header,
        "header_mapping": simple_mapping(),
        "first_sheet_is_notes": "the first worksheet (说明) holds notes, not firms: read "
                                "sheet 企业名录",
        "rows": entries,
    }


def repack_xlsx(data: bytes) -> bytes:
    """Rewrite an xlsx with fixed timestamps so that two runs give the same bytes."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            content = source.read(info.filename)
            if info.filename == "docProps/core.xml":
                text = content.decode("utf-8")
                text = re.sub(r"(<dcterms:(created|modified)[^>]*>)[^<]*(</dcterms:\2>)",
                              rf"\g<1>{FIXED_ISO_TIME}\g<3>", text)
                content = text.encode("utf-8")
            item = zipfile.ZipInfo(info.filename, date_time=FIXED_ZIP_TIME)
            item.compress_type = zipfile.ZIP_DEFLATED
            item.external_attr = 0o600 << 16
            target.writestr(item, content)
    return out.getvalue()


# --------------------------------------------------------------------------- summary & output


def summarise(meta: dict) -> dict:
    """Counts of rows, statuses and planted tags, and the rows of each tag."""
    rows = meta["rows"]
    planted: dict[str, list[int]] = {}
    for entry in rows:
        for tag in entry["planted"]:
            planted.setdefault(tag, []).append(entry["row"])
    status = {s: sum(1 for e in rows if e["status"] == s)
              for s in ("map", "reject", "map_or_reject", "ignore_or_reject")}
    groups = {g: sum(1 for e in rows if e["status"] == "map" and e["group"] == g) for g in GROUPS}
    return {
        "n_rows": len(rows),
        "first_data_row": 2,
        "last_data_row": len(rows) + 1,
        "status_counts": {k: v for k, v in status.items() if v},
        "mapped_by_group": groups,
        "planted_counts": {k: len(v) for k, v in sorted(planted.items())},
        "planted_rows": dict(sorted(planted.items())),
    }


_INVISIBLE = re.compile("[\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff\u3000]")


def to_json(obj, indent: int = 0) -> str:
    """JSON with one line per row entry; invisible characters escaped."""
    pad = "  " * indent
    if isinstance(obj, dict):
        if not obj:
            return "{}"
        items = [f"{pad}  {dumps(k)}: {to_json(v, indent + 1)}" for k, v in obj.items()]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(obj, list) and obj and all(isinstance(x, dict) for x in obj):
        return "[\n" + ",\n".join(f"{pad}  {dumps(x)}" for x in obj) + "\n" + pad + "]"
    return dumps(obj)


def dumps(obj) -> str:
    text = json.dumps(obj, ensure_ascii=False)
    return _INVISIBLE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def main() -> None:
    global OUT
    parser = argparse.ArgumentParser(description="Write the messy register corpus.")
    parser.add_argument("--out", type=Path, default=HERE, help="folder to write into")
    OUT = parser.parse_args().out
    OUT.mkdir(parents=True, exist_ok=True)
    geo = Geography()
    builders = [
        ("excel_gbk_stripped.csv", excel_gbk_stripped),
        ("names_only_qichacha.csv", names_only_qichacha),
        ("census_headers.csv", census_headers),
        ("geocode_fallbacks.csv", geocode_fallbacks),
        ("near_boundary.csv", near_boundary),
        ("mixed_2011_2017.csv", mixed_2011_2017),
        ("hostile_text.xlsx", hostile_text),
    ]
    files = {}
    for name, build in builders:
        meta = build(geo)
        rows = meta.pop("rows")
        meta["rows"] = rows
        files[name] = {"summary": summarise(meta), **meta}
    expected = {
        "generated_by": "tests/data/registers/make_registers.py",
        "seed": SEED,
        "row_numbers": "spreadsheet rows: the header is row 1, the first data row is row 2",
        "groups": {"manufacturing": "C13-43", "producer_services": "G53-60, I63-65, J66-69, "
                   "L71-72, M73-75, N76-79", "other": "everything else"},
        "status": {
            "map": "the row must be kept, with `code` (normalised GB/T 4754-2017) and `group`",
            "reject": "the row must be rejected (it cannot be placed or classified without "
                      "contradiction); `reason` says why; code/group are null where the "
                      "industry cannot be determined, kept where the position is the problem",
            "map_or_reject": "either is acceptable; if kept, it must have `code` and `group`",
            "ignore_or_reject": "an empty row: skipping it or rejecting it are both acceptable",
        },
        "files": files,
    }
    (OUT / "expected.json").write_text(to_json(expected) + "\n", encoding="utf-8")
    (OUT / "README.md").write_text(readme(files), encoding="utf-8")


# --------------------------------------------------------------------------- README


def readme(files: dict) -> str:
    def counts(name: str) -> str:
        summary = files[name]["summary"]
        lines = [f"- rows: {summary['n_rows']} (spreadsheet rows 2-{summary['last_data_row']})",
                 "- expected: " + ", ".join(f"{k} {v}" for k, v in
                                              summary["status_counts"].items()),
                 "- mapped rows by group: " + ", ".join(f"{k} {v}" for k, v in
                                                        summary["mapped_by_group"].items())]
        for tag, rows in summary["planted_rows"].items():
            lines.append(f"- `{tag}` ({len(rows)}): rows {', '.join(map(str, rows))}")
        return "\n".join(lines)

    fallbacks = files["geocode_fallbacks.csv"]["shared_points_gcj02"]
    boundary = [e for e in files["near_boundary.csv"]["rows"] if e["planted"]]
    boundary_lines = "\n".join(
        f"| {e['row']} | {e['target_distance_m']:g} | {e['distance_outside_m']:.2f} | "
        f"{e['district_label']} | {e['status']} |"
        for e in sorted(boundary, key=lambda e: -e["distance_outside_m"]))
    census = files["census_headers.csv"]
    return README.format(
        excel=counts("excel_gbk_stripped.csv"),
        names=counts("names_only_qichacha.csv"),
        census=counts("census_headers.csv"),
        fallbacks=counts("geocode_fallbacks.csv"),
        boundary=counts("near_boundary.csv"),
        mixed=counts("mixed_2011_2017.csv"),
        hostile=counts("hostile_text.xlsx"),
        city_district=fallbacks["city_centre_fallback"]["point_district"],
        boundary_table=boundary_lines,
        census_employees=census["employees_total"],
        census_by_group=", ".join(f"{k} {v}" for k, v in census["employees_by_group"].items()),
        seed=SEED,
    )


README = """# Messy enterprise registers / 企业名录测试数据

Seven small registers in the styles a Hangzhou planning institute receives them in, with
problems planted at known rows, for the register-reading tests. **Written by
`make_registers.py` (seed {seed}); do not edit the files, this README or `expected.json` by
hand: change the script and run it again** (`.venv/bin/python
tests/data/registers/make_registers.py`; two runs give byte-identical files).

All firms are synthetic: names, credit codes (18 characters with valid GB 32100 check
characters), people and addresses are made up. Positions are GCJ-02 (Amap), 6 decimals,
placed in WGS84 inside `layers/districts.geojson` and converted with
`geo.io.crs.wgs84_to_gcj02`; addresses are not geocoded to the points.

Row numbers are spreadsheet rows: the header is row 1, the first data row is row 2.

## expected.json

For each file: `format`, `coords` (always `gcj02`), `header`, `header_mapping` (schema field ->
column the tool should print), `must_not_map` where a tempting column is wrong,
`summary` (counts, and the rows of each planted tag) and `rows`, one entry per data row:

- `row`: spreadsheet row.
- `status`: `map`, `reject`, `map_or_reject` (either is fine; if kept, with `code` and
  `group`) or `ignore_or_reject` (an empty row).
- `code`, `group`: the true GB/T 4754-2017 code (section letter + digits) and group
  (`manufacturing`, `producer_services`, `other`); null where the industry cannot be
  determined (contradicting columns, unrecognised names). Rows rejected for their position
  keep them, for reference.
- `planted`: the problems planted in the row (empty for ordinary rows).
- `district_label` / `point_district`: the 所属区县 written / the district the recovered
  WGS84 point lies in (null outside the study area).
- `lon_wgs84`, `lat_wgs84`: the WGS84 position a reader recovers from the GCJ-02 values
  (`geo.io.crs.gcj02_to_wgs84`).
- `raw_code`, `naive_code`, `naive_group`: the code as written; what a reader gives that
  takes 3 digits as given and checks only the division (as `geo.io.industry.normalise_code`
  did when these files were made).
- `reason`: why a row must be rejected (the tool must give its reason in Chinese and
  English).

Groups: manufacturing C13-43; producer services G53-60, I63-65, J66-69, L71-72, M73-75,
N76-79; everything else other.

## 1. `excel_gbk_stripped.csv` - saved by Excel on Chinese Windows

GBK without BOM, CRLF. Headers 企业名称, 统一社会信用代码, 行业门类 (section name),
行业大类 (division name), 行业代码, 企业地址, 所属区县, 经度, 纬度, 从业人员, 注册资本
(`500万元人民币`, `100万美元`...), 成立日期 (`2015-03-12`, `2015/3/12`, `2015年3月12日`).
Coordinates as Excel writes numbers (trailing zeros dropped).

- `zero_stripped_code`: 4-digit codes of sections A and B stored as numbers, so `0111` is
  written `111`, `0164` -> `164`, `0412` -> `412`, `0610` -> `610`... The true code is the
  4-digit A/B class (`code`), group other. Read as given, 151/164/211/220/412 become
  manufacturing (151 酒的制造, 211 木质家具制造 and 412 核辐射加工 are real 2017 groups;
  164 and 220 are not, but pass a division-only check), 111 becomes B111 (a real group,
  煤炭开采和洗选专业及辅助性活动), 511 F511 (a real group), 610 H610, 810 O810 (not
  groups). The 行业门类/行业大类 columns say section A/B, which resolves them.
- `genuine_group_code`: a real 3-digit group whose columns agree with it: `151` with
  制造业/酒、饮料和精制茶制造业 is C151, `511` with 批发和零售业/批发业 is F511. Padding
  every 3-digit code with a zero would get these wrong.
- `section_letter`: `C3911`, `I6513`, `M7320`, `c3841` (lower case).
- `mining_4_digit`: B1011, B1019, written in full (no zero to lose).
- `section_contradicts_code`: 行业门类/行业大类 say one section, 行业代码 another
  (制造业/计算机... with 6513, 信息传输.../软件... with 3911, 批发和零售业/批发业 with 2720,
  租赁和商务服务业/商务服务业 with 1811, 制造业/纺织业 with 7010). Expected: rejected
  (`code_says`, `code_says_group`, `columns_say_group` give both sides); no firm may land
  in a group its own columns contradict.
- `employees_blank`: 从业人员 empty (employees unknown, the row is still valid).
- `excel_empty_row`: the last two lines are only commas (cells Excel had cleared).

{excel}

## 2. `names_only_qichacha.csv` - commercial database export (企查查/天眼查 style)

UTF-8 with BOM, LF. Headers 企业名称, 统一社会信用代码, 法定代表人, 登记状态, 成立日期,
注册资本, 国标行业门类, 国标行业大类, 所属区县, 企业地址, 经度, 纬度. **No code column**:
the industry must come from the 门类/大类 names, so the expected `code` is a division
(`C15`). `class_hint` is the class the synthetic firm was drawn from (not in the file).

- `fullwidth_comma` (`酒，饮料和精制茶制造业`), `ascii_comma` (`酒,饮料和精制茶制造业`,
  quoted), `whitespace` (leading/trailing/inner spaces, an ideographic space U+3000),
  `he_for_dunhao` (`纺织服装和服饰业`, `金属制品和机械和设备修理业`), `parenthesised_code`
  (`医药制造业（27）`, `软件和信息技术服务业(65)`, with 门类 such as `制造业（C）`): all must
  match their division (`map`).
- `gbt2011_division_name`: 2011 names of divisions renamed in 2017 (`农、林、牧、渔服务业`
  -> A05, `开采辅助活动` -> B11, `石油加工、炼焦和核燃料加工业` -> C25,
  `广播、电视、电影和影视录音制作业` -> R87): `map_or_reject`.
- `industry_name_unrecognised`: `其他行业/其他未列明行业`, typos
  `信息传输、软件和信息技术服物业/软件和信息技朮服务业` (meant 65), and a local category
  `新兴产业/数字经济核心产业`: rejected.
- `industry_missing`: both columns `-`: rejected.
- `section_name_equals_division_name`: 门类 and 大类 both `房地产业` (K70) or both `教育`
  (P83): sections K and P have one division of the same name; `map`.
- `inactive_registration`: 登记状态 `注销` or `吊销，未注销` (still valid rows; a status
  filter is a separate choice).

{names}

## 3. `census_headers.csv` - economic-census style headers

UTF-8, LF. Headers 单位详细名称, 统一社会信用代码, 行业代码, 从业人员期末人数,
营业收入(千元), 所属区县, 经度, 纬度. The header mapping to print: name <- 单位详细名称,
employees <- 从业人员期末人数, revenue <- 营业收入(千元) (thousand yuan). Every
从业人员期末人数 is a positive integer, so an employment-weighted run works:

- employees in total: {census_employees}
- employees by group: {census_by_group}

Codes are text with their leading zeros (`leading_zero_kept`: 0164, 0511, 0412, 0111 are
A0164... not F511 etc.). Some names end in 分公司. Every row is valid.

{census}

## 4. `geocode_fallbacks.csv` - geocoder fallbacks

UTF-8, LF. Headers 企业名称, 统一社会信用代码, 行业代码, 所属区县, 经度, 纬度, 从业人员.

- `city_centre_fallback`: 12 firms on exactly 120.153576,30.287459, Amap's centre of 杭州市
  (in {city_district}), with various 所属区县.
- `district_centre_fallback`: 6 firms on exactly 120.264263,30.184119, Amap's centre of
  萧山区, labelled 萧山区.
- `outside_city_geocode`: 5 firms on 121.473701,31.230416 (Amap's centre of 上海市): outside
  the study area, rejected.
- `district_label_mismatch`: 8 firms whose point lies more than 2 km inside another district
  than their 所属区县 (`point_district`, `metres_inside_point_district`).

{fallbacks}

## 5. `near_boundary.csv` - just outside the study area

UTF-8, LF, headers as file 4. Firms placed along the outer boundary of the union of the
districts, offset along the boundary normal in EPSG:4549; the distance was measured again
on the WGS84 point recovered from the written GCJ-02 values (`distance_outside_m`, positive
outside). With a strict study-area test the outside rows are rejected; the three inside
rows are kept. 所属区县 is the nearest district.

| row | target (m) | measured (m) | 所属区县 | status |
|---|---|---|---|---|
{boundary_table}

{boundary}

## 6. `mixed_2011_2017.csv` - GB/T 4754-2011 and 2017 codes mixed

UTF-8, LF, headers as file 4. The hidden column 行业分类标准 is each row's `standard` in
`expected.json`. `code`/`group` are the 2017 code and group of the firm's activity (a
3-digit group where 2017 split the 2011 class); `naive_code`/`naive_group` read the digits
as 2017. 2011 classes planted (2011 name -> 2017 code; what the same digits mean in 2017):

| 2011 | 2011 name | 2017 code | same digits in 2017 |
|---|---|---|---|
| 6510 | 软件开发 | I651 (6511/6512/6513/6519) | none |
| 6520 | 信息系统集成服务 | I6531 | 集成电路设计 |
| 6530 | 信息技术咨询服务 | I6560 | none |
| 6540 | 数据处理和存储服务 | I6550 | 运行维护服务 |
| 6550 | 集成电路设计 | I6520 | 信息处理和存储支持服务 |
| 6591 | 数字内容服务 | I657 (6571/6572/6579) | 呼叫中心 |
| 6592 | 呼叫中心 | I6591 | none |
| 7910 | 家庭服务 | O8010 | 土地整治服务 (N, producer services) |
| 7940 | 理发及美容服务 | O8040 | none (division 79 土地管理业, N) |
| 8011 | 汽车修理与维护 | O8111 | none |
| 8210 | 学前教育 | P8310 | none (division 82 其他服务业) |
| 8311 | 综合医院 | Q8411 | none (division 83 教育) |
| 8630 | 电影和影视节目制作 | R8730 | none (division 86 新闻和出版业) |
| 8710 | 文艺创作与表演 | R8810 | 广播 |

2017 inserted division 79 土地管理业 in section N, so 2011 divisions 79-96 moved up by one;
only the 2011 division 79 (居民服务业) changes group when read as 2017
(`group_changes_if_read_as_2017`: other -> producer services). Beside them sit 2017 rows of
the same activities (6513, 6531, 6560, 6572, 6591, 8010, 8040, 8111, 8310...), so the
digits `6591`, `6550`, `6520` occur in both standards.

{mixed}

## 7. `hostile_text.xlsx` - markup and formulas in the cells

Two worksheets: `说明` (five lines of notes, first) and `企业名录` (the firms, header in
row 1): 企业名称, 统一社会信用代码, 行业代码, 企业地址, 所属区县, 经度, 纬度, 从业人员.
行业代码, 经度, 纬度, 从业人员 are numeric cells. Names starting with `=`, `+`, `-`, `@` or
a tab are text cells with Excel's quote prefix, not formulas; they must come through
unchanged as text and never be written out as live formulas or unescaped HTML. `name` in
`expected.json` is the exact cell text (JSON-escaped invisible characters: U+202E, U+200B).

- `hostile_name` with its kind: `hostile_html` (`<img src=x onerror=alert(1)>有限公司`,
  `<script>`, HTML entities), `hostile_formula` (`=HYPERLINK("http://evil.example","点击")`,
  `+SUM(1,2)`, `@cmd`, `-2+3+cmd|' /C calc'!A0`, tab + `=1+1`), `hostile_newline`,
  `hostile_quote_comma`, `hostile_bidi` (U+202E), `hostile_zero_width` (U+200B),
  `hostile_template` (`{{{{7*7}}}}`), `hostile_markdown`, `hostile_sql`, `hostile_emoji`.
- `hostile_address`: an `<a href>` around the address.
- `zero_stripped_code`: 610 (B0610) and 810 (B0810) as numbers; with no section column the
  true code cannot be recovered (read as H610 / O810; same group, other).

{hostile}
"""


if __name__ == "__main__":
    main()
