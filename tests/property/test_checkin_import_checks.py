"""The bulk import's two ways of checking rows agree (no database).

A batch is checked column by column when every row is good (the usual case, fast), and row by
row otherwise, which names what is wrong with each bad row. Whatever the rows, the column-wise
check passes a batch exactly when the row-wise one finds no error and no duplicate, and then
both lay out the same check-ins.
"""

from __future__ import annotations

from hypothesis import example, given
from hypothesis import strategies as st

from healthcode.domain.checkins import MAX_DWELL_SECONDS
from healthcode.domain.venues import VenueType
from healthcode.services.checkin_import import CheckInRow, _all_good, _each

NOW = 1_795_000_000
LATEST = NOW + 60
TYPES = {"v-shop": VenueType.SHOP, "v-hotel": VenueType.HOTEL}
DWELL = {venue: MAX_DWELL_SECONDS[kind] for venue, kind in TYPES.items()}
KNOWN = {("v-shop", "dev-0000-stored")}

rows = st.builds(
    CheckInRow,
    st.sampled_from([*TYPES, "v-none", ""]),
    st.sampled_from(["a" * 32, "b" * 32, ""]),
    st.sampled_from([NOW - 7200, NOW - 60, NOW, LATEST, LATEST + 1, 0, -5]),
    st.one_of(st.none(), st.sampled_from([NOW - 7300, NOW - 3600, NOW, NOW + 30 * 3600])),
    st.one_of(
        st.none(), st.sampled_from(["dev-0000-0001", "dev-0000-0002", "dev-0000-stored", "x!"])
    ),
)


GOOD = [
    CheckInRow("v-shop", "a" * 32, NOW - 7200, NOW - 3600, "dev-0000-0001"),
    CheckInRow("v-hotel", "b" * 32, NOW, None, None),
    CheckInRow("v-shop", "b" * 32, NOW - 60, None, "dev-0000-0002"),
]


@given(st.lists(rows, min_size=1, max_size=12), st.booleans())
@example(GOOD, False)
@example(GOOD, True)
@example([*GOOD, GOOD[0]], False)
def test_column_wise_and_row_wise_checks_agree(batch: list[CheckInRow], stored: bool) -> None:
    known = KNOWN if stored else set()
    each = _each(batch, TYPES, DWELL, known, LATEST)
    venue_ids = [row.venue_id for row in batch]
    client_ids = [row.client_id for row in batch]
    pairs = [(v, c) for v, c in zip(venue_ids, client_ids, strict=True) if c is not None]
    fast = (
        None
        if known & set(pairs)
        else _all_good(batch, venue_ids, client_ids, pairs, DWELL, LATEST)
    )
    assert (fast is not None) == (not each.errors and not each.duplicates)
    if fast is not None:
        assert list(fast.lines) == list(each.lines) == list(range(2, len(batch) + 2))
        for column in ("venue_ids", "subject_ids", "times_in", "closes_at", "times_out"):
            assert getattr(fast.batch, column) == getattr(each.batch, column)
        assert fast.batch.client_ids == each.batch.client_ids
        assert len(set(fast.batch.checkin_ids)) == len(batch)
