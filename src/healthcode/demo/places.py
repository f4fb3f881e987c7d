"""Venues of the demo city: districts, addresses, names, opening hours and popularity.

Popularity is Zipf-like within each venue type (weight 1 / rank^1.1, ranks shuffled): a few
venues draw most of the visits, as a city's busiest restaurants and supermarkets do.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from healthcode.domain.venues import VenueType

CITY_ZH = "示范市"
DISTRICTS = ("东城区", "西城区", "南湖区", "北山区", "江滨区", "高新区")
DISTRICT_WEIGHTS = (1.2, 1.0, 1.1, 0.8, 0.9, 0.7)
STREETS = (
    ("人民路", "Renmin"), ("解放路", "Jiefang"), ("中山路", "Zhongshan"), ("建设路", "Jianshe"),
    ("和平路", "Heping"), ("文化路", "Wenhua"), ("新华路", "Xinhua"), ("长江路", "Changjiang"),
    ("黄河路", "Huanghe"), ("朝阳路", "Chaoyang"), ("胜利路", "Shengli"), ("友谊路", "Youyi"),
    ("青年路", "Qingnian"), ("花园路", "Huayuan"), ("滨江大道", "Binjiang"), ("科技路", "Keji"),
)  # fmt: skip
PREFIXES = (
    ("幸福", "Xingfu"), ("阳光", "Sunshine"), ("金桥", "Golden Bridge"), ("绿源", "Green Spring"),
    ("东方", "Oriental"), ("红星", "Red Star"), ("万家", "Wanjia"), ("百姓", "Baixing"),
    ("新世纪", "New Century"), ("华联", "Hualian"), ("老街", "Old Street"), ("明珠", "Pearl"),
    ("长乐", "Changle"), ("安康", "Ankang"), ("聚福", "Jufu"), ("兴隆", "Xinglong"),
)  # fmt: skip
# (Chinese word, English word, operator's trade) for each type's names.
KINDS: dict[VenueType, tuple[tuple[str, str], ...]] = {
    VenueType.RESTAURANT: (("面馆", "Noodle House"), ("饺子馆", "Dumplings"),
                           ("火锅店", "Hotpot"), ("茶餐厅", "Tea Restaurant"),
                           ("小吃店", "Snack Bar"), ("川菜馆", "Sichuan Kitchen")),
    VenueType.SHOP: (("服装店", "Clothing"), ("书店", "Books"), ("便利店", "Convenience Store"),
                     ("手机店", "Phones"), ("五金店", "Hardware")),
    VenueType.SUPERMARKET: (("超市", "Supermarket"), ("生活超市", "Mart")),
    VenueType.MARKET: (("农贸市场", "Wet Market"), ("菜市场", "Food Market")),
    VenueType.OFFICE: (("大厦", "Tower"), ("科技园", "Tech Park"), ("商务中心", "Business Centre")),
    VenueType.FACTORY: (("电子厂", "Electronics Works"), ("食品厂", "Food Factory"),
                        ("纺织厂", "Textile Mill")),
    VenueType.SCHOOL: (("小学", "Primary School"), ("中学", "Middle School")),
    VenueType.HOSPITAL: (("人民医院", "People's Hospital"), ("中医院", "TCM Hospital")),
    VenueType.CLINIC: (("社区卫生服务中心", "Community Health Centre"), ("诊所", "Clinic")),
    VenueType.PHARMACY: (("大药房", "Pharmacy"), ("药店", "Drugstore")),
    VenueType.TRANSPORT: (("公交枢纽", "Bus Interchange"), ("地铁站", "Metro Station")),
    VenueType.HOTEL: (("大酒店", "Hotel"), ("宾馆", "Inn")),
    VenueType.WORSHIP: (("寺", "Temple"), ("教堂", "Church")),
    VenueType.ENTERTAINMENT: (("影城", "Cinema"), ("KTV", "KTV"), ("网咖", "Internet Cafe")),
    VenueType.GYM: (("健身房", "Fitness"), ("游泳馆", "Swimming Pool")),
    VenueType.GOVERNMENT: (("政务服务中心", "Government Service Centre"),
                           ("街道办事处", "Subdistrict Office")),
}  # fmt: skip
TRADES: dict[VenueType, str] = {
    VenueType.RESTAURANT: "餐饮管理有限公司",
    VenueType.SHOP: "商贸有限公司",
    VenueType.SUPERMARKET: "超市连锁有限公司",
    VenueType.MARKET: "市场管理有限公司",
    VenueType.OFFICE: "物业管理有限公司",
    VenueType.FACTORY: "实业有限公司",
    VenueType.SCHOOL: "教育局",
    VenueType.HOSPITAL: "卫生健康委员会",
    VenueType.CLINIC: "卫生健康委员会",
    VenueType.PHARMACY: "医药连锁有限公司",
    VenueType.TRANSPORT: "公共交通集团有限公司",
    VenueType.HOTEL: "酒店管理有限公司",
    VenueType.WORSHIP: "宗教事务管理委员会",
    VenueType.ENTERTAINMENT: "文化娱乐有限公司",
    VenueType.GYM: "体育发展有限公司",
    VenueType.GOVERNMENT: "人民政府",
}
PUBLIC_OPERATORS = {
    VenueType.SCHOOL, VenueType.HOSPITAL, VenueType.CLINIC, VenueType.WORSHIP,
    VenueType.GOVERNMENT,
}  # fmt: skip
# Share of the city's venues, and usual opening hours (local minutes from midnight; 1440 = 24:00).
SHARES: dict[VenueType, float] = {
    VenueType.RESTAURANT: 0.22, VenueType.SHOP: 0.16, VenueType.SUPERMARKET: 0.05,
    VenueType.MARKET: 0.03, VenueType.OFFICE: 0.10, VenueType.FACTORY: 0.04,
    VenueType.SCHOOL: 0.03, VenueType.HOSPITAL: 0.02, VenueType.CLINIC: 0.04,
    VenueType.PHARMACY: 0.05, VenueType.TRANSPORT: 0.04, VenueType.HOTEL: 0.03,
    VenueType.WORSHIP: 0.02, VenueType.ENTERTAINMENT: 0.05, VenueType.GYM: 0.04,
    VenueType.GOVERNMENT: 0.04,
}  # fmt: skip
HOURS: dict[VenueType, tuple[int, int]] = {
    VenueType.RESTAURANT: (10 * 60, 22 * 60), VenueType.SHOP: (9 * 60, 21 * 60),
    VenueType.SUPERMARKET: (7 * 60, 22 * 60), VenueType.MARKET: (5 * 60 + 30, 14 * 60),
    VenueType.OFFICE: (7 * 60, 21 * 60), VenueType.FACTORY: (6 * 60, 22 * 60),
    VenueType.SCHOOL: (7 * 60, 18 * 60), VenueType.HOSPITAL: (0, 24 * 60),
    VenueType.CLINIC: (8 * 60, 18 * 60), VenueType.PHARMACY: (8 * 60, 22 * 60),
    VenueType.TRANSPORT: (5 * 60 + 30, 23 * 60 + 30), VenueType.HOTEL: (0, 24 * 60),
    VenueType.WORSHIP: (6 * 60, 18 * 60), VenueType.ENTERTAINMENT: (12 * 60, 24 * 60),
    VenueType.GYM: (6 * 60, 22 * 60), VenueType.GOVERNMENT: (9 * 60, 17 * 60 + 30),
}  # fmt: skip
ZIPF_EXPONENT = 0.9


@dataclass(frozen=True, slots=True)
class Venue:
    key: int  # index in City.venues
    name_zh: str
    name_en: str
    address: str
    district: str
    venue_type: VenueType
    operator: str
    opens: int  # local minutes after midnight
    closes: int  # local minutes after midnight, at most 1440
    popularity: float  # relative weight among venues of its type

    def open_between(self, start_minute: float, end_minute: float) -> bool:
        return self.opens <= start_minute and end_minute <= self.closes


def _counts(total: int) -> dict[VenueType, int]:
    """How many venues of each type: by share, at least one of each."""
    return {kind: max(1, round(total * share)) for kind, share in SHARES.items()}


def _hours(rng: random.Random, kind: VenueType) -> tuple[int, int]:
    opens, closes = HOURS[kind]
    if closes - opens >= 24 * 60:
        return opens, closes
    shift = rng.choice((-60, -30, 0, 0, 0, 30))
    return max(0, opens + shift), min(24 * 60, closes + rng.choice((-30, 0, 0, 30, 60)))


def _names(rng: random.Random, kind: VenueType, street: tuple[str, str]) -> tuple[str, str, str]:
    word_zh, word_en = rng.choice(KINDS[kind])
    prefix_zh, prefix_en = rng.choice(PREFIXES)
    if kind in PUBLIC_OPERATORS:
        prefix_zh, prefix_en = street[0].removesuffix("路").removesuffix("大道"), street[1]
        operator = f"{CITY_ZH}{TRADES[kind]}"
    else:
        operator = f"{CITY_ZH}{prefix_zh}{TRADES[kind]}"
    branch_zh, branch_en = f"（{street[0]}店）", f" ({street[1]} Rd)"
    if kind in PUBLIC_OPERATORS or kind in (VenueType.OFFICE, VenueType.FACTORY):
        branch_zh = branch_en = ""
    return f"{prefix_zh}{word_zh}{branch_zh}", f"{prefix_en} {word_en}{branch_en}", operator


def make_venues(rng: random.Random, total: int) -> list[Venue]:
    venues: list[Venue] = []
    for kind, count in _counts(total).items():
        ranks = list(range(1, count + 1))
        rng.shuffle(ranks)
        for rank in ranks:
            district = rng.choices(DISTRICTS, weights=DISTRICT_WEIGHTS)[0]
            street = rng.choice(STREETS)
            name_zh, name_en, operator = _names(rng, kind, street)
            opens, closes = _hours(rng, kind)
            venues.append(
                Venue(
                    key=len(venues),
                    name_zh=name_zh,
                    name_en=name_en,
                    address=f"{CITY_ZH}{district}{street[0]}{rng.randrange(1, 400)}号",
                    district=district,
                    venue_type=kind,
                    operator=operator,
                    opens=opens,
                    closes=closes,
                    popularity=1 / rank**ZIPF_EXPONENT,
                )
            )
    return venues
