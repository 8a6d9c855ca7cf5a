"""The renderer cannot be made to fetch anything: markup in any field is text, and the URL
fetcher serves only our own allowlisted static file and this case's previews."""

from __future__ import annotations

import io
import socket
import sys

import pytest
from django.core.files.storage import default_storage
from pypdf import PdfReader

from reports import fetcher as fetcher_module
from reports.fetcher import FetchRefused, LockedFetcher
from reports.models import DossierStatus
from reports.services import MemoryLimitExceeded, dossier_request, memory_limit
from tests.reports.builders import build_case

INJECTIONS = [
    "<img src=http://169.254.169.254/>",
    "<link rel=attachment href=file:///etc/passwd>",
    "<style>@import url(http://x/);</style>",
    '<p style="background:url(file:///etc/passwd)">css</p>',
    "@import url(http://x/)",
    "url(file:///etc/passwd)",
]
PAYLOAD = " ".join(INJECTIONS)


@pytest.fixture
def recorded(monkeypatch):  # type: ignore[no-untyped-def]
    """Every URL WeasyPrint asks the fetcher for, and every socket connection attempted."""
    calls: list[str] = []
    connects: list[object] = []
    original = LockedFetcher.fetch

    def fetch(self, url, headers=None):  # type: ignore[no-untyped-def]
        calls.append(url)
        return original(self, url, headers)

    def connect(self, address):  # type: ignore[no-untyped-def]
        connects.append(address)
        raise OSError("network access is not allowed while rendering")

    monkeypatch.setattr(LockedFetcher, "fetch", fetch)
    monkeypatch.setattr(socket.socket, "connect", connect)
    return calls, connects


def test_markup_in_every_field_is_text_and_fetches_nothing(
    agency, bob, artist, recorded, django_capture_on_commit_callbacks
) -> None:
    artist.stage_name = "<img src=http://169.254.169.254/>"
    artist.save()
    case = build_case(agency=agency, actor=bob, artists=[artist], items=6, text=PAYLOAD)
    with django_capture_on_commit_callbacks(execute=True):
        dossier = dossier_request(case=case, kind="dossier", actor=bob)
    dossier.refresh_from_db()
    assert dossier.status == DossierStatus.DONE, dossier.error

    calls, connects = recorded
    ids = {str(pk) for pk in case.findings.values_list("evidence__pk", flat=True)}
    outside = [
        url
        for url in calls
        if url != "agstatic:reports/dossier.css"
        and not (url.startswith("evidence-preview:") and url.split(":", 1)[1] in ids)
    ]
    assert not outside, f"the renderer asked for {outside}"
    assert "agstatic:reports/dossier.css" in calls
    assert not connects

    with default_storage.open(dossier.pdf_name, "rb") as handle:
        reader = PdfReader(io.BytesIO(handle.read()))
    text = "".join("".join(page.extract_text() for page in reader.pages).split())
    for injection in INJECTIONS:
        assert "".join(injection.split()) in text, injection
    assert not reader.attachments  # <link rel=attachment> embedded nothing


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/",
        "https://example.com/x.css",
        "file:///etc/passwd",
        "ftp://example.com/x",
        "agstatic:../agencyguard/settings.py",
        "agstatic:reports/../../agencyguard/settings.py",
        "agstatic:css/app.css",
        "evidence-preview:999",
        "evidence-preview:1/../2",
        "evidence-preview:-1",
        "data:text/html;base64,PHNjcmlwdD4=",
        "data:image/png;base64," + "A" * 5000,
        "gopher://x/",
    ],
)
def test_the_fetcher_refuses_everything_outside_its_allowlist(url: str) -> None:
    fetcher = LockedFetcher(previews=lambda pk: b"jpeg", evidence_ids={1, 2})
    with pytest.raises(FetchRefused):
        fetcher.fetch(url)
    assert fetcher.refused == [url]


def test_the_fetcher_serves_its_static_file_and_this_cases_previews() -> None:
    served: list[int] = []

    def previews(pk: int) -> bytes:
        served.append(pk)
        return b"\xff\xd8\xffjpeg"

    fetcher = LockedFetcher(previews=previews, evidence_ids={7})
    css = fetcher.fetch("agstatic:reports/dossier.css")
    assert b"@page" in css.read()
    assert fetcher.fetch("evidence-preview:7").read().startswith(b"\xff\xd8\xff")
    assert served == [7]
    tiny = "data:image/png;base64,iVBORw0KGgo="
    assert fetcher.fetch(tiny).read().startswith(b"\x89PNG")
    assert fetcher_module.STATIC_ALLOWLIST == {"reports/dossier.css": "text/css"}


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_AS and /proc are Linux")
def test_the_memory_guard_stops_a_runaway_render_and_restores_the_limit() -> None:
    import resource

    before = resource.getrlimit(resource.RLIMIT_AS)
    with pytest.raises(MemoryLimitExceeded), memory_limit(64):
        bytearray(1024 * 1024 * 1024)
    assert resource.getrlimit(resource.RLIMIT_AS) == before
    bytearray(256 * 1024 * 1024)  # and the process can allocate again


def test_the_main_dossier_never_uses_unblurred_previews(
    small_case, bob, monkeypatch, django_capture_on_commit_callbacks
) -> None:
    import cases.evidence.previews

    def refuse(evidence):  # type: ignore[no-untyped-def]
        raise AssertionError("the dossier asked for an unblurred preview")

    monkeypatch.setattr(cases.evidence.previews, "revealed_preview", refuse)
    for kind in ("dossier", "packet"):
        with django_capture_on_commit_callbacks(execute=True):
            dossier = dossier_request(case=small_case, kind=kind, actor=bob)
        dossier.refresh_from_db()
        assert dossier.status == DossierStatus.DONE, dossier.error
