"""The SCIM 2.0 endpoint at /scim/v2, served in HTTP mode beside /slack/events: routing,
the bearer token, body limits, content types and status codes. What each request means
is sync/org/scim/service.py's; its refusals are worded here from templates/_notices.j2,
since an identity provider's admin reads them in its provisioning logs.

Without `scim.bearer_token` (SCIM_BEARER_TOKEN) there is no SCIM endpoint: 404. A missing
or wrong token gets 401 with `WWW-Authenticate: Bearer`; the token is compared in
constant time and never logged, and neither is anything a request carries: a line per
request says its method, route and status.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl

from scim2_models import Context, Error

from bot.guard import DATABASE_ERRORS, schema_gate
from bot.rendering import words
from sync.notices import Notice, Problem
from sync.org.scim.service import ScimService, error_status
from sync.store.models import database

log = logging.getLogger(__name__)

SCIM_PATH = "/scim/v2"
CONTENT_TYPE = "application/scim+json"
# Identity providers send one person at a time: a few kilobytes. Larger is refused unread.
MAX_BODY_BYTES = 64 * 1024
# Endpoints RFC 7644 defines that codexbot does not serve: answered 501, not 404.
NOT_SUPPORTED = {"bulk": "Bulk", "me": "Me", ".search": "/.search"}


def is_scim_path(path: str) -> bool:
    return path == "/scim" or path.startswith("/scim/")


@dataclass
class Answer:
    status: int
    body: dict | None = None
    headers: list[tuple[str, str]] = field(default_factory=list)


class ScimEndpoint:
    """A WSGI application for every path under /scim."""

    def __init__(
        self,
        bearer_token: str | None,
        max_body_bytes: int = MAX_BODY_BYTES,
        public_url: str | None = None,
    ) -> None:
        self._token = bearer_token.encode() if bearer_token else None
        self._max_body_bytes = max_body_bytes
        # The SCIM root for the locations in answers (`scim.public_url`); None: per request.
        self._public_url = public_url

    @property
    def enabled(self) -> bool:
        return self._token is not None

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET").upper()
        path = environ.get("PATH_INFO", "")
        if self._token is None or not (path == SCIM_PATH or path.startswith(SCIM_PATH + "/")):
            answer, route = _refused(404, Notice("scim_unknown_endpoint")), "(unknown)"
        elif not self._authorized(environ):
            answer, route = _refused(401, Notice("scim_unauthorized")), "(any)"
            answer.headers.append(("WWW-Authenticate", 'Bearer realm="codexbot"'))
        else:
            parts = [part for part in path[len(SCIM_PATH) :].split("/") if part]
            answer, route = self._routed(method, parts, environ)
        log.info("SCIM %s %s: %s", method, route, answer.status)
        return _send(start_response, answer)

    def _authorized(self, environ: dict) -> bool:
        scheme, _, token = environ.get("HTTP_AUTHORIZATION", "").strip().partition(" ")
        assert self._token is not None
        return scheme.lower() == "bearer" and hmac.compare_digest(
            token.strip().encode(), self._token
        )

    def _routed(self, method: str, parts: list[str], environ: dict) -> tuple[Answer, str]:
        endpoint = parts[0].lower() if parts else ""
        if endpoint == "groups":
            return _refused(501, Notice("scim_groups_unsupported")), "/Groups"
        if endpoint in NOT_SUPPORTED and len(parts) == 1:
            what = NOT_SUPPORTED[endpoint]
            return _refused(501, Notice("scim_not_supported", {"what": what})), f"/{what}"
        route = _ROUTES.get((endpoint, min(len(parts), 2)))
        if endpoint == "users" and len(parts) == 2 and parts[1] == ".search":
            route = _SEARCH
        if route is None or len(parts) > 2:
            return _refused(404, Notice("scim_unknown_endpoint")), "(unknown)"
        label, handlers = route
        handler = handlers.get(method)
        if handler is None:
            allowed = ", ".join(sorted(handlers))
            answer = _refused(405, Notice("scim_method_not_allowed", {"allowed": allowed}))
            answer.headers.append(("Allow", allowed))
            return answer, label
        body = None
        if method in ("POST", "PUT", "PATCH"):
            body, refusal = self._body(environ)
            if refusal is not None:
                return refusal, label
        params = dict(parse_qsl(environ.get("QUERY_STRING", "")))
        base_url = self._public_url or _base_url(environ)
        request = _Request(ScimService(base_url), parts, params, body)
        return _answered(handler, request), label

    def _body(self, environ: dict) -> tuple[Any, Answer | None]:
        """The request's JSON object, read only up to the limit."""
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > self._max_body_bytes:
            limit = {"limit": self._max_body_bytes}
            return None, _refused(413, Notice("scim_body_too_large", limit))
        raw = environ["wsgi.input"].read(length if length else self._max_body_bytes + 1)
        if len(raw) > self._max_body_bytes:
            limit = {"limit": self._max_body_bytes}
            return None, _refused(413, Notice("scim_body_too_large", limit))
        try:
            body = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            body = None
        if not isinstance(body, dict):
            return None, _refused(400, Notice("scim_not_a_json_object"), "invalidSyntax")
        return body, None


