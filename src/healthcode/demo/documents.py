"""Made-up but well-formed identity numbers (GB 11643) and mainland mobile numbers."""

from __future__ import annotations

import random
from datetime import date

from healthcode.domain.documents import mod11_2_check_char

# County-level address codes (GB/T 2260) where the people of the demo city were registered at
# birth: most locally, the rest from across the country.
LOCAL_REGION = "320102"
REGIONS = (
    "110101", "120101", "130102", "140105", "210102", "220102", "230102", "310104", "320106",
    "330106", "340104", "350102", "360102", "370102", "410105", "420106", "430104", "440106",
    "450103", "500103", "510104", "520102", "530102", "610113", "620102",
)  # fmt: skip
# Mobile number prefixes of the three mainland carriers.
MOBILE_PREFIXES = (
    "130", "131", "132", "133", "134", "135", "136", "137", "138", "139", "150", "151", "152",
    "153", "155", "156", "157", "158", "159", "166", "173", "177", "180", "181", "182", "183",
    "185", "186", "187", "188", "189", "191", "198", "199",
)  # fmt: skip


def prc_id(rng: random.Random, born: date, sex: str, taken: set[str]) -> str:
    """An 18-character resident identity number: region, birth date, sequence (odd for men,
    even for women) and the ISO 7064 MOD 11-2 check character. Never one already `taken`."""
    region = LOCAL_REGION if rng.random() < 0.6 else rng.choice(REGIONS)
    while True:
        sequence = rng.randrange(0, 100) * 10 + rng.randrange(1 if sex == "m" else 0, 10, 2)
        body = f"{region}{born:%Y%m%d}{sequence:03d}"
        number = body + mod11_2_check_char(body)
        if number not in taken:
            taken.add(number)
            return number


def mobile(rng: random.Random, taken: set[str]) -> str:
    """An 11-digit mainland mobile number, never one already `taken`."""
    while True:
        number = rng.choice(MOBILE_PREFIXES) + f"{rng.randrange(10**8):08d}"
        if number not in taken:
            taken.add(number)
            return number
