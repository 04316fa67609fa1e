"""What a provider's request asks for, read with scim2-models: a POST or PUT body, or PATCH
operations, as the provisioning fields it changes, with Okta's and Entra ID's ways.

- POST creates; PUT replaces what it sends: core attributes it leaves out are cleared,
  except `active`, which stays as it is, and the enterprise extension's department and
  manager, which stay as they are when the extension is left out altogether.
- PATCH operations are applied to the person as a User, and the differences are the
  changes. The name is whichever of displayName, name.formatted or the given and family
  names the operations changed, in that order.
- One email per person: `emails` may only repeat the userName.
- The manager is named by SCIM id or, as Okta knows them, by email. Entra sends the
  id bare, and removes a manager by naming them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError
from scim2_models import Context, Error, ResponseParameters

from sync.notices import Problem
from sync.org.directory import find_employee
from sync.org.provisioning import PersonManagerUnknown, Provided, find_person
from sync.org.scim.filters import InvalidFilter
from sync.org.scim.resources import (
    ENTERPRISE_SCHEMA,
    POLICY,
    Email,
    EnterpriseUser,
    IncomingName,
    Manager,
    ReadUser,
    ServedUser,
)


class ScimInvalidRequest(Problem):
    """A payload or parameter scim2-models refused; `problem` says what, in its words."""

    kind = "scim_invalid_request"  # problem

    def __init__(self, status: int, scim_type: str | None, problem: str) -> None:
        super().__init__(problem=problem)
        self.status = status
        self.scim_type = scim_type


class ScimEmailsDiffer(Problem):
    kind = "scim_emails_differ"  # email, user_name


class ScimActiveRequired(Problem):
    kind = "scim_active_required"


def wanted_of(incoming: ReadUser, current: Provided | None) -> Provided:
    """What a POST (current None) or a PUT body asks the person to be."""
    user_name = incoming.user_name or ""
    check_emails(incoming.emails, user_name)
    extension = incoming[EnterpriseUser]
    if extension is None and current is not None:
        department, manager_id = current.department, current.manager_id
    else:
        department = extension.department if extension else None
        manager_id = _manager_id(extension.manager if extension else None)
    if incoming.active is not None:
        active = incoming.active
    else:
        active = current.active if current is not None else True
    return Provided(
        email=user_name,
        name=_name_of(incoming),
        timezone=incoming.timezone,
        department=department,
        external_id=incoming.external_id,
        manager_id=manager_id,
        active=active,
    )


def patched(before: ReadUser, after: ReadUser) -> dict[str, Any]:
    """The changes PATCH operations made, as provisioning fields."""
    changes: dict[str, Any] = {}
    if after.user_name != before.user_name:
        changes["email"] = after.user_name or ""
    if after.emails != before.emails:
        check_emails(after.emails, after.user_name or "")
    if after.display_name != before.display_name:
        changes["name"] = after.display_name or ""
    elif _formatted(after) != _formatted(before):
        changes["name"] = _formatted(after) or ""
    elif _joined(after) != _joined(before):
        changes["name"] = _joined(after)
    if after.active is None:
        raise ScimActiveRequired()
    if after.active != before.active:
        changes["active"] = after.active
    for field in ("timezone", "external_id"):
        if getattr(after, field) != getattr(before, field):
            changes[field] = getattr(after, field)
    extension_before, extension_after = before[EnterpriseUser], after[EnterpriseUser]
    department = extension_after.department if extension_after else None
    if department != (extension_before.department if extension_before else None):
        changes["department"] = department
    manager = _manager_id(extension_after.manager if extension_after else None)
    if manager != _manager_id(extension_before.manager if extension_before else None):
        changes["manager_id"] = manager
    return changes


def read(model: Any, payload: Any, context: Context) -> Any:
    """`payload` validated as `model` in `context`, under the providers' policy."""
    try:
        return model.model_validate(payload, scim_ctx=context, scim_policy=POLICY)
    except ValidationError as exc:
        error = Error.from_validation_errors(exc)[0]
        if error.scim_type == "invalidFilter":
            text = payload.get("filter") if isinstance(payload, Mapping) else None
            raise InvalidFilter(filter=str(text or "")) from None
        raise refusal(error) from None


