"""Lists shown a page at a time: the page number read from a query string, the page's
figures, and paginate() moving within the pages there are."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from crmlite.models import Company
from crmlite.services.pagination import Page, page_count, page_number, paginate


@pytest.mark.parametrize(
    ("raw", "number"),
    [
        ("3", 3),
        (" 2 ", 2),
        ("1,000", 1000),
        (None, 1),
        ("", 1),
        ("0", 1),
        ("-2", 1),
        ("abc", 1),
        ("²", 1),
        ("1.5", 1),
        ("99999999999999999999", 1),
    ],
)
def test_page_number_is_a_whole_number_from_one(raw, number) -> None:
    assert page_number(raw) == number


def test_page_figures() -> None:
    page = Page(rows=["x"] * 10, number=2, total=25, per_page=10)
    assert (page.pages, page.has_previous, page.has_next) == (3, True, True)
    assert (page.first_index, page.last_index) == (11, 20)
    last = Page(rows=["x"] * 5, number=3, total=25, per_page=10)
    assert (last.has_next, last.first_index, last.last_index) == (False, 21, 25)
    empty = Page(rows=[], number=1, total=0, per_page=10)
    assert (empty.pages, empty.first_index, empty.last_index) == (1, 0, 0)
    assert page_count(0) == 1 and page_count(50) == 1 and page_count(51) == 2
    assert page.map(str.upper).rows == ["X"] * 10 and page.map(str.upper).total == 25


def test_paginate_counts_reads_and_moves_within_the_pages(app, make_company, queries) -> None:
    for n in range(7):
        make_company(f"Company {n}")
    query = select(Company).order_by(Company.name)
    with queries() as counted:
        second = paginate(query, 2, per_page=3)
    assert counted.count == 2  # one count, one page
    assert [c.name for c in second.rows] == ["Company 3", "Company 4", "Company 5"]
    assert (second.number, second.total, second.pages) == (2, 7, 3)
    beyond = paginate(query, 99, per_page=3)
    assert beyond.number == 3 and [c.name for c in beyond.rows] == ["Company 6"]
    assert paginate(query, 0, per_page=3).number == 1
    rows = paginate(select(Company.name, Company.id).order_by(Company.name), 1, per_page=2)
    assert [row[0] for row in rows.rows] == ["Company 0", "Company 1"]
