"""Long lists shown a page at a time (companies, contacts, a contact group's members).

The rules, the same for every list: pages count from 1; a page number that is not a whole
number from 1 is the first page, and one past the end is the last page; a list shows in two
queries, one counting it and one reading the page.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from math import ceil
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, func, select

from crmlite.extensions import db
from crmlite.services import parsing

PER_PAGE = 50

T = TypeVar("T")
U = TypeVar("U")


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list; ``number`` counts from 1."""

    rows: list[T]
    number: int
    total: int
    per_page: int = PER_PAGE

    @property
    def pages(self) -> int:
        return page_count(self.total, self.per_page)

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.pages

    @property
    def first_index(self) -> int:
        """The position (from 1) of the page's first row in the whole list; 0 when empty."""
        return (self.number - 1) * self.per_page + 1 if self.total else 0

    @property
    def last_index(self) -> int:
        return min(self.number * self.per_page, self.total)

    def map(self, convert: Callable[[T], U]) -> Page[U]:
        """The same page with each row converted (e.g. a result row into a value)."""
        return Page([convert(row) for row in self.rows], self.number, self.total, self.per_page)


def page_count(total: int, per_page: int = PER_PAGE) -> int:
    """How many pages a list of ``total`` rows takes; an empty list still has one page."""
    return max(1, ceil(total / per_page))


def page_number(value: Any) -> int:
    """The page asked for in a query string: a whole number from 1, else the first page."""
    try:
        return parsing.parse_whole(value, minimum=1)
    except parsing.InvalidNumber:
        return 1


def paginate(query: Select[Any], page: int, per_page: int = PER_PAGE) -> Page[Any]:
    """The rows of ``query`` (ordered by the caller) on page ``page``, moved within the
    pages there are. A query of one entity or column gives those values; one of several
    gives result rows (see ``Page.map``)."""
    total = db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    number = min(max(page, 1), page_count(total or 0, per_page))
    result = db.session.execute(query.limit(per_page).offset((number - 1) * per_page))
    rows: list[Any] = (
        list(result.scalars()) if len(query.column_descriptions) == 1 else list(result.all())
    )
    return Page(rows, number, total or 0, per_page)
