"""The API's JSON renderer writes exactly DRF's JSONRenderer bytes, refuses what it refuses,
and honours an indent asked for in the Accept header."""

from __future__ import annotations

import datetime
import decimal
import random
import uuid
from collections import OrderedDict
from typing import Any

import pytest
from django.urls import reverse
from django.utils.translation import gettext_lazy
from rest_framework.renderers import JSONRenderer
from rest_framework.test import APIClient
from rest_framework.utils.serializer_helpers import ReturnDict, ReturnList

from cases.intake.api import FindingViewSet
from cases.intake.models import Finding
from cases.kernel.renderers import FastJSONRenderer, _is_plain
from tests.factories import make_finding

FAST, DRF = FastJSONRenderer(), JSONRenderer()

_TEXTS = [
    "",
    "plain",
    "유나 딥페이크 신고",
    "emoji \U0001f600 and flags \U0001f1f0\U0001f1f7",
    "line\u2028and\u2029paragraph separators",
    "".join(chr(n) for n in range(0x20)) + '"\\/\x7f\x85\ufeff',
    "\ud7a3\ue000\uffff\U0010ffff",
]
_FLOATS = [0.0, -0.0, 1e-4, 0.1, 2.5, 1e15, 1e16, 1.5e300, -123.456, 1e-5, 1.5e-7, 5e-324]
_INTS = [0, -1, 2**53 + 1, 2**63 - 1, -(2**63), 2**64 - 1, 2**64, -(2**63) - 1, 10**40]
_OTHERS: list[Any] = [
    None,
    True,
    False,
    decimal.Decimal("12.50"),
    gettext_lazy("Not found."),
    datetime.datetime(2026, 3, 1, 9, 30, 15, 123456, tzinfo=datetime.UTC),
    datetime.datetime(2026, 3, 1, 18, 30, tzinfo=datetime.timezone(datetime.timedelta(hours=9))),
    datetime.datetime(2026, 3, 1, 9, 30),
    datetime.date(2026, 3, 1),
    datetime.time(9, 30, 1, 500),
    datetime.timedelta(days=1, seconds=3),
    uuid.UUID("12345678-1234-5678-1234-567812345678"),
    b"bytes",
    {1, 2},
]


def _value(rng: random.Random, depth: int = 0) -> Any:
    roll = rng.random()
    if depth < 4 and roll < 0.25:
        return {
            rng.choice(_TEXTS) + str(n): _value(rng, depth + 1) for n in range(rng.randrange(4))
        }
    if depth < 4 and roll < 0.4:
        return [_value(rng, depth + 1) for _ in range(rng.randrange(4))]
    return rng.choice([*_TEXTS, *_FLOATS, *_INTS, *_OTHERS, rng.uniform(-1e6, 1e6)])


def _same(data: Any, media_type: str | None = None, context: Any = None) -> bytes:
    try:
        expected = DRF.render(data, media_type, context)
    except Exception as exc:
        with pytest.raises(type(exc)):
            FAST.render(data, media_type, context)
        return b""
    assert FAST.render(data, media_type, context) == expected
    return expected


def test_it_keeps_drfs_media_type_format_and_charset() -> None:
    assert (FAST.media_type, FAST.format, FAST.charset) == ("application/json", "json", None)


@pytest.mark.parametrize(
    "data",
    [
        None,
        {},
        [],
        "",
        *_TEXTS,
        *_FLOATS,
        *_INTS,
        *_OTHERS,
        {"nested": [{"a": [1, {"b": None}]}, (), ["유나"]]},
        ReturnDict({"id": 1, "name": "유나"}, serializer=None),
        ReturnList([{"id": 1}, {"id": 2}], serializer=None),
        OrderedDict([("b", 1), ("a", 2)]),
        {1: "int key", None: "none key", 1.5: "float key"},
        {"ok": [1, 2, {frozenset(): 1}]},
        ["\ud800"],
    ],
)
def test_it_writes_drfs_bytes(data: Any) -> None:
    _same(data)


def test_it_writes_drfs_bytes_for_random_data() -> None:
    rng = random.Random(12)
    for _ in range(3000):
        _same(_value(rng))


def test_finding_shaped_data_takes_the_fast_path() -> None:
    page = {"next": None, "previous": None, "results": ReturnList(_rows(3), serializer=None)}
    assert _is_plain(page)
    assert _same(page).startswith(b'{"next":null')


def test_nan_and_infinity_are_refused_as_before() -> None:
    for bad in (float("nan"), float("inf"), -float("inf")):
        for data in (bad, {"score": bad}, [1, [bad]]):
            with pytest.raises(ValueError, match="JSON compliant"):
                FAST.render(data)


def test_a_cycle_is_refused_as_before() -> None:
    loop: list[Any] = []
    loop.append(loop)
    _same(loop)


def test_an_indent_in_the_accept_header_or_the_context_is_honoured() -> None:
    data = {"results": [{"id": 1, "name": "유나\u2028"}]}
    assert _same(data, "application/json; indent=4").startswith(b'{\n    "results"')
    assert (
        _same(data, "application/json; indent=0")
        == '{"results":[{"id":1,"name":"유나\\u2028"}]}'.encode()
    )
    assert _same(data, None, {"indent": 2}).startswith(b'{\n  "results"')
    _same(data, "application/json; indent=nonsense")


# ---------------------------------------------------------------------------- the API


def _rows(count: int) -> list[dict[str, Any]]:
    return [
        {
            "id": n,
            "canonical_url": f"https://www.youtube.com/watch?v={n:011d}",
            "host": "www.youtube.com",
            "platform": {"id": 3, "name": "YouTube"},
            "artists": [{"id": 7, "stage_name": "Yuna", "name_hangul": "유나"}],
            "source": "staff",
            "status": "new",
            "dismissed_reason": "",
            "assignee": None if n % 2 else {"id": 4, "username": "bob"},
            "created_at": "2026-03-01T18:30:15.123456+09:00",
            "updated_at": "2026-03-01T18:30:15.123456+09:00",
        }
        for n in range(count)
    ]


def test_the_findings_list_is_byte_identical_with_drfs_renderer(
    bob, agency, artist, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    for n in range(6):
        make_finding(agency, f"https://www.youtube.com/watch?v=v{n}", artists=[artist])
    Finding.objects.filter(pk=Finding.objects.first().pk).update(  # type: ignore[union-attr]
        dismissed_reason="패러디\u2028\U0001f600"
    )
    client = APIClient()
    client.force_login(bob)
    url = reverse("api:finding-list")
    for accept in ("application/json", "application/json; indent=4"):
        fast = client.get(url, {"page_size": 4}, HTTP_ACCEPT=accept)
        assert isinstance(fast.accepted_renderer, FastJSONRenderer)
        # A view reads DEFAULT_RENDERER_CLASSES once, when its class is made.
        with monkeypatch.context() as patched:
            patched.setattr(FindingViewSet, "renderer_classes", [JSONRenderer])
            old = client.get(url, {"page_size": 4}, HTTP_ACCEPT=accept)
        assert type(old.accepted_renderer) is JSONRenderer
        assert fast.status_code == old.status_code == 200
        assert fast["Content-Type"] == old["Content-Type"]
        assert fast.content == old.content
        assert "유나".encode() in fast.content and b"\\u2028" in fast.content
