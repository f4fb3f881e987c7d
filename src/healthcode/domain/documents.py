"""Identity documents a resident may enrol with, and how their numbers are checked.

Pure: standard library only. Every failure is an `InvalidInput` naming the field at fault
(`doc_number` or `doc_type`) with a stable snake_case code.

What is checked, and on what authority:

* PRC resident identity number (公民身份号码): GB 11643-1999, fully (region, birth date,
  ISO 7064 MOD 11-2 check character). The same number format is used by the residence permits
  for Hong Kong, Macao and Taiwan residents (港澳台居民居住证, address codes 810000 / 820000 /
  830000 under the 2018 issuing rules), so those validate as `PRC_ID` too.
* Foreign permanent resident ID (外国人永久居留身份证): the 2023 card (issued from 2023-12-01)
  follows GB 11643: "9" + issuing province (2) + nationality (3 digits) + birth date (8) +
  sequence (3) + MOD 11-2 check character. We check the leading 9, the birth date and the check
  character, not the province or nationality codes. The 2017 card's 15 characters (3 letters
  + 12 digits) have no publicly documented check, so only length and charset are checked.
* Permits and passports have no public check digit: only prefix, length and charset.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from enum import StrEnum

from healthcode.domain.errors import InvalidInput, parse_choice

# Province-level codes of GB/T 2260 (11-15 north, 21-23 north-east, 31-37 east, 41-46
# south-central, 50-54 south-west, 61-65 north-west, 71 Taiwan), plus 81 / 82 / 83 used by
# the residence permits of Hong Kong, Macao and Taiwan residents (港澳台居民居住证, 2018).
PRC_REGION_CODES: frozenset[str] = frozenset(
    [str(n) for n in (*range(11, 16), 21, 22, 23, *range(31, 38), *range(41, 47))]
    + [str(n) for n in (*range(50, 55), *range(61, 66), 71, 81, 82, 83)]
)
EARLIEST_BIRTH_DATE = date(1900, 1, 1)

# ISO 7064 MOD 11-2 as GB 11643 uses it: position i (1..17 from the left) weighs 2^(18-i) mod 11.
_WEIGHTS = tuple(pow(2, 17 - i, 11) for i in range(17))
_CHECK_CHARS = "10X98765432"  # index = weighted sum mod 11
_DIGITS17 = re.compile(r"[0-9]{17}", re.ASCII)
_STANDARD = "GB 11643 / ISO 7064 MOD 11-2"
_DOC = "doc_number"
_ASCII_UPPER = str.maketrans("abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ")


class DocumentType(StrEnum):
    """The kinds of identity document accepted at enrolment."""

    PRC_ID = "prc_id"
    PASSPORT = "passport"
    HK_MACAU_PERMIT = "hk_macau_permit"
    HOME_RETURN_PERMIT = "home_return_permit"
    TAIWAN_COMPATRIOT_PERMIT = "taiwan_compatriot_permit"
    FOREIGNER_PERMANENT_ID = "foreigner_permanent_id"

    @property
    def name_zh(self) -> str:
        return _DISPLAY_NAMES[self][0]

    @property
    def name_en(self) -> str:
        return _DISPLAY_NAMES[self][1]


_DISPLAY_NAMES: dict[DocumentType, tuple[str, str]] = {
    DocumentType.PRC_ID: ("居民身份证", "PRC Resident Identity Card"),
    DocumentType.PASSPORT: ("护照", "Passport"),
    DocumentType.HK_MACAU_PERMIT: (
        "往来港澳通行证",
        "Exit-Entry Permit for Travelling to and from Hong Kong and Macao",
    ),
    DocumentType.HOME_RETURN_PERMIT: (
        "港澳居民来往内地通行证",
        "Mainland Travel Permit for Hong Kong and Macao Residents",
    ),
    DocumentType.TAIWAN_COMPATRIOT_PERMIT: (
        "台湾居民来往大陆通行证",
        "Mainland Travel Permit for Taiwan Residents",
    ),
    DocumentType.FOREIGNER_PERMANENT_ID: (
        "外国人永久居留身份证",
        "Foreign Permanent Resident ID Card",
    ),
}


def mod11_2_check_char(body17: str) -> str:
    """The GB 11643 check character ('0'-'9' or 'X') for 17 ASCII digits."""
    if not _DIGITS17.fullmatch(body17):
        raise ValueError("the body must be exactly 17 ASCII digits")
    total = sum(int(d) * w for d, w in zip(body17, _WEIGHTS, strict=True))
    return _CHECK_CHARS[total % 11]


def date_of(epoch: int) -> date:
    """The UTC calendar date of an instant: "today" for the document checks, from a clock."""
    return datetime.fromtimestamp(epoch, UTC).date()


def _check_birth_and_checksum(number: str, today: date) -> None:
    """Digits 7-14 a real date in [1900-01-01, today]; character 18 the MOD 11-2 check. `today`
    comes from the caller's clock (never the machine's date: time is injected)."""
    raw = number[6:14]
    try:
        born: date | None = date(int(raw[:4]), int(raw[4:6]), int(raw[6:8]))
    except ValueError:
        born = None
    # The date itself is not echoed: error messages end up in logs.
    if born is None:
        problem = "are not a real calendar date"
    elif born < EARLIEST_BIRTH_DATE:
        problem = "are a birth date before 1900-01-01"
    elif born > today:
        problem = "are a birth date in the future"
    else:
        problem = ""
    if problem:
        raise InvalidInput(
            "ID number digits 7-14 %(problem)s; expected the holder's birth date as YYYYMMDD "
            "between 1900-01-01 and %(isoformat)s",
            field=_DOC,
            code="id_birth_date",
            params={"problem": problem, "isoformat": today.isoformat()},
        )
    expected = mod11_2_check_char(number[:17])
    if number[17] != expected:
        raise InvalidInput(
            "ID number check character is '%(number)s' but should be '%(expected)s' (%(standard)s)",
            field=_DOC,
            code="id_checksum",
            params={"number": number[17], "expected": expected, "standard": _STANDARD},
        )


def _id18_shape(number: str) -> str:
    """Length 18 and charset 17 digits + digit/X (lowercase x accepted); returns uppercased."""
    if len(number) != 18:
        raise InvalidInput(
            "ID number has %(n_number)s characters but must have 18 (17 digits and a check "
            "character; 15-digit numbers are no longer valid)",
            field=_DOC,
            code="id_length",
            params={"n_number": len(number)},
        )
    number = number[:17] + number[17].translate(_ASCII_UPPER)
    if not _DIGITS17.fullmatch(number[:17]) or number[17] not in _CHECK_CHARS:
        raise InvalidInput(
            "ID number must be 17 digits 0-9 followed by a digit or the letter X",
            field=_DOC,
            code="id_charset",
        )
    return number


def validate_prc_id(number: str, today: date) -> str:
    """Check a GB 11643-1999 citizen identity number; returns it stripped, with an uppercase X."""
    number = _id18_shape(number.strip())
    if number[:2] not in PRC_REGION_CODES:
        hint = (
            " (numbers starting with 9 are foreign permanent resident IDs)"
            if number[0] == "9"
            else ""
        )
        raise InvalidInput(
            "ID number region code '%(number)s' is not a PRC province-level code (GB/T 2260: "
            "11-15, 21-23, 31-37, 41-46, 50-54, 61-65, 71, 81-83)%(hint)s",
            field=_DOC,
            code="id_region",
            params={"number": number[:2], "hint": hint},
        )
    _check_birth_and_checksum(number, today)
    return number


def prc_id_birth_date(number: str, today: date) -> date:
    """The birth date encoded in a valid PRC identity number (validates it first)."""
    number = validate_prc_id(number, today)
    return date(int(number[6:10]), int(number[10:12]), int(number[12:14]))


def _format_error(doc_type: DocumentType, expected: str) -> InvalidInput:
    # The number itself is not echoed: error messages end up in logs.
    return InvalidInput(
        "%(name_en)s number is not in a recognised format: expected %(expected)s",
        field=_DOC,
        code="doc_format",
        params={"name_en": doc_type.name_en, "expected": expected},
    )


# Passport: ICAO 9303 gives the document number at most 9 characters in the MRZ (longer numbers
# overflow into the optional data field), and real numbers are at least 5-6 characters; we allow
# 5-20 [A-Z0-9] so that no country's numbering is refused. PRC ordinary passports (G + 8 digits
# before 2012, E + 8 digits, then E + letter other than I/O + 7 digits) are a subset.
_PASSPORT = re.compile(r"[A-Z0-9]{5,20}", re.ASCII)
# 往来港澳通行证 (electronic card since 2014-05): 'C' + 8 digits; once those ran out, 'C' + a
# letter other than I and O + 7 digits (National Immigration Administration notice of
# 2018-12-10, first number CA0000001). Always 9 characters. The pre-2014 booklets have expired.
_HK_MACAU = re.compile(r"C(?:[0-9]|[A-HJ-NP-Z])[0-9]{7}", re.ASCII)
# 港澳居民来往内地通行证: 'H' (Hong Kong) or 'M' (Macao) + 8-digit lifelong number (card since
# 2013); older documents appended the 2-digit issue count, giving 10 digits.
_HOME_RETURN = re.compile(r"[HM](?:[0-9]{8}|[0-9]{10})", re.ASCII)
# 台湾居民来往大陆通行证: 8-digit lifelong number (since 2008-09-25; card since 2015). The older
# 10-digit forms with an issuer letter were on 5-year booklets, long expired, so are refused.
_TAIWAN = re.compile(r"[0-9]{8}", re.ASCII)
# 2017 permanent resident card: 3 letters (nationality) + 12 digits; no public check digit.
_FOREIGNER_OLD = re.compile(r"[A-Z]{3}[0-9]{12}", re.ASCII)


def _validate_foreigner(number: str, today: date) -> str:
    if len(number) == 15:
        if not _FOREIGNER_OLD.fullmatch(number):
            raise _format_error(
                DocumentType.FOREIGNER_PERMANENT_ID, "3 letters followed by 12 digits"
            )
        return number
    if len(number) == 18 and number[0] != "9":
        raise _format_error(DocumentType.FOREIGNER_PERMANENT_ID, "18 characters starting with 9")
    if len(number) != 18:
        raise _format_error(
            DocumentType.FOREIGNER_PERMANENT_ID,
            "18 characters starting with 9 (2023 card) or 3 letters + 12 digits (2017 card)",
        )
    number = _id18_shape(number)
    _check_birth_and_checksum(number, today)
    return number


_PATTERNS: dict[DocumentType, tuple[re.Pattern[str], str]] = {
    DocumentType.PASSPORT: (_PASSPORT, "5 to 20 letters A-Z and digits"),
    DocumentType.HK_MACAU_PERMIT: (
        _HK_MACAU,
        "C followed by 8 digits, or C, a letter (not I or O) and 7 digits",
    ),
    DocumentType.HOME_RETURN_PERMIT: (_HOME_RETURN, "H or M followed by 8 (or 10) digits"),
    DocumentType.TAIWAN_COMPATRIOT_PERMIT: (_TAIWAN, "8 digits"),
}


def validate_document(doc_type: str, number: str, today: date) -> tuple[DocumentType, str]:
    """Check `number` as a document of `doc_type`; returns the type and the normalised number.

    The number is normalised to uppercase with all whitespace removed. Only ASCII letters are
    uppercased, so that e.g. 'ß' cannot turn into an acceptable 'SS'.
    """
    kind = parse_choice(
        DocumentType,
        doc_type.strip().lower(),
        field="doc_type",
        code="unknown_doc_type",
        what="document type",
    )
    normalised = "".join(number.split()).translate(_ASCII_UPPER)
    if kind is DocumentType.PRC_ID:
        return kind, validate_prc_id(normalised, today)
    if kind is DocumentType.FOREIGNER_PERMANENT_ID:
        return kind, _validate_foreigner(normalised, today)
    pattern, expected = _PATTERNS[kind]
    if not pattern.fullmatch(normalised):
        raise _format_error(kind, expected)
    return kind, normalised
