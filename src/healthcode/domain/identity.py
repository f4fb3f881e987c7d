"""A resident's identity as it enters the vault: document number, mobile number and name.

Pure: standard library only. Each check returns the normalised value or raises `InvalidInput`
naming the field (`doc_number`, `doc_type`, `phone`, `name`) with a stable snake_case code.
Error messages never echo the value itself (they end up in logs), only what is wrong with it.

Document types and number checks live in `healthcode.domain.documents` and are re-exported here.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping

from healthcode.domain.documents import (
    DocumentType,
    date_of,
    mod11_2_check_char,
    prc_id_birth_date,
    validate_document,
    validate_prc_id,
)
from healthcode.domain.errors import N_, InvalidInput

__all__ = [
    "NAME_MAX_LENGTH",
    "DocumentType",
    "date_of",
    "mask_name",
    "mod11_2_check_char",
    "prc_id_birth_date",
    "validate_document",
    "validate_mobile",
    "validate_name",
    "validate_prc_id",
]

# --- Mobile numbers -----------------------------------------------------------------------

_PHONE_SEPARATORS = re.compile(r"[\s\-()]")
_PHONE_CHARS = re.compile(r"\+?[0-9]+", re.ASCII)
_MAINLAND = re.compile(r"1[3-9][0-9]{9}", re.ASCII)
# Calling code -> (national mobile number pattern, description for error messages).
_REGIONS: dict[str, tuple[re.Pattern[str], str]] = {
    "86": (_MAINLAND, N_("mainland China mobile numbers are 11 digits starting 13-19")),
    # Hong Kong: not every 4/7/8 block is mobile; the whole 4-9 range is accepted, bounded.
    "852": (
        re.compile(r"[4-9][0-9]{7}", re.ASCII),
        N_("Hong Kong mobile numbers are 8 digits starting 4-9"),
    ),
    "853": (re.compile(r"6[0-9]{7}", re.ASCII), N_("Macao mobile numbers are 8 digits starting 6")),
    # Taiwan mobiles are 09xx-xxx-xxx at home; internationally the trunk 0 is dropped, but
    # people often keep it after +886, so it is accepted (and removed) there only.
    "886": (
        re.compile(r"0?9[0-9]{8}", re.ASCII),
        N_("Taiwan mobile numbers are 9 digits starting 9 (or 09 followed by 8 digits)"),
    ),
}


def _phone_error(detail: str) -> InvalidInput:
    return InvalidInput(
        "mobile number is not valid: %(detail)s",
        field="phone",
        code="phone_format",
        params={"detail": detail},
    )


def validate_mobile(phone: str) -> str:
    """Check a mobile number from mainland China, Hong Kong, Macao or Taiwan; returns E.164.

    Spaces, dashes and parentheses are ignored. Mainland numbers may be written bare
    (13812345678) or after +86, 0086 or 86; the others need +852 / +853 / +886 (or 00...).
    """
    compact = _PHONE_SEPARATORS.sub("", phone)
    if not _PHONE_CHARS.fullmatch(compact):
        raise _phone_error("expected digits, optionally starting with +, e.g. +86 138 1234 5678")
    if not compact.startswith(("+", "00")):
        if _MAINLAND.fullmatch(compact):
            return "+86" + compact
        if compact.startswith("86") and _MAINLAND.fullmatch(compact[2:]):
            return "+" + compact
        raise _phone_error(
            "expected a mainland China mobile number (11 digits starting 13-19); numbers from "
            "Hong Kong, Macao or Taiwan must start with +852, +853 or +886"
        )
    digits = compact[1:] if compact.startswith("+") else compact[2:]
    for code, (pattern, description) in _REGIONS.items():
        if digits.startswith(code):
            national = digits[len(code) :]
            if not pattern.fullmatch(national):
                raise InvalidInput(
                    "mobile number is not valid: after +%(code)s, %(description)s",
                    field="phone",
                    code="phone_format",
                    params={"code": code, "description": description},
                )
            return f"+{code}{national.removeprefix('0')}"
    raise InvalidInput(
        "mobile number has a country code we do not accept: expected a mobile number from "
        "mainland China (+86), Hong Kong (+852), Macao (+853) or Taiwan (+886)",
        field="phone",
        code="phone_country",
    )


# --- Names --------------------------------------------------------------------------------

NAME_MAX_LENGTH = 64
MIDDLE_DOT = "\u00b7"  # · as in 阿沛·阿旺晋美
# Look-alikes people type for the middle dot, apostrophe and hyphen, folded to one spelling
# so that the same name is always stored the same way.
_FOLD = str.maketrans(
    {
        "\u2022": MIDDLE_DOT,  # • bullet
        "\u2027": MIDDLE_DOT,  # ‧ hyphenation point
        "\u30fb": MIDDLE_DOT,  # ・ katakana middle dot
        "\uff65": MIDDLE_DOT,  # ･ halfwidth katakana middle dot
        "\u2019": "'",  # ’ right single quotation mark
        "\u2010": "-",  # ‐ hyphen
    }
)
_NAME_PUNCTUATION = frozenset(" '-." + MIDDLE_DOT)
_ALLOWED_WHITESPACE = frozenset("\t\n\r")
_AROUND_DOT = re.compile(rf" ?{MIDDLE_DOT} ?")
_IDEOGRAPHIC_NON_LETTERS = frozenset("\u3007")  # 〇, a letter-number used in some names


def _name_error(
    message: str, code: str, params: Mapping[str, object] | None = None
) -> InvalidInput:
    return InvalidInput(message, field="name", code=code, params=params)


def validate_name(name: str) -> str:
    """Check a person's name; returns it NFC-normalised, stripped, with single inner spaces.

    Allowed: letters of any script (with their combining marks), spaces, the middle dot (·),
    apostrophe, hyphen and period. Digits, symbols and control or invisible format characters
    (including zero-width and bidirectional controls) are refused.
    """
    for ch in name:
        if unicodedata.category(ch) in ("Cc", "Cf") and ch not in _ALLOWED_WHITESPACE:
            raise _name_error(
                "name contains an invisible or control character (U+%(value)s); expected only "
                "letters, spaces and · ' - .",
                "name_charset",
                params={"value": format(ord(ch), "04X")},
            )
    text = " ".join(unicodedata.normalize("NFC", name).translate(_FOLD).split())
    text = _AROUND_DOT.sub(MIDDLE_DOT, text)
    if not text:
        raise _name_error("name is empty: expected 1 to 64 characters", "name_empty")
    if len(text) > NAME_MAX_LENGTH:
        raise _name_error(
            "name has %(n_text)s characters but at most %(name_max_length)s are allowed",
            "name_too_long",
            params={"n_text": len(text), "name_max_length": NAME_MAX_LENGTH},
        )
    for ch in text:
        category = unicodedata.category(ch)
        if category[0] in "LM" or ch in _NAME_PUNCTUATION or ch in _IDEOGRAPHIC_NON_LETTERS:
            continue
        kind = "a digit" if category[0] == "N" else f"the character {ch!r}"
        raise _name_error(
            "name contains %(kind)s; expected only letters, spaces and · ' - .",
            "name_charset",
            params={"kind": kind},
        )
    if not any(unicodedata.category(ch)[0] == "L" for ch in text):
        raise _name_error("name contains no letter: expected at least one", "name_charset")
    return text


def _is_cjk(ch: str) -> bool:
    return unicodedata.name(ch, "").startswith("CJK ") or ch in "\u3005\u3007"


def _first_letter(text: str) -> str:
    return next((ch for ch in text if unicodedata.category(ch)[0] == "L"), "")


def mask_name(name: str) -> str:
    """The name as a guard may see it: at most one real character per word.

    张三 -> 张*, 欧阳娜娜 -> 欧**, 阿沛·阿旺晋美 -> 阿*, Wei Zhang -> W* Z*, 张 -> 张*.
    Raises `InvalidInput` exactly as `validate_name` does.
    """
    text = validate_name(name)
    if MIDDLE_DOT in text:
        return _first_letter(text) + "*"
    compact = text.replace(" ", "")
    if all(_is_cjk(ch) for ch in compact):
        return compact[0] + "*" * min(max(len(compact) - 1, 1), 2)
    return " ".join(_first_letter(word) + "*" for word in text.split(" "))
