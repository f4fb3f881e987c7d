"""`each_in` and `keys_in` find exactly the rows asked for, on both databases, whatever the
values hold: quotes, backslashes, commas, braces, spaces, Chinese, integers (each_in passes all
values as one parameter: a JSON array on SQLite, an array's text on PostgreSQL)."""

from __future__ import annotations

import pytest
from sqlalchemy import BigInteger, Column, Engine, MetaData, String, Table, insert, select

from healthcode.adapters.db.repositories import each_in, keys_in, pg_array

AWKWARD = ['plain', 'with "quotes"', "back\\slash", "a,b", "{brace}", "two  spaces", "张三",
           "", "NULL", "end\\"]  # fmt: skip


def _table(engine: Engine) -> Table:
    meta = MetaData()
    table = Table(
        "each_in_probe",
        meta,
        Column("name", String(40), primary_key=True),
        Column("n", BigInteger, primary_key=True),
    )
    meta.create_all(engine)
    with engine.begin() as conn:
        conn.execute(
            insert(table), [{"name": v, "n": i} for i, v in enumerate([*AWKWARD, "other"])]
        )
    return table


def test_each_in_finds_exactly_the_values_asked_for(engine: Engine) -> None:
    table = _table(engine)
    with engine.connect() as conn:
        # The last: no quotes or backslashes (pg_array joins such values as they are).
        plain = ["plain", "a,b", "{brace}", "two  spaces", "张三", "", "NULL", "nobody"]
        for wanted in (AWKWARD, AWKWARD[1:4], ["nobody", "back\\slash"], plain):
            found = set()
            for where in each_in(conn, table.c.name, wanted):
                found |= {r.name for r in conn.execute(select(table.c.name).where(where))}
            assert found == set(wanted) - {"nobody"}
        numbers = set()
        for where in each_in(conn, table.c.n, [0, 3, 10, 99]):
            numbers |= {r.n for r in conn.execute(select(table.c.n).where(where))}
        assert numbers == {0, 3, 10}
        assert list(each_in(conn, table.c.name, [])) == []


def test_keys_in_matches_whole_keys_only(engine: Engine) -> None:
    table = _table(engine)
    keys = [('with "quotes"', 1), ("back\\slash", 2), ("a,b", 2), ("张三", 6)]  # two mismatched
    with engine.connect() as conn:
        rows = conn.execute(
            select(table.c.name, table.c.n).where(keys_in(conn, (table.c.name, table.c.n), keys))
        )
        assert {(r.name, r.n) for r in rows} == {("with \"quotes\"", 1), ("back\\slash", 2),
                                                 ("张三", 6)}  # fmt: skip


def test_pg_array_text_form() -> None:
    assert pg_array([1, 22]) == "{1,22}"
    assert pg_array(['a"b', "c\\d", "e,f"]) == '{"a\\"b","c\\\\d","e,f"}'
    assert pg_array(["ab", "", "张三", "{x}"]) == '{"ab","","张三","{x}"}'
    assert pg_array(['a","b']) == '{"a\\",\\"b"}'  # a quote inside: escaped
    assert pg_array([]) == "{}"
    assert pg_array([""]) == '{""}'
    assert pg_array(["NULL"]) == '{"NULL"}'
    assert pg_array(v for v in ["a", "b"]) == '{"a","b"}'  # read once


def test_postgresql_plans_a_list_of_values_for_those_values(engine: Engine) -> None:
    """A statement with each_in's values is never prepared (a generic plan compares every row
    with every value); other statements are, once run often enough."""
    if engine.dialect.name != "postgresql":
        pytest.skip("prepared statements and their generic plans are PostgreSQL's")
    table = _table(engine)
    with engine.connect() as conn:
        for _ in range(12):
            conn.execute(select(table.c.n).where(table.c.name == "plain")).all()
            (where,) = each_in(conn, table.c.name, ["plain", "a,b"])
            assert len(conn.execute(select(table.c.n).where(where)).all()) == 2
        raw = conn.connection.dbapi_connection
        assert raw is not None
        prepared = [r[0] for r in raw.execute("SELECT statement FROM pg_prepared_statements")]
    assert any("each_in_probe.name = $1" in s for s in prepared)
    assert not any("ANY" in s for s in prepared)
