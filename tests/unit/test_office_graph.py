"""The transmission graph as chains (pages/office_graph.py): case, venues, close contacts, and
their secondary contacts as counts; at 2,000 contacts a few dozen nodes, everyone counted."""

from __future__ import annotations

from healthcode.domain.cases import Case
from healthcode.entrypoints.web.pages.office_graph import MAX_PER_VENUE, MAX_VENUES, layout
from healthcode.services.trace_evidence import TracedCase, TracedContact


def _contact(n: int, venue: int, level: str = "close", via: str | None = None) -> TracedContact:
    return TracedContact(f"{n:032x}", level, via, False, f"v{venue:03d}", f"venue {venue}",
                         1000 + n, 2000 + n, 1, None, "green")  # fmt: skip


def test_a_large_trace_stays_a_readable_chain_and_counts_everyone() -> None:
    close = [_contact(n, n % 30) for n in range(2000)]  # 30 venues
    secondary = [_contact(5000 + n, 99, "secondary", close[n % 50].subject_id) for n in range(300)]
    traced = TracedCase(Case("k1", "a" * 32, "LAB/1", 0, 10, 0), tuple(close + secondary))
    graph = layout(traced)
    kinds = [n.kind for n in graph.nodes]
    assert kinds.count("case") == 1
    assert kinds.count("venue") == MAX_VENUES
    assert kinds.count("close") == MAX_VENUES * MAX_PER_VENUE
    assert len(graph.nodes) < 80  # readable: a few dozen nodes, not two thousand
    drawn = kinds.count("close")
    assert graph.left_out == 2000 - drawn  # every close contact drawn or counted in a "+N"
    for node in graph.nodes:
        assert 0 < node.x < graph.width
        assert 0 < node.y < graph.height
    # Secondary contacts hang beside the close contact they were found through, as a count.
    through = {e.source.key: e.target.label for e in graph.edges if e.target.kind == "secondary"}
    assert through
    assert all(int(label) > 0 for label in through.values())


def test_a_small_trace_draws_everyone() -> None:
    close = [_contact(n, 1) for n in range(3)]
    traced = TracedCase(Case("k2", "b" * 32, "LAB/2", 0, 10, 0), tuple(close))
    graph = layout(traced)
    assert [n.kind for n in graph.nodes].count("close") == 3
    assert graph.left_out == 0
    assert "more" not in [n.kind for n in graph.nodes]
