"""Prepared queries: built by peewee once per engine and shape, the same rows as peewee's."""

from __future__ import annotations

import datetime as dt

from factories import person

from sync.store.models import Employee, database
from sync.store.prepared import Prepared


def _named(names, archived_before):
    return (
        Employee.select(Employee.name)
        .where(
            Employee.name.in_(names),
            Employee.archived_on.is_null() | (Employee.archived_on < archived_before),
        )
        .order_by(Employee.name)
        .limit(10)
    )


def test_each_run_binds_its_own_values_and_the_rows_are_peewees(db):
    for n in range(12):
        person(f"p{n}@example.com", f"P{n:02d}", archived_on=dt.date(2026, 1, n + 1))
    query = Prepared(_named)
    asked = [
        (["P01", "P03"], dt.date(2026, 1, 3)),
        (["P05", "P00"], dt.date(2026, 1, 9)),  # same shape: built once
        (["P07"], dt.date(2026, 1, 9)),  # one name: another shape
        ([f"P{n:02d}" for n in range(12)], dt.date(2026, 1, 7)),  # too long to keep
    ]
    for names, before in asked:
        expected = [name for (name,) in _named(names, before).tuples()]
        assert [name for (name,) in query.execute(names, before)] == expected
    assert query.shapes == [(2, None), (1, None)]
    sql, params = query.sql(["P01", "P03"], dt.date(2026, 1, 3))
    assert params == ["P01", "P03", dt.date(2026, 1, 3), 10]  # the LIMIT stays a parameter
    assert sql.count(database.obj.param) == 4 and "__codexbot" not in sql


def test_a_model_row_comes_back_through_raw_with_peewees_conversions(db):
    person("a@example.com", "Ann", archived_on=dt.date(2026, 2, 3))
    by_email = Prepared(lambda email: Employee.select().where(Employee.email == email))
    sql, params = by_email.sql("a@example.com")
    (ann,) = Employee.raw(sql, *params)
    assert (ann.name, ann.archived_on) == ("Ann", dt.date(2026, 2, 3))
    sql, params = by_email.sql("nobody@example.com")
    assert list(Employee.raw(sql, *params)) == []
