"""The transmission graph of a traced case as chains, laid out on the server for an inline SVG.

Four columns, read left to right as the virus would travel: the case; the venues where the case
met its close contacts (the busiest first); the close contacts met there; and, beside each, the
secondary contacts found through them, as one node with their number. Large traces stay
readable: at most MAX_VENUES venues are drawn (the rest as one "more venues" node), at most
MAX_PER_VENUE close contacts under each (the rest as one "+N" node), so the picture has a few
dozen nodes whether the case has twenty contacts or two thousand; the workspace lists everyone.
A deterministic layout (the same trace draws the same picture, no JavaScript); every node has a
text label and a shape by kind, so colour is never the only signal.
"""

from __future__ import annotations

from dataclasses import dataclass

from healthcode.services.trace_evidence import TracedCase, TracedContact

MAX_VENUES = 8
MAX_PER_VENUE = 4
ROW = 34.0  # vertical room of one close contact
COLUMNS = (95.0, 280.0, 470.0, 610.0)  # case, venues, close contacts, secondary contacts
WIDTH, TOP, BOTTOM = 780, 40.0, 30.0


@dataclass(frozen=True, slots=True)
class Node:
    key: str
    label: str
    kind: str  # case | venue | close | more | secondary
    is_case: bool
    x: float
    y: float


@dataclass(frozen=True, slots=True)
class Edge:
    source: Node
    target: Node


@dataclass(frozen=True, slots=True)
class Graph:
    width: int
    height: int
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]
    left_out: int  # contacts inside an aggregate node ("+N", "more venues")


def short(subject_id: str) -> str:
    return subject_id[:6]


def layout(traced: TracedCase) -> Graph:
    close = [c for c in traced.contacts if c.level == "close"]
    secondary: dict[str, int] = {}
    for c in traced.contacts:
        if c.level != "close" and c.via:
            secondary[c.via] = secondary.get(c.via, 0) + 1
    by_venue: dict[tuple[str, str], list[TracedContact]] = {}
    for c in sorted(close, key=lambda c: c.subject_id):
        by_venue.setdefault((c.venue_id, c.venue_name), []).append(c)
    venues = sorted(by_venue.items(), key=lambda kv: (-len(kv[1]), kv[0][1]))
    drawn, rest = venues[:MAX_VENUES], venues[MAX_VENUES:]
    rows = sum(min(len(v), MAX_PER_VENUE) + (len(v) > MAX_PER_VENUE) for _, v in drawn)
    rows += 1 if rest else 0
    height = round(TOP + BOTTOM + max(1, rows) * ROW)
    case = Node(traced.case.case_id, traced.case.case_id, "case", True, COLUMNS[0], height / 2)
    nodes: list[Node] = [case]
    edges: list[Edge] = []
    left_out = 0
    y = TOP + ROW / 2
    for (venue_id, name), contacts in drawn:
        shown = contacts[:MAX_PER_VENUE]
        extra = len(contacts) - len(shown)
        span = (len(shown) + (1 if extra else 0)) * ROW
        venue = Node(venue_id, f"{name} ({len(contacts)})", "venue", False, COLUMNS[1],
                     y + span / 2 - ROW / 2)  # fmt: skip
        nodes.append(venue)
        edges.append(Edge(case, venue))
        for c in shown:
            node = Node(c.subject_id, short(c.subject_id), "close", c.is_case, COLUMNS[2], y)
            nodes.append(node)
            edges.append(Edge(venue, node))
            if secondary.get(c.subject_id):
                n = secondary[c.subject_id]
                leaf = Node(f"{c.subject_id}-secondary", str(n), "secondary", False, COLUMNS[3], y)
                nodes.append(leaf)
                edges.append(Edge(node, leaf))
            y += ROW
        if extra:
            more = Node(f"{venue_id}-more", f"+{extra}", "more", False, COLUMNS[2], y)
            nodes.append(more)
            edges.append(Edge(venue, more))
            left_out += extra
            y += ROW
    if rest:
        count = sum(len(v) for _, v in rest)
        more = Node("more-venues", f"+{len(rest)} · {count}", "more", False, COLUMNS[1], y)
        nodes.append(more)
        edges.append(Edge(case, more))
        left_out += count
    return Graph(WIDTH, height, tuple(nodes), tuple(edges), left_out)
