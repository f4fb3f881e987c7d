"""Identity checks: PRC ID numbers, other documents, mobile numbers, names and name masking."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from hypothesis import given
from hypothesis import strategies as st

from healthcode.domain.errors import InvalidInput
from healthcode.domain.identity import (
    DocumentType,
    date_of,
    mask_name,
    mod11_2_check_char,
    prc_id_birth_date,
    validate_document,
    validate_mobile,
    validate_name,
    validate_prc_id,
)

TODAY = date(2025, 6, 1)
TODAY_START = datetime(2025, 6, 1, tzinfo=UTC)
REGIONS = [*range(11, 16), 21, 22, 23, *range(31, 38), *range(41, 47)]
REGIONS += [*range(50, 55), *range(61, 66), 71, 81, 82, 83]
CHECK_CHARS = "0123456789X"


def reference_check(body: str) -> str:
    """GB 11643 check character, written out independently of the module under test."""
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    total = sum(int(d) * w for d, w in zip(body, weights, strict=True))
    return "10X98765432"[total % 11]


def make_id(region: str = "110101", born: str = "19900307", seq: str = "123") -> str:
    body = region + born + seq
    return body + reference_check(body)


def with_check(number: str, check: str) -> str:
    return number[:17] + check


def wrong_check(number: str) -> str:
    return with_check(number, next(c for c in CHECK_CHARS if c != number[17]))


def rejects(code: str, field: str, call: Callable[..., object], *args: object) -> InvalidInput:
    """`call(*args)` raises InvalidInput with this code and field, and a readable message."""
    with pytest.raises(InvalidInput) as caught:
        call(*args)
    err = caught.value
    assert (err.code, err.field) == (code, field), err.as_dict()
    assert len(err.message) > 20
    assert err.as_dict() == {"code": code, "field": field, "message": err.message}
    return err


# --- PRC identity numbers -----------------------------------------------------------------

# Examples printed in GB 11643-1999 itself, and sample numbers widely used in documentation.
PUBLISHED_VALID = [
    "11010519491231002X",  # GB 11643-1999 example
    "110101199003074477",
    "11010119900307803X",
    "810000199408230021",  # Hong Kong residents' residence permit format (810000)
    "830000199201300022",  # Taiwan residents' residence permit format (830000)
]


@pytest.mark.parametrize("number", PUBLISHED_VALID)
def test_published_sample_numbers_are_valid(number: str) -> None:
    assert validate_prc_id(number, today=TODAY) == number


def test_gb11643_example_born_1880_has_a_right_checksum_but_is_too_old() -> None:
    number = "440524188001010014"  # the standard's other example
    assert mod11_2_check_char(number[:17]) == number[17]
    rejects("id_birth_date", "doc_number", validate_prc_id, number, TODAY)


@pytest.mark.parametrize("region", [f"{r}0102" for r in REGIONS])
@pytest.mark.parametrize("born", ["19000101", "19491001", "19991231", "20000229", "20250601"])
def test_constructed_numbers_validate_in_every_region(region: str, born: str) -> None:
    number = make_id(region, born, "047")
    assert validate_prc_id(number, today=TODAY) == number


@pytest.mark.parametrize("seq", [f"{n:03d}" for n in range(0, 1000, 37)])
def test_constructed_numbers_validate_for_many_sequences(seq: str) -> None:
    number = make_id("320102", "19851115", seq)
    assert validate_prc_id(number, today=TODAY) == number
    assert mod11_2_check_char(number[:17]) == number[17]


def test_every_check_character_occurs() -> None:
    seen = {make_id("440304", "19770706", f"{n:03d}")[17] for n in range(200)}
    assert seen == set(CHECK_CHARS)


def test_lowercase_x_and_surrounding_whitespace_are_accepted() -> None:
    assert validate_prc_id(" 11010519491231002x\n", today=TODAY) == "11010519491231002X"


@pytest.mark.parametrize(
    "number", ["", "1101051949123100", "1101051949123100211", "110105491231002"]
)
def test_wrong_length(number: str) -> None:
    rejects("id_length", "doc_number", validate_prc_id, number, TODAY)


@pytest.mark.parametrize(
    "number",
    [
        "1101051949123100X2",  # X not last
        "11010519491231002Y",
        "1101051949A231002X",
        "１１０１０５１９４９１２３１００２Ｘ",  # full-width digits
        "١١٠١٠٥١٩٤٩١٢٣١٠٠٢٠",  # Arabic-Indic digits: str.isdigit() would say yes
        "110105 9491231002X",
    ],
)
def test_wrong_charset(number: str) -> None:
    rejects("id_charset", "doc_number", validate_prc_id, number, TODAY)


@pytest.mark.parametrize("region", ["00", "10", "16", "20", "24", "30", "38", "40", "47", "49"])
def test_invalid_region(region: str) -> None:
    rejects("id_region", "doc_number", validate_prc_id, make_id(region + "0101"), TODAY)


@pytest.mark.parametrize("region", ["55", "60", "66", "70", "72", "80", "84", "91", "99"])
def test_more_invalid_regions(region: str) -> None:
    rejects("id_region", "doc_number", validate_prc_id, make_id(region + "0101"), TODAY)


def test_region_error_hints_at_foreigner_ids() -> None:
    err = rejects("id_region", "doc_number", validate_prc_id, make_id("911101"), TODAY)
    assert "foreign permanent resident" in err.message


@pytest.mark.parametrize(
    "born", ["19000229", "19990229", "19901301", "19900001", "19900431", "19900100", "18991231"]
)
def test_invalid_birth_dates(born: str) -> None:
    rejects("id_birth_date", "doc_number", validate_prc_id, make_id(born=born), TODAY)


def test_leap_days() -> None:
    # 1900 is not a leap year (divisible by 100, not by 400); 2000 is.
    rejects("id_birth_date", "doc_number", validate_prc_id, make_id(born="19000229"), TODAY)
    assert validate_prc_id(make_id(born="20000229"), today=TODAY)


def test_future_birth_date_against_injected_today() -> None:
    tomorrow = (TODAY + timedelta(days=1)).strftime("%Y%m%d")
    err = rejects("id_birth_date", "doc_number", validate_prc_id, make_id(born=tomorrow), TODAY)
    assert "future" in err.message
    assert validate_prc_id(make_id(born=tomorrow), today=TODAY + timedelta(days=1))
    assert validate_prc_id(make_id(born=TODAY.strftime("%Y%m%d")), today=TODAY)


@time_machine.travel(TODAY_START, tick=False)  # the wall clock agrees with TODAY, and is not read
def test_today_comes_from_the_caller_clock() -> None:
    """There is no default "today": a birth date is checked against the caller's clock."""
    born = make_id(born="20260101")
    rejects("id_birth_date", "doc_number", validate_prc_id, born, date_of(1_767_139_200))  # 12-31
    assert validate_prc_id(born, date_of(1_767_225_600)) == born  # 2026-01-01 00:00 UTC


