"""``column IN (...)`` for the few values an agent's report or a new port names, as a
statement SQLAlchemy runs from its cache.

An ``expanding`` bind parameter (one statement for any number of values) makes SQLAlchemy
render the statement's SQL again at every execution, and the database then parse it again:
for the one or two ports of an agent's round that cost more than the query itself (micro,
SQLite: 92 µs a SELECT by one id, 39 µs with one bind parameter per value). So up to
``SMALL`` values a statement has one bind parameter per value, built once per count of
values; beyond, and for none, the expanding form.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, bindparam
from sqlalchemy.orm import QueryableAttribute

SMALL = 16  # values; a new port's first look for free addresses asks about 16
S = TypeVar("S")
Column = ColumnElement[Any] | QueryableAttribute[Any]  # a table's column, or a model's
In = Callable[[Column], ColumnElement[bool]]  # column -> column IN (...)


class InList(Generic[S]):
    """A statement with one ``column IN (...)`` (``build`` makes it from the ``In`` it is
    given), by the number of values: ``statement, params = of(values)``."""

    def __init__(self, name: str, build: Callable[[In], S]) -> None:
        self.name = name
        self._build = build
        self._expanding = build(lambda column: column.in_(bindparam(name, expanding=True)))
        self._by_count: dict[int, tuple[S, tuple[str, ...]]] = {}
        self._lock = threading.Lock()

    def __call__(self, values: Sequence[Any]) -> tuple[S, dict[str, Any]]:
        count = len(values)
        if not 0 < count <= SMALL:
            return self._expanding, {self.name: list(values)}
        found = self._by_count.get(count)
        if found is None:
            found = self._built(count)
        statement, names = found
        return statement, dict(zip(names, values, strict=True))

    def _built(self, count: int) -> tuple[S, tuple[str, ...]]:
        """The statement for ``count`` values and its parameters' names, built once."""
        names = tuple(f"{self.name}_{i}" for i in range(count))

        def listed(column: Column) -> ColumnElement[bool]:
            return column.in_([bindparam(n, type_=column.type) for n in names])

        with self._lock:
            if count not in self._by_count:
                self._by_count[count] = (self._build(listed), names)
            return self._by_count[count]