@dataclass(frozen=True)
class _Request:
    service: ScimService
    parts: list[str]
    params: dict[str, str]
    body: Any

    @property
    def id(self) -> str:
        return self.parts[1]


def _answered(handler: Callable[[_Request], Answer], request: _Request) -> Answer:
    """The handler's answer, with the directory open; refusals worded."""
    try:
        with database.connection_context():
            problem = schema_gate.problem()
            if problem is not None:
                return _refused(503, problem)
            return handler(request)
    except Problem as problem:
        status, scim_type = error_status(problem)
        if status >= 500:
            log.error("SCIM request failed: %s", problem.kind)
        return _refused(status, problem, scim_type)
    except DATABASE_ERRORS as exc:
        log.error("SCIM request: database unavailable: %s", type(exc).__name__)
        return _refused(503, Notice("unavailable"))
    except Exception as exc:  # noqa: BLE001 - answered as SCIM, never a traceback to the client
        # The type only: an exception's message may quote what the request carried.
        log.error("SCIM request failed: %s", type(exc).__name__)
        return _refused(500, Notice("internal_error"))


def _refused(status: int, notice: Notice | Problem, scim_type: str | None = None) -> Answer:
    error = Error(status=status, scim_type=scim_type, detail=words(notice))
    return Answer(status, error.model_dump(scim_ctx=Context.DEFAULT))


def _send(start_response: Callable, answer: Answer) -> list[bytes]:
    payload = b"" if answer.body is None else json.dumps(answer.body).encode()
    headers = list(answer.headers)
    if answer.body is not None:
        headers.append(("Content-Type", CONTENT_TYPE))
    headers.append(("Content-Length", str(len(payload))))
    start_response(f"{answer.status} {HTTPStatus(answer.status).phrase}", headers)
    return [payload]


def _base_url(environ: dict) -> str:
    """The SCIM root as the client reached it, for the locations in answers, when
    `scim.public_url` does not say it: the request's Host, and the scheme the server was
    reached by. Waitress drops X-Forwarded-Proto (and the other proxy headers) from peers
    it was not told to trust, so behind a proxy that ends TLS this says http://: there,
    `scim.public_url` must be set."""
    scheme = environ.get("wsgi.url_scheme", "http")
    host = environ.get("HTTP_HOST") or f"{environ['SERVER_NAME']}:{environ['SERVER_PORT']}"
    return f"{scheme}://{host}{environ.get('SCRIPT_NAME', '')}{SCIM_PATH}"


# --- The routes: (endpoint, depth) -> (label for the log, {method: handler}) --------------


def _user_created(request: _Request) -> Answer:
    body, location = request.service.create_user(request.body)
    return Answer(201, body, [("Location", location)])


def _user_deleted(request: _Request) -> Answer:
    request.service.delete_user(request.id)
    return Answer(204)


def _ok(read: Callable[[_Request], dict]) -> Callable[[_Request], Answer]:
    return lambda request: Answer(200, read(request))


_Route = tuple[str, dict[str, Callable[[_Request], Answer]]]
_ROUTES: dict[tuple[str, int], _Route] = {
    ("serviceproviderconfig", 1): (
        "/ServiceProviderConfig",
        {"GET": _ok(lambda r: r.service.service_provider_config())},
    ),
    ("schemas", 1): ("/Schemas", {"GET": _ok(lambda r: r.service.schemas())}),
    ("schemas", 2): ("/Schemas/{id}", {"GET": _ok(lambda r: r.service.schema(r.id))}),
    ("resourcetypes", 1): ("/ResourceTypes", {"GET": _ok(lambda r: r.service.resource_types())}),
    ("resourcetypes", 2): (
        "/ResourceTypes/{id}",
        {"GET": _ok(lambda r: r.service.resource_type(r.id))},
    ),
    ("users", 1): (
        "/Users",
        {"GET": _ok(lambda r: r.service.list_users(r.params)), "POST": _user_created},
    ),
    ("users", 2): (
        "/Users/{id}",
        {
            "GET": _ok(lambda r: r.service.get_user(r.id, r.params)),
            "PUT": _ok(lambda r: r.service.replace_user(r.id, r.body)),
            "PATCH": _ok(lambda r: r.service.patch_user(r.id, r.body, r.params)),
            "DELETE": _user_deleted,
        },
    ),
}
_SEARCH: _Route = ("/Users/.search", {"POST": _ok(lambda r: r.service.search_users(r.body))})
