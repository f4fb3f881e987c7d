"""The transmission graph of a traced case, laid out on the server for an inline SVG.

A deterministic layout, so the same trace always draws the same picture and no JavaScript graph
library is needed: the case in the middle, its close contacts evenly on a ring around it (in the
order of their pseudonyms), each secondary contact on an outer ring, beside the close contact it
met. Edges carry the venue where the two met. Colour is never the only signal: every node has a
text label and a shape by kind, and the page shows the same data as a table.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from healthcode.services.trace_evidence import TracedCase, TracedContact

SIZE = 640  # the smallest picture; it grows with the ring of close contacts
INNER, RING_GAP, MARGIN = 170.0, 115.0, 55.0
NODE_SPACING = 40.0  # along the inner ring: a 28 px circle and its label never overlap
MAX_NODES = 60  # beyond this the picture is unreadable: the table lists everyone
MAX_LABELLED_EDGES = 16  # more venue labels than this would cover the picture


@dataclass(frozen=True, slots=True)
class Node:
    key: str
    label: str
    kind: str  # case | close | secondary
    is_case: bool
    x: float
    y: float


@dataclass(frozen=True, slots=True)
class Edge:
    source: Node
    target: Node
    venue: str

    @property
    def mid(self) -> tuple[float, float]:
        return (self.source.x + self.target.x) / 2, (self.source.y + self.target.y) / 2


@dataclass(frozen=True, slots=True)
class Graph:
    size: int
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]
    left_out: int  # contacts not drawn (the table has them)
    labelled: bool  # edges carry their venue's name (few edges); else the table does


def short(subject_id: str) -> str:
    return subject_id[:6]


def _at(centre: float, radius: float, angle: float) -> tuple[float, float]:
    return (
        round(centre + radius * math.cos(angle), 1),
        round(centre + radius * math.sin(angle), 1),
    )


def _venues(contact: TracedContact) -> str:
    return " · ".join(dict.fromkeys(e.venue_name for e in contact.evidence))


def layout(traced: TracedCase) -> Graph:
    close = sorted((c for c in traced.contacts if c.level == "close"), key=lambda c: c.subject_id)
    secondary = sorted(
        (c for c in traced.contacts if c.level == "secondary"), key=lambda c: c.subject_id
    )
    drawn_close = close[: MAX_NODES - 1]
    inner = max(INNER, len(drawn_close) * NODE_SPACING / (2 * math.pi))
    outer = inner + RING_GAP
    size = max(SIZE, round(2 * (outer + MARGIN)))
    centre = size / 2
    case = Node(traced.case.case_id, traced.case.case_id, "case", True, centre, centre)
    room = MAX_NODES - 1 - len(drawn_close)
    nodes: dict[str, Node] = {}
    angles: dict[str, float] = {}
    edges: list[Edge] = []
    for i, contact in enumerate(drawn_close):
        angle = -math.pi / 2 + 2 * math.pi * i / max(1, len(drawn_close))
        x, y = _at(centre, inner, angle)
        node = Node(contact.subject_id, short(contact.subject_id), "close", contact.is_case, x, y)
        nodes[contact.subject_id], angles[contact.subject_id] = node, angle
        edges.append(Edge(case, node, _venues(contact)))
    by_via: dict[str, list[TracedContact]] = {}
    for contact in secondary:
        if contact.via in nodes and room > 0:
            by_via.setdefault(contact.via, []).append(contact)
            room -= 1
    spread = 2 * math.pi / max(1, len(drawn_close))
    for via, group in by_via.items():
        for j, contact in enumerate(group):
            offset = (j - (len(group) - 1) / 2) * spread / max(2, len(group) + 1)
            x, y = _at(centre, outer, angles[via] + offset)
            kind = "secondary"
            node = Node(contact.subject_id, short(contact.subject_id), kind, contact.is_case, x, y)
            nodes[contact.subject_id] = node
            edges.append(Edge(nodes[via], node, _venues(contact)))
    left_out = len(traced.contacts) - len(nodes)
    labelled = len(edges) <= MAX_LABELLED_EDGES
    return Graph(size, (case, *nodes.values()), tuple(edges), left_out, labelled)