def test_wrong_check_character_message() -> None:
    number = with_check("110105194912310021", "7")
    err = rejects("id_checksum", "doc_number", validate_prc_id, number, TODAY)
    assert err.message == (
        "ID number check character is '7' but should be 'X' (GB 11643 / ISO 7064 MOD 11-2)"
    )


def test_birth_date_is_not_echoed_in_messages() -> None:
    err = rejects("id_birth_date", "doc_number", validate_prc_id, make_id(born="19901301"), TODAY)
    assert "19901301" not in err.message


@time_machine.travel(TODAY_START, tick=False)
def test_birth_date_extraction() -> None:
    assert prc_id_birth_date("11010519491231002X", TODAY) == date(1949, 12, 31)
    assert prc_id_birth_date(make_id(born="20000229"), TODAY) == date(2000, 2, 29)
    rejects("id_checksum", "doc_number", prc_id_birth_date, wrong_check(make_id()), TODAY)


def test_mod11_2_rejects_bad_bodies() -> None:
    with pytest.raises(ValueError, match="17 ASCII digits"):
        mod11_2_check_char("1234")


bodies = st.builds(
    lambda region, county, born, seq: f"{region}{county:04d}{born:%Y%m%d}{seq:03d}",
    st.sampled_from(REGIONS),
    st.integers(0, 9999),
    st.dates(min_value=date(1900, 1, 1), max_value=TODAY),
    st.integers(0, 999),
)


