"""The SCIM service: each request bot/scim_endpoint.py routes, read as reading.py says,
decided by sync/org/provisioning.py, answered as a SCIM payload (a dict to send as JSON).

Refusals are Problems: provisioning's (an invalid email, a manager loop, ...), a filter
it does not answer (filters.py), a payload scim2-models or reading.py refuses;
`error_status` gives each its HTTP status and scimType.

DELETE archives the person and removes them from SCIM: 404 from then on (RFC 7644 §3.6),
their history kept, and a later POST of their email brings them back.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from peewee import fn
from scim2_models import (
    Context,
    ListResponse,
    Meta,
    PatchOp,
    ResourceType,
    ResponseParameters,
    Schema,
    SCIMException,
    SearchRequest,
)

from sync.clock import utc_today
from sync.notices import Problem
from sync.org.history import ACTOR_SCIM
from sync.org.provisioning import (
    PersonEmailInvalid,
    PersonEmailTaken,
    PersonExternalIdTaken,
    PersonManagerLoop,
    PersonManagerUnknown,
    PersonNotFound,
    PersonTimeZoneUnknown,
    PersonValueTooLong,
    create_person,
    find_person,
    provided_of,
    remove_person,
    removed_where,
    update_person,
)
from sync.org.scim import reading
from sync.org.scim.filters import InvalidFilter, filter_where
from sync.org.scim.resources import (
    DEFAULT_COUNT,
    MAX_RESULTS,
    POLICY,
    PROVIDER,
    SERVICE_PROVIDER_CONFIG,
    ReadUser,
    ServedUser,
    user_of,
)
from sync.store.models import DirectoryChange, Employee


class ScimNoSuchResource(Problem):
    kind = "scim_no_such_resource"  # resource_type, id


_STATUS: dict[type[Problem], tuple[int, str | None]] = {
    PersonNotFound: (404, None),
    ScimNoSuchResource: (404, None),
    PersonEmailTaken: (409, "uniqueness"),
    PersonExternalIdTaken: (409, "uniqueness"),
    InvalidFilter: (400, "invalidFilter"),
    PersonEmailInvalid: (400, "invalidValue"),
    PersonTimeZoneUnknown: (400, "invalidValue"),
    PersonManagerUnknown: (400, "invalidValue"),
    PersonManagerLoop: (400, "invalidValue"),
    PersonValueTooLong: (400, "invalidValue"),
    reading.ScimEmailsDiffer: (400, "invalidValue"),
    reading.ScimActiveRequired: (400, "invalidValue"),
}


def error_status(problem: Problem) -> tuple[int, str | None]:
    """The HTTP status and scimType a refusal is answered with; (500, None) for a problem
    this service does not raise."""
    if isinstance(problem, reading.ScimInvalidRequest):
        return problem.status, problem.scim_type
    return _STATUS.get(type(problem), (500, None))


class ScimService:
    """One request's service: `base_url` is the SCIM root as the client reached it
    (https://host/scim/v2), for the locations it answers with."""

    def __init__(self, base_url: str, today: dt.date | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.today = today or utc_today()

    # --- Discovery (RFC 7644 §4) --------------------------------------------------------

    def service_provider_config(self) -> dict:
        config = SERVICE_PROVIDER_CONFIG.model_copy(
            update={"meta": self._meta("ServiceProviderConfig", "ServiceProviderConfig")}
        )
        return config.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE)

    def schemas(self) -> dict:
        return self._listed(Schema, [self._schema(s) for s in PROVIDER.schemas])

    def schema(self, schema_id: str) -> dict:
        for schema in PROVIDER.schemas:
            if str(schema.id).lower() == schema_id.lower():
                return self._schema(schema).model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE)
        raise ScimNoSuchResource(resource_type="Schema", id=schema_id)

    def resource_types(self) -> dict:
        return self._listed(ResourceType, [self._type(t) for t in PROVIDER.resource_types])

    def resource_type(self, type_id: str) -> dict:
        for resource_type in PROVIDER.resource_types:
            if str(resource_type.id).lower() == type_id.lower():
                dumped = self._type(resource_type)
                return dumped.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE)
        raise ScimNoSuchResource(resource_type="ResourceType", id=type_id)

    def _meta(self, resource_type: str, path: str) -> Meta:
        return Meta(resource_type=resource_type, location=f"{self.base_url}/{path}")

    def _schema(self, schema: Schema) -> Schema:
        return schema.model_copy(update={"meta": self._meta("Schema", f"Schemas/{schema.id}")})

    def _type(self, resource_type: ResourceType) -> ResourceType:
        meta = self._meta("ResourceType", f"ResourceTypes/{resource_type.id}")
        return resource_type.model_copy(update={"meta": meta})

    def _listed(self, model: Any, resources: list) -> dict:
        response = ListResponse[model](
            total_results=len(resources),
            start_index=1,
            items_per_page=len(resources),
            resources=resources,
        )
        return response.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE)

    # --- Users ----------------------------------------------------------------------------

    def list_users(self, params: Mapping[str, str]) -> dict:
        """GET /Users: filter, startIndex, count, attributes, excludedAttributes (sortBy and
        sortOrder are ignored: sorting is not supported)."""
        wanted = {
            key: params[key]
            for key in ("filter", "startIndex", "count", "attributes", "excludedAttributes")
            if key in params
        }
        return self._search(reading.read(SearchRequest[ServedUser], wanted, Context.SEARCH_REQUEST))

    def search_users(self, body: Mapping[str, Any]) -> dict:
        """POST /Users/.search: the same, in a body."""
        body = {k: v for k, v in body.items() if k.lower() not in ("sortby", "sortorder")}
        return self._search(reading.read(SearchRequest[ServedUser], body, Context.SEARCH_REQUEST))

    def get_user(self, user_id: str, params: Mapping[str, str]) -> dict:
        user = self._user(self._person(user_id))
        return self._dump(user, Context.RESOURCE_QUERY_RESPONSE, reading.selection(params))

    def create_user(self, body: Mapping[str, Any]) -> tuple[dict, str]:
        """POST /Users: the created User, and its location."""
        incoming = reading.read(ReadUser, body, Context.RESOURCE_CREATION_REQUEST)
        person = create_person(reading.wanted_of(incoming, None), ACTOR_SCIM, self.today)
        user = self._user(person)
        assert user.meta is not None and user.meta.location is not None
        return self._dump(user, Context.RESOURCE_CREATION_RESPONSE), user.meta.location

    def replace_user(self, user_id: str, body: Mapping[str, Any]) -> dict:
        person = self._person(user_id)
        incoming = reading.read(ReadUser, body, Context.RESOURCE_REPLACEMENT_REQUEST)
        current = provided_of(person, self.today)
        changes = reading.differences(current, reading.wanted_of(incoming, current))
        if changes:
            person = update_person(person.id, changes, ACTOR_SCIM, self.today)
        return self._dump(self._user(person), Context.RESOURCE_REPLACEMENT_RESPONSE)

    def patch_user(self, user_id: str, body: Mapping[str, Any], params: Mapping[str, str]) -> dict:
        person = self._person(user_id)
        chosen = reading.selection(params)
        body = reading.named_manager_removed(body, person.manager_id)
        if reading.operations(body) == []:  # only removals of someone who is not the manager
            return self._dump(self._user(person), Context.RESOURCE_PATCH_RESPONSE, chosen)
        patch = reading.read(PatchOp[ReadUser], body, Context.RESOURCE_PATCH_REQUEST)
        before = self._incoming(person)
        after = before.model_copy(deep=True)
        try:
            patch.patch(after, scim_policy=POLICY)
        except SCIMException as exc:
            raise reading.refusal(exc.to_error()) from None
        changes = reading.patched(before, after)
        if changes:
            person = update_person(person.id, changes, ACTOR_SCIM, self.today)
        return self._dump(self._user(person), Context.RESOURCE_PATCH_RESPONSE, chosen)

    def delete_user(self, user_id: str) -> None:
        remove_person(self._person(user_id).id, ACTOR_SCIM, self.today)

    def _person(self, user_id: str) -> Employee:
        person = find_person(int(user_id)) if user_id.isdigit() else None
        if person is None:
            raise PersonNotFound(id=user_id)
        return person

    def _search(self, request: SearchRequest) -> dict:
        condition = ~removed_where()
        if request.filter is not None:
            condition &= filter_where(request.filter, self.today)
        query = Employee.select().where(condition).order_by(Employee.id)
        total = query.count()
        start = request.start_index or 1
        count = min(DEFAULT_COUNT if request.count is None else request.count, MAX_RESULTS)
        people = list(query.offset(start - 1).limit(count)) if count else []
        users = self._users(people)
        response = ListResponse[ServedUser](
            total_results=total, start_index=start, items_per_page=len(users), resources=users
        )
        dumped = response.model_dump(scim_ctx=Context.SEARCH_RESPONSE, response_parameters=request)
        dumped.setdefault("Resources", [])  # Okta and Entra expect the key, even empty
        return dumped

    def _user(self, person: Employee) -> ServedUser:
        return self._users([person])[0]

    def _users(self, people: list[Employee]) -> list[ServedUser]:
        times = _history_times(person.email for person in people)
        return [
            user_of(person, self.base_url, times.get(person.email), self.today) for person in people
        ]

    def _dump(
        self, user: ServedUser, context: Context, selection: ResponseParameters | None = None
    ) -> dict:
        return user.model_dump(scim_ctx=context, response_parameters=selection)

    # --- Reading what the provider wants --------------------------------------------------

    def _incoming(self, person: Employee) -> ReadUser:
        """`person` as a User read from a provider, for PATCH operations to apply to."""
        served = user_of(person, self.base_url, None, self.today)
        incoming = ReadUser.model_validate(served.model_dump(scim_ctx=Context.DEFAULT))
        return incoming


def _history_times(emails: Iterable[str]) -> dict[str, tuple[dt.datetime, dt.datetime]]:
    """When the history first and last recorded a change to each of these people."""
    emails = list(emails)
    if not emails:
        return {}
    query = (
        DirectoryChange.select(
            DirectoryChange.subject,
            fn.MIN(DirectoryChange.changed_at),
            fn.MAX(DirectoryChange.changed_at),
        )
        .where(DirectoryChange.subject.in_(emails))
        .group_by(DirectoryChange.subject)
    )
    return {subject: (_moment(first), _moment(last)) for subject, first, last in query.tuples()}


def _moment(value: dt.datetime | str) -> dt.datetime:
    # SQLite hands back MIN() and MAX() of a timestamp as text.
    return dt.datetime.fromisoformat(value) if isinstance(value, str) else value
