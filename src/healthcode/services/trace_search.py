"""The contact search of a trace, for one case or a whole batch at once.

A case's close contacts are the people whose visits overlapped one of the case's visits in its
infectious window, at the same venue, long enough (domain/tracing.py); its secondary contacts,
at depth 2, those who met a close contact in the SECONDARY_DAYS after that contact's first
exposure. The search asks two questions of the check-ins, over and over: "the visits of this
person begun in [first, last]" and "the visits at this venue begun in [first, last]". Here they
are asked in four rounds, each round's questions for every case of the batch at once
(ports.VisitReader): the case's own visits, who overlapped them, the close contacts' later
visits, who overlapped those. A reader answers a round as it can best: the database one question at
a time (SqlVisits), or DuckDB over the archive's daily files in one join (ports.ContactArchive),
with the same answers (tests/property/test_contact_archive.py).

What a search read is kept per person (`reads`): the trace's log entries tell each of them.
A search decrypts only what it needs: a person's own visits are found by their sealed form (the
case's, the close contacts'), and at a venue only the check-ins that overlapped a source visit
enough (ports.VisitReader.overlapping): whoever was there at other times is judged by venue and
times alone, never decrypted, and not read.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from healthcode.domain.cases import Case
from healthcode.domain.checkins import DAY, LONGEST_DWELL, CheckIn
from healthcode.domain.tracing import (
    Exposure,
    Overlapping,
    TraceRules,
    Visit,
    clip,
    exposures,
    overlapping,
)
from healthcode.services.ports import CheckInRepository, VisitAsk, VisitReader

SECONDARY_DAYS = 14  # how long after an exposure a close contact's own visits are followed

Reads = dict[str, set[str]]  # subject id -> the check-ins of theirs a trace read


@dataclass
class Contact:
    subject_id: str
    exposures: list[Exposure] = field(default_factory=list)
    via: str | None = None  # for a secondary contact: the close contact they met


@dataclass
class Found:
    """What the search found for one case."""

    close: dict[str, Contact] = field(default_factory=dict)
    secondary: dict[str, Contact] = field(default_factory=dict)
    reads: Reads = field(default_factory=dict)


def visit(c: CheckIn) -> Visit:
    return Visit(c.venue_id, c.checkin_id, c.subject_id, c.time_in, c.ends_at)


def in_order(found: Iterable[Visit]) -> list[Visit]:
    return sorted(found, key=lambda v: (v.start, v.venue_id, v.checkin_id))


class SqlVisits:
    """The reads one question at a time, from the database (a unit of work's check-ins)."""

    def __init__(self, checkins: CheckInRepository) -> None:
        self.checkins = checkins

    def of_subjects_between(self, asks: Sequence[VisitAsk]) -> list[list[Visit]]:
        return [in_order(map(visit, self.checkins.of_subject_between(*ask))) for ask in asks]

    def overlapping(self, asks: Sequence[Overlapping]) -> list[list[Visit]]:
        return [in_order(map(visit, self.checkins.overlapping(ask))) for ask in asks]

    def close(self) -> None:
        return None


@dataclass(frozen=True, slots=True)
class _Span:
    """Whose visits to follow, over which part of time, and for whom the answer is kept."""

    owner: int  # the case's index in the batch
    subject_id: str
    start: int
    end: int
    via: str | None = None  # the close contact being followed (depth 2)


def _visits(reader: VisitReader, spans: list[_Span], found: list[Found]) -> list[list[Visit]]:
    """Round 1 or 3: each span's visits, clipped to it; what was read goes to its case."""
    asks = [(s.subject_id, s.start - LONGEST_DWELL, s.end) for s in spans]
    answers = reader.of_subjects_between(asks)
    clipped = []
    for span, rows in zip(spans, answers, strict=True):
        if rows:
            reads = found[span.owner].reads
            reads.setdefault(span.subject_id, set()).update(v.checkin_id for v in rows)
        kept = (clip(v, span.start, span.end) for v in rows)
        clipped.append([v for v in kept if v is not None])
    return clipped


def _met(
    reader: VisitReader,
    sources: list[list[Visit]],
    owners: list[int],
    rules: TraceRules,
    found: list[Found],
) -> list[list[Exposure]]:
    """Round 2 or 4: for each list of source visits, everyone who overlapped one of them
    enough. Only their check-ins are decrypted, and so read: a visit at the venue that did not
    overlap is judged by its venue and times alone."""
    # Each source with what it asks (None: nobody can have met it, nothing is asked).
    asked = [[(s, overlapping(s, rules, LONGEST_DWELL)) for s in visits] for visits in sources]
    answers = iter(reader.overlapping([a for pairs in asked for _, a in pairs if a]))
    hits: list[list[Exposure]] = []
    for owner, pairs in zip(owners, asked, strict=True):
        reads = found[owner].reads
        mine: list[Exposure] = []
        for source, ask in pairs:
            if ask is None:
                continue
            rows = next(answers)
            for v in rows:
                if v.subject_id != source.subject_id:
                    reads.setdefault(v.subject_id, set()).add(v.checkin_id)
            mine += exposures([source], rows, rules)
        hits.append(mine)
    return hits


def group(
    hits: Iterable[Exposure], exclude: set[str], via: str | None = None
) -> dict[str, Contact]:
    contacts: dict[str, Contact] = {}
    for hit in hits:
        who = hit.contact.subject_id
        if who not in exclude:
            contacts.setdefault(who, Contact(who, via=via)).exposures.append(hit)
    return contacts


def search(
    reader: VisitReader, cases: Sequence[Case], rules: TraceRules, now: int, depth: int
) -> list[Found]:
    """Each case's close (and, at depth 2, secondary) contacts, and what was read."""
    found = [Found() for _ in cases]
    spans = [_Span(i, c.subject_id, c.window_start, c.window_end) for i, c in enumerate(cases)]
    own = _visits(reader, spans, found)
    hits = _met(reader, own, [s.owner for s in spans], rules, found)
    for i, case in enumerate(cases):
        found[i].close = group(hits[i], {case.subject_id})
    if depth != 2:
        return found
    later_spans = []
    for i, case_found in enumerate(found):
        for contact in case_found.close.values():
            since = min(e.start for e in contact.exposures)
            until = min(now, since + SECONDARY_DAYS * DAY)
            later_spans.append(_Span(i, contact.subject_id, since, until, contact.subject_id))
    later = _visits(reader, later_spans, found)
    later_hits = _met(reader, later, [s.owner for s in later_spans], rules, found)
    for span, span_hits in zip(later_spans, later_hits, strict=True):
        case = cases[span.owner]
        known = {case.subject_id, *found[span.owner].close}
        for who, contact in group(span_hits, known, span.via).items():
            found[span.owner].secondary.setdefault(who, contact)
    return found
