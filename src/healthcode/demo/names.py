"""Invented but ordinary Chinese names: common surnames (roughly by frequency) and given names."""

from __future__ import annotations

import random

# The hundred or so most common surnames, most common first (weights fall off like 1/rank).
SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶"
    "程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾"
    "毛郝龚邵万钱严覃武戴莫孔向汤"
)
COMPOUND_SURNAMES = ("欧阳", "司马", "上官", "诸葛", "东方")
_SURNAME_WEIGHTS = [1 / (rank + 1) for rank in range(len(SURNAMES))]

MALE_CHARS = "伟强磊军洋勇杰涛明超刚平辉鹏华飞鑫波斌宇浩凯健俊帆帅旭宁龙林阳建国文博志"
FEMALE_CHARS = "芳娜敏静丽艳娟霞秀玲桂英燕萍红梅琳雪婷倩颖慧佳欣怡悦婧璐瑶晶兰琴云"
# Given names fashionable for children of today.
CHILD_NAMES_MALE = ("子轩", "浩宇", "梓涵", "宇航", "俊熙", "一鸣", "子墨", "睿泽", "奕辰", "沐阳")
CHILD_NAMES_FEMALE = (
    "欣怡",
    "梓萱",
    "一诺",
    "雨桐",
    "诗涵",
    "可馨",
    "语嫣",
    "若曦",
    "芷若",
    "思彤",
)


def surname(rng: random.Random) -> str:
    if rng.random() < 0.01:
        return rng.choice(COMPOUND_SURNAMES)
    return rng.choices(SURNAMES, weights=_SURNAME_WEIGHTS)[0]


def given_name(rng: random.Random, sex: str, age: int) -> str:
    if age < 18 and rng.random() < 0.7:
        return rng.choice(CHILD_NAMES_MALE if sex == "m" else CHILD_NAMES_FEMALE)
    chars = MALE_CHARS if sex == "m" else FEMALE_CHARS
    if rng.random() < 0.35:
        return rng.choice(chars)
    return rng.choice(chars) + rng.choice(chars)