@given(bodies)
def test_exactly_one_check_character_validates(body: str) -> None:
    valid = []
    for check in CHECK_CHARS:
        number = body + check
        if check == reference_check(body):
            valid.append(validate_prc_id(number, today=TODAY)[17])
        else:
            rejects("id_checksum", "doc_number", validate_prc_id, number, TODAY)
    assert valid == [reference_check(body)]


# --- Other documents ----------------------------------------------------------------------


def test_display_names() -> None:
    assert DocumentType.PRC_ID.name_zh == "居民身份证"
    assert DocumentType.HOME_RETURN_PERMIT.name_zh == "港澳居民来往内地通行证"
    assert DocumentType.TAIWAN_COMPATRIOT_PERMIT.name_zh == "台湾居民来往大陆通行证"
    assert DocumentType.FOREIGNER_PERMANENT_ID.name_en == "Foreign Permanent Resident ID Card"
    for kind in DocumentType:
        assert kind.name_zh
        assert kind.name_en.isascii()
    assert DocumentType("prc_id") is DocumentType.PRC_ID
    assert str(DocumentType.PASSPORT) == "passport"


def new_foreigner_id(born: str = "19850412") -> str:
    body = "9" + "11" + "840" + born + "001"  # Beijing, nationality 840, sequence 001
    return body + reference_check(body)


VALID_DOCUMENTS = [
    ("prc_id", " 11010519491231002x ", "11010519491231002X"),
    ("prc_id", "110105 19491231 002X", "11010519491231002X"),
    ("passport", "E12345678", "E12345678"),  # PRC e-passport
    ("passport", "EA1234567", "EA1234567"),  # PRC, after the E + 8 digits range ran out
    ("passport", "G12345678", "G12345678"),  # PRC, before 2012
    ("passport", "x1234567", "X1234567"),
    ("passport", "c03005988", "C03005988"),
    ("passport", "12345", "12345"),
    ("passport", "AB12 3456 7890 1234 5678", "AB123456789012345678"),
    ("hk_macau_permit", "C12345678", "C12345678"),
    ("hk_macau_permit", "ca0000001", "CA0000001"),
    ("hk_macau_permit", "CZ9999999", "CZ9999999"),
    ("home_return_permit", "H12345678", "H12345678"),
    ("home_return_permit", "m 1234 5678", "M12345678"),
    ("home_return_permit", "H1234567801", "H1234567801"),
    ("taiwan_compatriot_permit", "01234567", "01234567"),
    ("foreigner_permanent_id", new_foreigner_id(), new_foreigner_id()),
    ("foreigner_permanent_id", "usa310012345678", "USA310012345678"),
    ("FOREIGNER_PERMANENT_ID", "CHN 3100 1234 5678", "CHN310012345678"),
]


@pytest.mark.parametrize(("doc_type", "number", "expected"), VALID_DOCUMENTS)
def test_valid_documents(doc_type: str, number: str, expected: str) -> None:
    kind, normalised = validate_document(doc_type, number, TODAY)
    assert kind == DocumentType(doc_type.lower())
    assert normalised == expected


