"""Published, versioned colour rules: a rule set is data (CertLogic JSON), checked on load.

A rule raises a person's colour to yellow or red because of one fact of theirs, for a stated
number of days from that fact's time, while its CertLogic condition holds. Green is what remains
when no rule applies: nobody is coloured without a rule and the evidence it cites.

Rules cannot target people or events. They read the health fact vocabulary only (no identifier
of a fact, person, venue or place, no district, no free text: domain/facts.py); every text they
compare with is one of the vocabulary's closed values; and time is relative: a condition may move
a fact's time or "now" by whole days (`plusTime` in days), but names no date, no hour and no
instant, so no rule can pick out the visitors of one venue in one hour. A rule set's version and
title are the system's: the version is the next free number of its id, and the title says so.

    {"ruleset": "default", "version": 1, "description": {"zh": "...", "en": "..."},
     "refuse_at_gate": ["yellow", "red"],
     "rules": [{"id": "p1", "colour": "red", "fact": "test", "lasts_days": 14,
                "logic": {"===": [{"var": "fact.result"}, "positive"]},
                "description": {"zh": "...", "en": "..."}, "advice": {"zh": "...", "en": "..."}}]}

A condition sees {"fact": the fact, "facts": {"tests": [...], "exposures": [...], ...},
"now": ISO time}; inside `reduce` it sees {"current", "accumulator", "data"}. The checker
refuses operations outside CertLogic and variables outside the fact vocabulary (domain/facts.py).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from healthcode.domain.errors import InvalidInput
from healthcode.domain.facts import (
    ATTRIBUTES,
    COMMON,
    LISTS,
    RULE_KINDS,
    VALUES,
    FactKind,
    Symptom,
)

SET_ID = re.compile(r"^[a-z][a-z0-9_-]{0,9}$")
RULE_ID = re.compile(r"^[a-z][a-z0-9_]{0,5}$")
LANGUAGES = ("zh", "en")
COLOURS = ("green", "yellow", "red")
RAISES = ("yellow", "red")  # rules raise a colour; green is the absence of a rule
MAX_RULES = 50
MAX_DAYS = 60
MAX_TEXT = 600
MAX_DEPTH = 32
MAX_VERSION = 999
RULE_REF_LENGTH = 16  # a rule reference must fit on a health code (domain/codes.MAX_RULE_REF)
NO_RULE = "none"  # the rule part of a green status's reference

# CertLogic's operations (https://github.com/ehn-dcc-development/dgc-business-rules, certlogic).
# (A string literal in a condition may only be a closed value of the vocabulary, or the time unit
# "day" of plusTime: see _check_literal.)
OPERATIONS = frozenset(
    {
        "var", "if", "===", "and", "<", ">", "<=", ">=", "in", "+", "!", "!!", "reduce",
        "after", "before", "not-after", "not-before", "plusTime",
    }
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Text:
    zh: str
    en: str

    def as_dict(self) -> dict[str, str]:
        return {"zh": self.zh, "en": self.en}


@dataclass(frozen=True, slots=True)
class Rule:
    rule_id: str
    colour: str
    fact: FactKind
    lasts_days: int
    logic: Any  # CertLogic JSON
    description: Text
    advice: Text


@dataclass(frozen=True, slots=True)
class RuleSet:
    set_id: str
    version: int
    description: Text
    refuse_at_gate: frozenset[str]
    rules: tuple[Rule, ...]

    @property
    def title(self) -> Text:
        """Derived, never written by hand: a title cannot claim another version."""
        return title_of(self.set_id, self.version)

    def ref(self, rule_id: str = NO_RULE) -> str:
        return f"{self.set_id}@{self.version}#{rule_id}"

    def rule(self, rule_id: str) -> Rule | None:
        return next((r for r in self.rules if r.rule_id == rule_id), None)


def title_of(set_id: str, version: int) -> Text:
    return Text(f"规则集 {set_id} 第{version}版", f"Rule set {set_id}, version {version}")


def split_ref(rule_ref: str) -> tuple[str, int, str] | None:
    """("default", 1, "p1") from "default@1#p1", or None if it is not a rule reference."""
    head, _, rule_id = rule_ref.partition("#")
    set_id, _, version = head.partition("@")
    if not (SET_ID.match(set_id) and version.isdigit() and rule_id):
        return None
    return set_id, int(version), rule_id


# -- checking a document -------------------------------------------------------------------------


def _fail(
    field: str,
    message: str,
    code: str = "invalid_ruleset",
    params: Mapping[str, object] | None = None,
) -> InvalidInput:
    return InvalidInput(message, field=field, code=code, params=params)


def _text(doc: Mapping[str, Any], key: str, where: str) -> Text:
    value = doc.get(key)
    if not isinstance(value, dict) or set(value) != set(LANGUAGES):
        raise _fail(f"{where}.{key}", "needs a text in Chinese and in English: {'zh', 'en'}")
    for lang in LANGUAGES:
        text = value[lang]
        if not isinstance(text, str) or not text.strip() or len(text) > MAX_TEXT:
            raise _fail(
                f"{where}.{key}.{lang}",
                "must be 1 to %(max_text)s characters of text",
                params={"max_text": MAX_TEXT},
            )
    return Text(value["zh"].strip(), value["en"].strip())


def _int(doc: Mapping[str, Any], key: str, where: str, low: int, high: int) -> int:
    value = doc.get(key)
    if type(value) is not int or not low <= value <= high:
        raise _fail(
            f"{where}.{key}",
            "must be a whole number from %(low)s to %(high)s",
            params={"low": low, "high": high},
        )
    return value


def _keys(doc: Mapping[str, Any], allowed: set[str], where: str) -> None:
    extra = sorted(set(doc) - allowed)
    if extra:
        raise _fail(f"{where}.{extra[0]}", "is not part of the rule-set format")


def set_id_of(doc: object) -> str:
    set_id = doc.get("ruleset") if isinstance(doc, dict) else None
    if not isinstance(set_id, str) or not SET_ID.match(set_id):
        raise _fail("$.ruleset", "a rule-set id is 1 to 10 of a-z, 0-9, _ and -, from a letter")
    return set_id


def parse_ruleset(doc: object, *, next_version: int | None = None, stored: bool = False) -> RuleSet:
    """Check a rule-set document's shape, texts, ids and condition syntax (InvalidInput names
    the JSON path at fault). A new document (`next_version`: the next free version of its id)
    may state its version only if it is that one, and has no title: both are the system's.
    `stored`: a document published before, read back (older ones had a title, ignored now).
    Running the conditions on sample facts is a second step, done by the service with the
    CertLogic engine."""
    if not isinstance(doc, dict):
        raise _fail("ruleset", "a rule set is a JSON object")
    top = {"ruleset", "version", "description", "refuse_at_gate", "rules"}
    _keys(doc, top | {"title"} if stored else top, "$")
    set_id = set_id_of(doc)
    if next_version is not None and "version" not in doc:
        version = next_version
    else:
        version = _int(doc, "version", "$", 1, MAX_VERSION)
    if next_version is not None and version > next_version:
        raise _fail("$.version", "versions are numbered by the system: the next version of "
                    "%(set_id)s is %(next_version)s", "version_number",
                    params={"set_id": set_id, "next_version": next_version})  # fmt: skip
    refuse = doc.get("refuse_at_gate")
    if not isinstance(refuse, list) or not set(refuse) <= set(RAISES) or "red" not in refuse:
        raise _fail("$.refuse_at_gate", "lists the colours a gate refuses; red is always one")
    raw_rules = doc.get("rules")
    if not isinstance(raw_rules, list) or not 1 <= len(raw_rules) <= MAX_RULES:
        raise _fail(
            "$.rules", "a rule set has 1 to %(max_rules)s rules", params={"max_rules": MAX_RULES}
        )
    rules = tuple(_rule(raw, f"$.rules[{i}]") for i, raw in enumerate(raw_rules))
    seen: set[str] = set()
    for i, rule in enumerate(rules):
        if rule.rule_id in seen:
            raise _fail(
                f"$.rules[{i}].id",
                "rule id %(rule_id)s is used twice",
                params={"rule_id": repr(rule.rule_id)},
            )
        seen.add(rule.rule_id)
    ruleset = RuleSet(set_id, version, _text(doc, "description", "$"), frozenset(refuse), rules)
    ids = [(f"$.rules[{i}].id", rule.rule_id) for i, rule in enumerate(rules)]
    for where, rule_id in [*ids, ("$.ruleset", NO_RULE)]:
        ref = ruleset.ref(rule_id)
        if len(ref) > RULE_REF_LENGTH:
            raise _fail(where, "%(ref)s is longer than %(rule_ref_length)s characters: too "
                        "long for a health code",
                        params={"ref": repr(ref), "rule_ref_length": RULE_REF_LENGTH})  # fmt: skip
    return ruleset


def _rule(raw: object, where: str) -> Rule:
    if not isinstance(raw, dict):
        raise _fail(where, "a rule is a JSON object")
    _keys(raw, {"id", "colour", "fact", "lasts_days", "logic", "description", "advice"}, where)
    rule_id = raw.get("id")
    if not isinstance(rule_id, str) or not RULE_ID.match(rule_id) or rule_id == NO_RULE:
        raise _fail(f"{where}.id", "a rule id is 1 to 6 of a-z, 0-9 and _, from a letter")
    colour = raw.get("colour")
    if colour not in RAISES:
        raise _fail(f"{where}.colour", "a rule raises the colour to yellow or red")
    fact = raw.get("fact")
    if fact not in {k.value for k in RULE_KINDS}:  # never a manual order: it is not evidence
        kinds = ", ".join(k.value for k in RULE_KINDS)
        raise _fail(
            f"{where}.fact", "a rule applies to one fact kind: %(kinds)s", params={"kinds": kinds}
        )
    kind = FactKind(fact)
    if "logic" not in raw:
        raise _fail(f"{where}.logic", "a rule needs a CertLogic condition (true for always)")
    check_logic(raw["logic"], kind, f"{where}.logic")
    return Rule(
        rule_id,
        colour,
        kind,
        _int(raw, "lasts_days", where, 1, MAX_DAYS),
        raw["logic"],
        _text(raw, "description", where),
        _text(raw, "advice", where),
    )


# -- condition syntax: CertLogic operations over the fact vocabulary only ------------------------


def _paths(kind: FactKind) -> set[str]:
    return {*COMMON, *ATTRIBUTES[kind]}


def _var_ok(path: str, kind: FactKind, scope: FactKind | None) -> bool:
    """Is `path` a variable of the vocabulary? `scope` is the list being reduced, if any."""
    if scope is not None:
        if path == "accumulator" or path == "current":
            return True
        head, _, rest = path.partition(".")
        if head == "current":
            return rest in _paths(scope)
        if head == "data":
            return _var_ok(rest, kind, None)
        return False
    head, _, rest = path.partition(".")
    if path == "now":
        return True
    if head == "fact":
        return rest in _paths(kind)
    if head == "facts":
        return rest in LISTS
    return False


# The only texts a condition may compare with: the vocabulary's closed values, its fact kinds,
# and the one time unit. A date, an hour or any other text is refused: time is relative to the
# fact ("days since"), never an absolute window that could pick out one event.
LITERALS = frozenset(
    {v for values in VALUES.values() for v in values}
    | {s.value for s in Symptom}
    | {k.value for k in RULE_KINDS}
    | {"day"}
)
MAX_NUMBER = 10_000


def _check_literal(node: object, where: str) -> None:
    if node is None or isinstance(node, bool):
        return
    if isinstance(node, int | float):
        if not -MAX_NUMBER <= node <= MAX_NUMBER:
            raise _fail(where, "numbers in a condition are from -%(max_number)s to "
                                "%(max_number)s",
                        "literal", params={"max_number": MAX_NUMBER})  # fmt: skip
        return
    if isinstance(node, str):
        if node not in LITERALS:
            raise _fail(where, "%(node)s is not a value of the health fact vocabulary: a "
                                "condition compares with closed values only, and time only in "
                                "days relative to a fact (plusTime ... 'day'), never a date or "
                                "an hour",
                        "literal", params={"node": repr(node[:40])})  # fmt: skip
        return
    raise _fail(where, "is not a JSON value")


def check_logic(
    node: object, kind: FactKind, where: str, scope: FactKind | None = None, depth: int = 0
) -> None:
    if depth > MAX_DEPTH:
        raise _fail(
            where, "a condition nests at most %(max_depth)s levels", params={"max_depth": MAX_DEPTH}
        )
    if isinstance(node, list):
        for i, item in enumerate(node):
            check_logic(item, kind, f"{where}[{i}]", scope, depth + 1)
        return
    if not isinstance(node, dict):
        _check_literal(node, where)
        return
    if len(node) != 1:
        raise _fail(where, "an operation is an object with exactly one key")
    op, args = next(iter(node.items()))
    if op not in OPERATIONS:
        raise _fail(
            where,
            "%(op)s is not a CertLogic operation",
            "unknown_operation",
            params={"op": repr(op)},
        )
    if op == "var":
        path = args[0] if isinstance(args, list) and args else args
        for default in args[1:] if isinstance(args, list) else []:
            _check_literal(default, f"{where}[1]")
        if not isinstance(path, str) or not _var_ok(path, kind, scope):
            raise _fail(where, "variable %(path)s is not in the health fact vocabulary",
                        "unknown_variable", params={"path": repr(path)})  # fmt: skip
        return
    if op == "reduce":
        if not isinstance(args, list) or len(args) != 3:
            raise _fail(where, "reduce takes [list, operation, initial value]")
        if scope is not None:
            raise _fail(where, "reduce does not nest inside reduce")
        source = args[0]
        path = source.get("var") if isinstance(source, dict) and len(source) == 1 else None
        listed = path.partition(".")[2] if isinstance(path, str) else ""
        if not isinstance(path, str) or not path.startswith("facts.") or listed not in LISTS:
            raise _fail(f"{where}[0]", "reduce runs over one of the fact lists: facts.<list>")
        check_logic(args[1], kind, f"{where}[1]", LISTS[listed], depth + 1)
        check_logic(args[2], kind, f"{where}[2]", scope, depth + 1)
        return
    check_logic(args, kind, where, scope, depth + 1)


def kinds_used(ruleset: RuleSet) -> set[FactKind]:
    """Every fact kind a rule set reads: the kinds its rules apply to and the lists it reduces."""
    used = {rule.fact for rule in ruleset.rules}

    def walk(node: object) -> None:
        if isinstance(node, list):
            for item in node:
                walk(item)
        elif isinstance(node, dict):
            for op, args in node.items():
                if op == "var" and isinstance(args, str) and args.startswith("facts."):
                    kind = LISTS.get(args.partition(".")[2])
                    if kind is not None:
                        used.add(kind)
                walk(args)

    for rule in ruleset.rules:
        walk(rule.logic)
    return used


def colour_rank(colour: str) -> int:
    return COLOURS.index(colour)