_MANAGER = f"{ENTERPRISE_SCHEMA}:manager".lower()
_NAMED_MANAGER = re.compile(
    rf'^(?:{re.escape(ENTERPRISE_SCHEMA)}:)?manager\s*\[\s*value\s+eq\s+"([^"]*)"\s*\]$',
    re.IGNORECASE,
)


def operations(body: Any) -> Any:
    if not isinstance(body, Mapping):
        return None
    return next((v for k, v in body.items() if str(k).lower() == "operations"), None)


def named_manager_removed(body: Any, manager_id: int | None) -> Any:
    """Entra removes a manager by naming them: `manager[value eq "42"]` as the path, or
    their id as the value of a remove. Either is a plain remove of the manager when it
    names the current one, and no operation otherwise (RFC 7644 has no filter on a
    single value, and no value in a remove)."""
    listed = operations(body)
    if not isinstance(listed, list) or not listed:
        return body
    key = next(k for k in body if str(k).lower() == "operations")
    current = None if manager_id is None else str(manager_id)
    kept = []
    for operation in listed:
        named = _named_manager(operation)
        if named is None:
            kept.append(operation)
        elif current is not None and current in named:
            kept.append({"op": "remove", "path": _MANAGER})
    return {**body, key: kept}


def _named_manager(operation: Any) -> set[str] | None:
    """The ids a remove of the manager names, or None for any other operation."""
    if not isinstance(operation, Mapping) or str(operation.get("op", "")).lower() != "remove":
        return None
    path = str(operation.get("path") or "").strip()
    if match := _NAMED_MANAGER.match(path):
        return {match.group(1)}
    if path.lower() != _MANAGER or "value" not in operation:
        return None
    values = operation["value"]
    values = values if isinstance(values, list) else [values]
    named = set()
    for value in values:
        if isinstance(value, Mapping):
            value = value.get("value")
        if value is not None:
            named.add(str(value))
    return named


def refusal(error: Error) -> ScimInvalidRequest:
    return ScimInvalidRequest(error.status or 400, error.scim_type, error.detail or "")


def selection(params: Mapping[str, str]) -> ResponseParameters:
    wanted = {key: params[key] for key in ("attributes", "excludedAttributes") if key in params}
    return read(ResponseParameters[ServedUser], wanted, Context.RESOURCE_QUERY_REQUEST)


def differences(current: Provided, wanted: Provided) -> dict[str, Any]:
    return {
        field: getattr(wanted, field)
        for field in Provided.__dataclass_fields__
        if getattr(wanted, field) != getattr(current, field)
    }


def check_emails(emails: list[Email] | None, user_name: str) -> None:
    """One email per person: the one `emails` gives (its primary, else its work one, else
    its first) must be the userName."""
    if not emails:
        return
    chosen = (
        next((e for e in emails if e.primary), None)
        or next((e for e in emails if (e.type or "").lower() == "work"), None)
        or emails[0]
    )
    email = (chosen.value or "").strip()
    if email and email.lower() != user_name.strip().lower():
        raise ScimEmailsDiffer(email=email, user_name=user_name)


def _formatted(user: ReadUser) -> str | None:
    return user.name.formatted if user.name else None


def _joined(user: ReadUser) -> str:
    return user.name.joined if isinstance(user.name, IncomingName) else ""


def _name_of(user: ReadUser) -> str:
    return (user.display_name or "").strip() or (_formatted(user) or "").strip() or _joined(user)


def _manager_id(manager: Manager | None) -> int | None:
    """The manager's directory id: their SCIM id, or, as Okta knows a manager (its
    `getManagerUser("okta").email`), their email."""
    person_id = manager.person_id if manager is not None else None
    if not person_id:
        return None
    if person_id.isdigit():
        return int(person_id)
    found = find_employee(person_id) if "@" in person_id else None
    if found is None or find_person(found.id) is None:
        raise PersonManagerUnknown(manager_id=person_id)
    return found.id