INVALID_DOCUMENTS = [
    ("prc_id", "11010519491231002", "id_length"),
    ("prc_id", wrong_check("11010519491231002X"), "id_checksum"),
    ("prc_id", new_foreigner_id(), "id_region"),
    ("passport", "1234", "doc_format"),
    ("passport", "A" * 21, "doc_format"),
    ("passport", "E1234567-8", "doc_format"),
    ("passport", "É12345678", "doc_format"),
    ("passport", "ß12345", "doc_format"),  # str.upper() would make it 'SS12345'
    ("prc_id", "11010519491231002\u0445", "id_charset"),  # Cyrillic х
    ("hk_macau_permit", "C1234567", "doc_format"),
    ("hk_macau_permit", "C123456789", "doc_format"),
    ("hk_macau_permit", "CI1234567", "doc_format"),  # I and O are never used
    ("hk_macau_permit", "CO1234567", "doc_format"),
    ("hk_macau_permit", "W12345678", "doc_format"),
    ("hk_macau_permit", "CAB123456", "doc_format"),
    ("home_return_permit", "12345678", "doc_format"),
    ("home_return_permit", "K12345678", "doc_format"),
    ("home_return_permit", "H123456789", "doc_format"),
    ("home_return_permit", "H123456", "doc_format"),
    ("taiwan_compatriot_permit", "1234567", "doc_format"),
    ("taiwan_compatriot_permit", "0561682001", "doc_format"),  # pre-2008 10-digit booklet
    ("taiwan_compatriot_permit", "T1234567", "doc_format"),
    ("foreigner_permanent_id", "811101198504120012", "doc_format"),
    ("foreigner_permanent_id", "US3100123456789", "doc_format"),
    ("foreigner_permanent_id", "USA31001234567", "doc_format"),
    ("foreigner_permanent_id", "9111840198504120", "doc_format"),
    ("foreigner_permanent_id", wrong_check(new_foreigner_id()), "id_checksum"),
    ("foreigner_permanent_id", new_foreigner_id("19850230"), "id_birth_date"),
    ("foreigner_permanent_id", new_foreigner_id("20300101"), "id_birth_date"),
    ("foreigner_permanent_id", "91184019850412001Y", "id_charset"),
]


@pytest.mark.parametrize(("doc_type", "number", "code"), INVALID_DOCUMENTS)
def test_invalid_documents(doc_type: str, number: str, code: str) -> None:
    err = rejects(code, "doc_number", validate_document, doc_type, number, TODAY)
    assert number not in err.message


@pytest.mark.parametrize("doc_type", ["", "id", "driving_licence", "prc id", "PRC-ID"])
def test_unknown_document_type(doc_type: str) -> None:
    err = rejects(
        "unknown_doc_type", "doc_type", validate_document, doc_type, "E12345678", TODAY
    )
    assert "prc_id" in err.message


# --- Mobile numbers -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("phone", "expected"),
    [
        ("13812345678", "+8613812345678"),
        ("138 1234 5678", "+8613812345678"),
        ("138-1234-5678", "+8613812345678"),
        ("+86 138 1234 5678", "+8613812345678"),
        ("(+86) 138-1234-5678", "+8613812345678"),
        ("0086 13812345678", "+8613812345678"),
        ("8613812345678", "+8613812345678"),
        ("  19912345678 ", "+8619912345678"),
        ("+852 9123 4567", "+85291234567"),
        ("00852-4123-4567", "+85241234567"),
        ("+853 6612 3456", "+85366123456"),
        ("+886 912 345 678", "+886912345678"),
        ("+886 0912-345-678", "+886912345678"),
        ("00886 0912345678", "+886912345678"),
    ],
)
def test_valid_mobiles(phone: str, expected: str) -> None:
    assert validate_mobile(phone) == expected


@pytest.mark.parametrize(
    "phone",
    [
        "",
        "12812345678",  # mainland mobiles start 13-19
        "1381234567",
        "138123456789",
        "+86 12812345678",
        "86 1381234567",
        "138.1234.5678",
        "138 1234 567a",
        "+86+13812345678",
        "０13812345678",
        "91234567",  # Hong Kong without its code
        "0912345678",  # Taiwan trunk 0 without +886
        "+852 3123 4567",  # Hong Kong landline
        "+852 912345678",
        "+853 2812 3456",  # Macao landline
        "+853 661234",
        "+886 812345678",
        "+886 00912345678",
    ],
)
def test_malformed_mobiles(phone: str) -> None:
    err = rejects("phone_format", "phone", validate_mobile, phone)
    if phone.strip():
        assert phone.strip() not in err.message


