"""InList: the same rows whatever the number of values, a statement with a bind parameter
per value (built once per count) up to SMALL values, the expanding form beyond and for none."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Column, Integer, MetaData, Select, String, Table, create_engine, select

from labcloud.network.inlists import SMALL, InList

ROWS = Table("rows", MetaData(), Column("id", Integer, primary_key=True), Column("name", String))


def _names() -> InList[Select[Any]]:
    return InList("ids", lambda in_: select(ROWS.c.name).where(in_(ROWS.c.id)).order_by(ROWS.c.id))


def test_same_rows_for_any_number_of_values() -> None:
    engine = create_engine("sqlite://")
    ROWS.metadata.create_all(engine)
    of = _names()
    with engine.begin() as c:
        c.execute(ROWS.insert(), [{"id": i, "name": f"r{i}"} for i in range(40)])
        for count in (0, 1, 2, SMALL, SMALL + 1, 40):
            statement, params = of(list(range(count)))
            assert list(c.scalars(statement, params)) == [f"r{i}" for i in range(count)]


def test_a_statement_per_count_up_to_small_then_expanding() -> None:
    of = _names()
    one, params = of(["a"])
    assert params == {"ids_0": "a"}
    assert of(["b"])[0] is one  # built once for its count
    assert "POSTCOMPILE" not in str(one)
    beyond, params = of(list(range(SMALL + 1)))
    assert params == {"ids": list(range(SMALL + 1))}
    assert "POSTCOMPILE" in str(beyond)
    assert of([])[0] is beyond
