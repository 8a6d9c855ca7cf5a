"""Issue 11: bad input never reaches a 500. Every URL pattern of the project (read from the
resolver, the same walk as tests/test_outsider.py, so a new endpoint cannot escape) is called
with hostile values in each of its URL arguments, with GET and POST, by an anonymous visitor
and by an agency admin; and every list page and API list is called with hostile values in
each query parameter it declares (API: the parameters of its OpenAPI operation; pages: the
fields of the GET forms it renders, plus `page`). No answer may be a 5xx; a failure names
each URL that gave one.

Excluded, with the reason: the Django admin (superusers only, closed to agency users:
tests/test_outsider.py::test_the_django_admin_is_closed_to_agency_users) and `logout` (it
would end the admin's session half-way through the walk)."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from typing import Any

import pytest
from django.urls import NoReverseMatch, reverse
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from tests.test_outsider import (
    NON_OBJECT_KWARGS,
    Route,
    World,
    _value_for,
    routes_to_probe,
    walk,
    world,  # noqa: F401 (the fixture)
)

SKIPPED = {"logout": "ends the session the walk runs in"}
SKIPPED_NAMESPACES = {"admin": "superusers only; closed to agency users (test_outsider)"}

# Values for a URL argument. They are put in the path as written (already percent-encoded
# where they must be), so the resolver sees what a client can send.
HOSTILE_PATH_VALUES = [
    "abc",
    "-1",
    "99999999999999999999",
    "1.5",
    "%00",
    "..%2F..",
    "%F0%9F%98%80",
    "%C2%B2",
    "[::1",
    "x" * 1000,
]
# Values for a query parameter (the client encodes them).
HOSTILE_QUERY_VALUES = [
    "",
    "abc",
    "-1",
    "99999999999999999999",
    "²",
    "\x00",
    "2026-01-01T00:00:00+99:00",
    "http://[::1/",
    "%" * 1000,
]
# Every page may read `page` (cases/kernel/web.py paginate); the rest each page declares.
COMMON_QUERY_PARAMS = ("page",)
PLACEHOLDER = "7070707"


def _client(user: Any = None) -> APIClient:
    client = APIClient()
    client.raise_request_exception = False  # a 500 is reported with its URL, not raised
    if user is not None:
        client.force_login(user)
    return client


def _skipped(route: Route) -> bool:
    if route.namespaces and route.namespaces[0] in SKIPPED_NAMESPACES:
        return True
    return (route.name or "") in SKIPPED


def hostile_paths(world: World, routes: list[Route] | None = None) -> Iterator[tuple[Route, str]]:  # noqa: F811
    """For every pattern with URL arguments: the URL with one argument at a time replaced by
    each hostile value (the others pointing at real objects of Aurora)."""
    for route in walk() if routes is None else routes:
        if _skipped(route) or not route.kwargs:
            continue
        for target in route.kwargs:
            kwargs = {k: _value_for(route, k, world) for k in route.kwargs}
            kwargs[target] = PLACEHOLDER
            assert route.name, f"unnamed pattern {route.route!r}: give it a name"
            try:
                path = reverse(route.name, kwargs=kwargs)
            except NoReverseMatch as exc:  # pragma: no cover - a new converter
                raise AssertionError(f"{route.name}: cannot build a hostile URL: {exc}") from exc
            for value in HOSTILE_PATH_VALUES:
                yield route, path.replace(PLACEHOLDER, value)


class _GetFormFields(HTMLParser):
    """Names of the fields of every GET form on a page: the filters the page declares."""

    def __init__(self) -> None:
        super().__init__()
        self.names: set[str] = set()
        self._in_get_form = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "form":
            self._in_get_form = (attributes.get("method") or "get").lower() == "get"
        elif (
            tag in ("input", "select", "textarea") and self._in_get_form and attributes.get("name")
        ):
            self.names.add(str(attributes["name"]))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._in_get_form = False


def _schema_query_params() -> list[tuple[re.Pattern[str], set[str]]]:
    """(path regex, query parameter names) of every GET operation of the OpenAPI schema."""
    schema = SchemaGenerator().get_schema(request=None, public=True)
    found = []
    for template, operations in schema["paths"].items():
        names = {
            p["name"] for p in operations.get("get", {}).get("parameters", []) if p["in"] == "query"
        }
        regex = re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$")
        found.append((regex, names))
    return found


def declared_query_params(client: APIClient, route: Route, path: str, schema: Any) -> set[str]:
    names = set(COMMON_QUERY_PARAMS)
    if route.is_api:
        for regex, params in schema:
            if regex.match(path):
                names |= params
        return names
    response = client.get(path)
    if response.status_code == 200 and "html" in response.get("Content-Type", ""):
        parser = _GetFormFields()
        parser.feed(response.content.decode("utf-8", "replace"))
        names |= parser.names
    return names


def _server_error(who: str, method: str, path: str, response: Any) -> str | None:
    if response.status_code < 500:
        return None
    error = getattr(response, "exc_info", None)
    reason = repr(error[1]) if error else ""
    return f"{who} {method} {path} -> {response.status_code} {reason}"


def probe_paths(client: APIClient, who: str, paths: list[tuple[Route, str]]) -> list[str]:
    problems = []
    for _route, path in paths:
        for method in ("get", "post"):
            response = getattr(client, method)(path)
            problem = _server_error(who, method.upper(), path, response)
            if problem:
                problems.append(problem)
    return problems


def probe_queries(
    client: APIClient,
    who: str,
    world: World,  # noqa: F811
    *,
    each: bool = True,
    only: set[str] | None = None,
) -> list[str]:
    """Every GET route without object arguments (lists, pages; the `.json` variants of API
    lists are the same views), each declared parameter given each hostile value in turn
    (`each`), or all of them at once per value (cheaper, for visitors who get refused)."""
    schema = _schema_query_params()
    routes, unbuilt = routes_to_probe(world)
    problems = list(unbuilt)
    for route, path in routes:
        if _skipped(route) or set(route.kwargs) - NON_OBJECT_KWARGS or "format" in route.kwargs:
            continue
        if only is not None and route.name not in only:
            continue
        names = sorted(declared_query_params(client, route, path, schema))
        for value in HOSTILE_QUERY_VALUES:
            for query in [{n: value} for n in names] if each else [dict.fromkeys(names, value)]:
                response = client.get(path, query)
                shown = "&".join(f"{n}={value[:40]!r}" for n in query)
                problem = _server_error(who, "GET", f"{path}?{shown}", response)
                if problem:
                    problems.append(problem)
    return problems


@pytest.fixture(autouse=True)
def _quiet_request_log() -> Iterator[None]:
    """Thousands of refused requests are the point here; keep their log lines out."""
    logger = logging.getLogger("django.request")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    yield
    logger.setLevel(level)


def test_hostile_url_arguments_never_500_for_anyone(world: World) -> None:  # noqa: F811
    paths = list(hostile_paths(world))
    assert len({route.name for route, _ in paths}) >= 40, "the walk found too few patterns"
    problems = probe_paths(_client(), "anonymous", paths)
    problems += probe_paths(_client(world.alice), "alice(admin)", paths)
    assert not problems, "\n".join(problems)


def test_hostile_query_parameters_never_500_for_an_admin(world: World) -> None:  # noqa: F811
    problems = probe_queries(_client(world.alice), "alice(admin)", world)
    assert not problems, "\n".join(problems)


def test_hostile_query_parameters_never_500_for_an_anonymous_visitor(world: World) -> None:  # noqa: F811
    problems = probe_queries(_client(), "anonymous", world, each=False)
    assert not problems, "\n".join(problems)


@pytest.mark.urls("tests.cases.planted_urls")
def test_a_pattern_that_answers_500_fails_the_walk(world: World) -> None:  # noqa: F811
    """The walk is not vacuous: a view that trusts its URL argument and its query string
    (tests/cases/planted_urls.py) is reported with its URL."""
    planted = [route for route in walk() if route.name == "planted_widget"]
    assert len(planted) == 1
    problems = probe_paths(_client(world.alice), "alice", list(hostile_paths(world, planted)))
    assert any("/planted/abc/" in p and "ValueError" in p for p in problems), problems
    problems = probe_queries(_client(world.alice), "alice", world, only={"planted_list"})
    assert any("/planted/?page='abc'" in p for p in problems), problems


@pytest.mark.parametrize("name", ["case_list", "artist_list"])
def test_a_nul_in_the_search_text_is_ignored_not_a_500(client, alice, name: str) -> None:  # type: ignore[no-untyped-def]
    # Found by the walk on PostgreSQL, which refuses NUL in any string literal.
    client.force_login(alice)
    assert client.get(reverse(name), {"q": "a\x00b"}).status_code == 200