@pytest.mark.parametrize("phone", ["+1 415 555 0100", "+44 7700 900123", "0081 90 1234 5678"])
def test_foreign_mobiles(phone: str) -> None:
    rejects("phone_country", "phone", validate_mobile, phone)


# --- Names --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("张三", "张三"),
        ("  欧阳娜娜 ", "欧阳娜娜"),
        ("阿沛·阿旺晋美", "阿沛·阿旺晋美"),
        ("阿沛 · 阿旺晋美", "阿沛·阿旺晋美"),
        ("阿沛•阿旺晋美", "阿沛·阿旺晋美"),
        ("阿沛・阿旺晋美", "阿沛·阿旺晋美"),
        ("Wei   Zhang", "Wei Zhang"),
        ("Wei\tZhang\n", "Wei Zhang"),
        ("张\u3000三", "张 三"),
        ("Seán O’Brien", "Seán O'Brien"),
        ("Jean-Luc Picard", "Jean-Luc Picard"),
        ("J. R. R. Tolkien", "J. R. R. Tolkien"),
        ("Jose\u0301", "José"),  # decomposed accent is composed (NFC)
        ("Владимир Петров", "Владимир Петров"),
        ("محمد", "محمد"),
        ("देवनागरी", "देवनागरी"),
        ("김민준", "김민준"),
        ("佐々木", "佐々木"),
        ("林〇", "林〇"),
        ("X", "X"),
        ("a" * 64, "a" * 64),
    ],
)
def test_valid_names(name: str, expected: str) -> None:
    assert validate_name(name) == expected


@pytest.mark.parametrize("name", ["", "   ", "\t\n", "\u3000"])
def test_empty_names(name: str) -> None:
    rejects("name_empty", "name", validate_name, name)


def test_too_long_names() -> None:
    rejects("name_too_long", "name", validate_name, "a" * 65)
    rejects("name_too_long", "name", validate_name, "张" * 65)
    assert validate_name(" " + "a" * 64 + "  ") == "a" * 64


@pytest.mark.parametrize(
    "name",
    [
        "Agent 007",
        "张三1",
        "张三１",  # full-width digit
        "Ⅷ",
        "Bobby; DROP TABLE",
        "a@b",
        "张\x00三",
        "Wei\x1fZhang",
        "Wei\u200bZhang",  # zero-width space
        "\u202eWei",  # right-to-left override
        "😀",
        "·",
        "- '",
    ],
)
def test_bad_characters_in_names(name: str) -> None:
    rejects("name_charset", "name", validate_name, name)


# --- Masking ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "masked"),
    [
        ("张三", "张*"),
        ("李小龙", "李**"),
        ("欧阳娜娜", "欧**"),
        ("爱新觉罗·溥仪", "爱*"),
        ("阿沛·阿旺晋美", "阿*"),
        ("张", "张*"),
        ("Wei Zhang", "W* Z*"),
        ("Wei", "W*"),
        ("X", "X*"),
        ("Jean-Luc Picard", "J* P*"),
        ("O'Brien", "O*"),
        ("J. R. R. Tolkien", "J* R* R* T*"),
        ("Maria da Silva", "M* d* S*"),
        ("Владимир Петров", "В* П*"),
        ("김민준", "김*"),
        ("  欧阳 娜娜 ", "欧**"),
    ],
)
def test_mask_name(name: str, masked: str) -> None:
    assert mask_name(name) == masked


def test_mask_name_rejects_invalid_names() -> None:
    rejects("name_empty", "name", mask_name, " ")
    rejects("name_charset", "name", mask_name, "R2-D2")


name_chars = st.characters(
    categories=("Lu", "Ll", "Lo", "Lm", "Mn", "Zs"),
    include_characters=" ·'-.张三欧阳",
)


@given(st.text(name_chars, min_size=1, max_size=80))
def test_masked_names_show_at_most_one_real_character_per_word(name: str) -> None:
    try:
        masked = mask_name(name)
    except InvalidInput:
        return
    for word in masked.split(" "):
        assert len(word.replace("*", "")) <= 1
        assert word.endswith("*")
    assert len(masked.split(" ")) <= len(validate_name(name).split(" "))
