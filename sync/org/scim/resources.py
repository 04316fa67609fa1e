"""What codexbot publishes to an identity provider: a User holding only what the directory
keeps, with the enterprise extension's department and manager, and how a directory row
reads as one.

One email per person: `userName` is the directory email, and `emails` repeats it (read
only). One name: `displayName` and `name.formatted` are the same directory name. Requests
are read with `IncomingUser`, which also takes the given and family names and `emails`
as identity providers send them; anything else they send (phone numbers, titles, other
extensions) is accepted and ignored.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from pydantic import Field, model_validator
from scim2_models import (
    AuthenticationScheme,
    Bulk,
    CaseExact,
    ChangePassword,
    ComplexAttribute,
    ETag,
    Extension,
    Filter,
    Meta,
    Mutability,
    Patch,
    Reference,
    Required,
    Resource,
    ResourceType,
    ScimPolicy,
    ScimProvider,
    ServiceProviderConfig,
    Sort,
    Uniqueness,
)
from scim2_models import EnterpriseUser as StandardEnterpriseUser
from scim2_models import User as StandardUser
from scim2_models.resources.resource import AnyExtension

from sync.org.access import is_archived
from sync.org.provisioning import known_time_zones
from sync.store.models import Employee

USER_SCHEMA = str(StandardUser.__schema__)
ENTERPRISE_SCHEMA = str(StandardEnterpriseUser.__schema__)
# A page of Users holds at most this many; a larger `count` is cut to it.
MAX_RESULTS = 200
DEFAULT_COUNT = 100

# How identity providers' payloads are read. Unknown attributes and extensions are
# dropped (providers send many we do not keep); Entra's PATCH quirks are taken as Entra
# means them: a `remove` carrying a value, and a filtered path with no entry yet.
POLICY = ScimPolicy(
    unknown=ScimPolicy.Unknown.ignore,
    remove_value_as_filter=ScimPolicy.RemoveValue.apply,
    unmatched_path_filter=ScimPolicy.UnmatchedPathFilter.create,
)


class Manager(ComplexAttribute):
    """The person's manager, by their SCIM id."""

    value: Annotated[str | None, CaseExact.true] = None
    ref: Annotated[Reference["User"] | None, CaseExact.true] = Field(  # noqa: UP037
        None, serialization_alias="$ref", validation_alias="$ref"
    )

    @model_validator(mode="before")
    @classmethod
    def _bare_id(cls, data: Any) -> Any:
        # Entra sends the manager's id alone, as PATCH values: "value": "42".
        if isinstance(data, str | int) and not isinstance(data, bool):
            return {"value": str(data)}
        return data

    @property
    def person_id(self) -> str | None:
        """The id this reference names: its value, else the last segment of its $ref."""
        if self.value:
            return self.value
        return self.ref.rstrip("/").rsplit("/", 1)[-1] if self.ref else None


class EnterpriseUser(Extension):
    """The enterprise extension's attributes codexbot keeps."""

    __schema__ = StandardEnterpriseUser.__schema__

    department: str | None = None
    manager: Manager | None = None


class Name(ComplexAttribute):
    """The person's name, as the directory keeps it: whole."""

    formatted: str | None = None


class IncomingName(Name):
    given_name: str | None = None
    family_name: str | None = None

    @property
    def joined(self) -> str:
        return " ".join(part for part in (self.given_name, self.family_name) if part)


class Email(ComplexAttribute):
    """The person's email: their userName."""

    value: str | None = None
    type: str | None = None
    primary: bool | None = None


class User(Resource[AnyExtension]):
    """A person in codexbot's directory."""

    __schema__ = StandardUser.__schema__

    user_name: Annotated[str | None, Required.true, Uniqueness.server] = None
    name: Name | None = None
    display_name: str | None = None
    emails: Annotated[list[Email] | None, Mutability.read_only] = None
    active: Annotated[bool | None, Required.true] = None
    timezone: Annotated[str | None, Field(examples=sorted(known_time_zones()))] = None


class IncomingUser(User[AnyExtension]):
    """A User as identity providers send one: `emails` may be sent (it must repeat the
    userName), a name may come in parts, and `active` may be left out."""

    name: IncomingName | None = None
    emails: list[Email] | None = None
    active: bool | None = None


# The resources this service serves and reads: a User with its enterprise extension.
ServedUser = User[EnterpriseUser]
ReadUser = IncomingUser[EnterpriseUser]

SERVICE_PROVIDER_CONFIG = ServiceProviderConfig(
    patch=Patch(supported=True),
    bulk=Bulk(supported=False, max_operations=0, max_payload_size=0),
    filter=Filter(supported=True, max_results=MAX_RESULTS),
    change_password=ChangePassword(supported=False),
    sort=Sort(supported=False),
    etag=ETag(supported=False),
    authentication_schemes=[
        AuthenticationScheme(
            type=AuthenticationScheme.Type.oauthbearertoken,
            name="OAuth Bearer Token",
            description="The bearer token set as SCIM_BEARER_TOKEN",
            primary=True,
        )
    ],
)
# Users only: Groups are not a resource type here.
PROVIDER = ScimProvider(
    models=[User, EnterpriseUser],
    resource_types=[ResourceType.from_resource(ServedUser)],
    config=SERVICE_PROVIDER_CONFIG,
    policy=POLICY,
)


def user_of(
    person: Employee,
    base_url: str,
    times: tuple[dt.datetime, dt.datetime] | None,
    today: dt.date,
) -> User:
    """`person` as a SCIM User; `times` (created, last modified) when the directory's
    history knows them."""
    location = f"{base_url}/Users/{person.id}"
    meta = Meta(resource_type="User", location=location)
    if times is not None:
        meta.created = times[0].replace(tzinfo=dt.UTC)
        meta.last_modified = times[1].replace(tzinfo=dt.UTC)
    user = ServedUser(
        id=str(person.id),
        external_id=person.external_id,
        user_name=person.email,
        name=Name(formatted=person.name) if person.name else None,
        display_name=person.name or None,
        emails=[Email(value=person.email, type="work", primary=True)],
        active=not is_archived(person, today),
        timezone=person.timezone,
        meta=meta,
    )
    if person.department or person.manager_id is not None:
        manager = None
        if person.manager_id is not None:
            manager = Manager(
                value=str(person.manager_id), ref=f"{base_url}/Users/{person.manager_id}"
            )
        user[EnterpriseUser] = EnterpriseUser(department=person.department, manager=manager)
    return user
