"""CertLogic evaluation, by panzi-json-logic (a maintained implementation of the EU DCC
business-rule language). Rules are data; this is the one place that runs them.

A rule is evaluated for every fact of every person a trace or a sweep derives again, so it is
compiled once per rule (per rule-set version: the parsed rule set keeps its logic objects) into
nested closures that walk the expression exactly as panzi-json-logic's `apply` does, calling the
library's own operations (`BUILTINS`); only the walk over the JSON tree, done again for every
evaluation by `apply`, is done once here. Date-time texts are parsed once each (the library's
`parse_time`, remembered: a person's facts and `now` recur across rules and people).
`tests/property/test_certlogic_compiled.py` checks the compiled form against the library's
`apply` on random expressions and data.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from json_logic.cert_logic import builtins as certlogic_builtins
from json_logic.cert_logic import certLogic
from json_logic.cert_logic.builtins import BUILTINS, not_, parse_time, to_bool

Compiled = Callable[[Any], Any]


@lru_cache(maxsize=65_536)
def _parse_text(value: str) -> Any:
    return parse_time(value)


def _parse(value: Any) -> Any:
    return _parse_text(value) if isinstance(value, str) else parse_time(value)


def _dated(compare: Callable[[Any, Any], bool]) -> Callable[..., bool]:
    """`before`, `not-before`, `after` and `not-after` as the library defines them, with the
    date-time texts parsed once each."""

    def op(data: Any = None, a: Any = None, b: Any = None, c: Any = None, *_: Any) -> bool:
        if c is None:
            return compare(_parse(a), _parse(b))
        return compare(_parse(a), _parse(b)) and compare(_parse(b), _parse(c))

    return op


def _plus_time(data: Any = None, dtstr: Any = None, value: Any = None, unit: Any = None,
               *_: Any) -> Any:  # fmt: skip
    parsed = _parse(dtstr)
    return certlogic_builtins.op_plus_time(data, parsed, value, unit)


OPERATIONS: dict[str, Callable[..., Any]] = {
    **BUILTINS,
    "before": _dated(lambda a, b: a < b),
    "not-before": _dated(lambda a, b: a >= b),
    "after": _dated(lambda a, b: a > b),
    "not-after": _dated(lambda a, b: a <= b),
    "plusTime": _plus_time,
}


def compile_logic(logic: Any) -> Compiled:
    """A function of the data equal to `certLogic(logic, data)`."""
    if isinstance(logic, list):
        items = [compile_logic(item) for item in logic]
        return lambda data: [item(data) for item in items]
    if not isinstance(logic, dict) or len(logic) != 1:
        return lambda _data: logic
    op: str = next(iter(logic))
    raw = logic[op]
    args = raw if isinstance(raw, list) else [raw]
    if op == "if":
        return _compile_if([compile_logic(a) for a in args])
    if op == "and":
        parts = [compile_logic(a) for a in args]

        def and_(data: Any) -> Any:
            current = None
            for part in parts:
                current = part(data)
                if not_(current):
                    return current
            return current

        return and_
    if op == "reduce":
        return _compile_reduce(args)
    compiled = [compile_logic(a) for a in args]
    function = OPERATIONS.get(op)
    if function is None:
        raise ReferenceError(f"Unrecognized operation {op}")  # as the library, when evaluated
    if len(compiled) == 1:
        (only,) = compiled
        return lambda data: function(data, only(data))
    if len(compiled) == 2:
        first, second = compiled
        return lambda data: function(data, first(data), second(data))
    return lambda data: function(data, *[c(data) for c in compiled])


def _compile_if(parts: list[Compiled]) -> Compiled:
    if not parts:
        return lambda _data: None

    def if_(data: Any) -> Any:
        if to_bool(parts[0](data)):
            return parts[1](data) if len(parts) > 1 else None
        return parts[2](data) if len(parts) > 2 else None

    return if_


def _compile_reduce(args: list[Any]) -> Compiled:
    if not args:
        return lambda _data: None
    items_of = compile_logic(args[0])
    sublogic = compile_logic(args[1] if len(args) > 1 else None)
    init = args[2] if len(args) > 2 else None

    def reduce_(data: Any) -> Any:
        items = items_of(data)
        if not isinstance(items, list):
            return init
        context: dict[str, Any] = {"accumulator": init, "data": data}
        for item in items:
            context["current"] = item
            context["accumulator"] = sublogic(context)
        return context["accumulator"]

    return reduce_


class CertLogicEngine:
    """`apply` with each rule compiled the first time it is evaluated. Compiled forms are kept
    by the identity of the logic object (held, so the identity is never reused)."""

    def __init__(self) -> None:
        self._compiled: dict[int, tuple[Any, Compiled]] = {}
        self._lock = threading.Lock()

    def apply(self, logic: object, data: object) -> object:
        held = self._compiled.get(id(logic))
        if held is None or held[0] is not logic:
            try:
                compiled = compile_logic(logic)
            except ReferenceError:  # an unknown operation: the library's own answer
                return certLogic(logic, data)  # type: ignore[arg-type]
            with self._lock:
                if len(self._compiled) > 4096:
                    self._compiled.clear()
                self._compiled[id(logic)] = held = (logic, compiled)
        return held[1](data)

    @staticmethod
    def reference(logic: object, data: object) -> object:
        """The library's own evaluation, for checks of the compiled form."""
        result: Any = certLogic(logic, data)  # type: ignore[arg-type]
        return result
