"""SCIM filters as SQL on the directory: the ones identity providers send for Users.

Okta asks `userName eq "..."`; Entra ID `userName eq`, `externalId eq`, `emails[type eq
"work"].value eq` and, in its validator, `displayName eq`. Answered: `eq` on userName,
emails (its value, type and primary), externalId, id, displayName, name.formatted, active
and the enterprise department, joined by `and`/`or`. Anything else is refused with
invalidFilter: a filter half-understood would list the wrong people.
"""

from __future__ import annotations

import datetime as dt
from functools import reduce
from operator import and_, or_

from peewee import SQL, Expression
from scim2_models import ScimFilter
from scim2_models.path import (
    AttrPath,
    CompareOperator,
    Comparison,
    FilterVisitor,
    LogicalExpr,
    LogicalOperator,
    Not,
    Present,
    ValuePath,
)

from sync.notices import Problem
from sync.org.access import archived_where
from sync.org.scim.resources import ENTERPRISE_SCHEMA, USER_SCHEMA
from sync.store.models import Employee

_TRUE = SQL("1 = 1")
_FALSE = SQL("1 = 0")


class InvalidFilter(Problem):
    """A filter this directory does not answer; scimType invalidFilter."""

    kind = "scim_invalid_filter"  # filter


def filter_where(scim_filter: ScimFilter, today: dt.date) -> Expression:
    """`scim_filter` as a condition on Employee."""
    return _ToSql(str(scim_filter), today).visit(scim_filter.ast)


class _ToSql(FilterVisitor[Expression]):
    def __init__(self, text: str, today: dt.date) -> None:
        self.text = text
        self.today = today

    def refuse(self) -> InvalidFilter:
        return InvalidFilter(filter=self.text)

    def visit_logical_expr(self, node: LogicalExpr) -> Expression:
        terms = [self.visit(term) for term in node.terms]
        return reduce(and_ if node.op == LogicalOperator.and_ else or_, terms)

    def visit_not(self, node: Not) -> Expression:
        raise self.refuse()

    def visit_present(self, node: Present) -> Expression:
        raise self.refuse()

    def visit_value_path(self, node: ValuePath) -> Expression:
        if _attribute(node.attr_path) != ("emails", None) or node.sub_attr:
            raise self.refuse()
        return _EmailEntry(self).visit(node.val_filter)

    def visit_comparison(self, node: Comparison) -> Expression:
        if node.op != CompareOperator.eq:
            raise self.refuse()
        attribute = _attribute(node.attr_path)
        value = node.value
        if attribute == ("active", None):
            if not isinstance(value, bool):
                raise self.refuse()
            archived = archived_where(self.today)
            return ~archived if value else archived
        if not isinstance(value, str):
            raise self.refuse()
        if attribute in (("username", None), ("emails", None), ("emails", "value")):
            return Employee.email == value.strip().lower()
        if attribute == ("emails", "type"):
            return _TRUE if value.lower() == "work" else _FALSE
        if attribute == ("externalid", None):
            return Employee.external_id == value
        if attribute == ("id", None):
            return Employee.id == int(value) if value.isdigit() else _FALSE
        if attribute in (("displayname", None), ("name", "formatted")):
            return Employee.name == value
        if attribute == ("department", None) and _in_enterprise(node.attr_path):
            return Employee.department == value
        raise self.refuse()


class _EmailEntry(FilterVisitor[Expression]):
    """A filter on the one entry of `emails`: {value: the email, type: work, primary}."""

    def __init__(self, outer: _ToSql) -> None:
        self.outer = outer

    def visit_logical_expr(self, node: LogicalExpr) -> Expression:
        terms = [self.visit(term) for term in node.terms]
        return reduce(and_ if node.op == LogicalOperator.and_ else or_, terms)

    def visit_not(self, node: Not) -> Expression:
        raise self.outer.refuse()

    def visit_present(self, node: Present) -> Expression:
        raise self.outer.refuse()

    def visit_value_path(self, node: ValuePath) -> Expression:
        raise self.outer.refuse()

    def visit_comparison(self, node: Comparison) -> Expression:
        name = node.attr_path.attr.lower()
        if node.op != CompareOperator.eq or node.attr_path.sub_attr:
            raise self.outer.refuse()
        if name == "value" and isinstance(node.value, str):
            return Employee.email == node.value.strip().lower()
        if name == "type" and isinstance(node.value, str):
            return _TRUE if node.value.lower() == "work" else _FALSE
        if name == "primary" and isinstance(node.value, bool):
            return _TRUE if node.value else _FALSE
        raise self.outer.refuse()


def _attribute(path: AttrPath) -> tuple[str, str | None]:
    """(attribute, sub-attribute), lower-cased: names are case-insensitive."""
    if path.uri is not None and path.uri.lower() not in (USER_SCHEMA.lower(), _ENTERPRISE):
        return ("", None)
    return path.attr.lower(), path.sub_attr.lower() if path.sub_attr else None


_ENTERPRISE = ENTERPRISE_SCHEMA.lower()


def _in_enterprise(path: AttrPath) -> bool:
    return path.uri is not None and path.uri.lower() == _ENTERPRISE
