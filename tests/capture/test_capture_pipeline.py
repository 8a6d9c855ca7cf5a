"""A capture of the local suspect site, end to end through the service: every artefact
becomes Evidence with the right SHA-256, the WARC reads back with warcio, and re-running
or crashing a capture never duplicates or half-writes evidence."""

from __future__ import annotations

import hashlib
import io
import json
from unittest import mock

import pytest
from django.test import override_settings
from PIL import Image
from warcio.archiveiterator import ArchiveIterator

from cases.evidence.models import Capture, CaptureStatus, Evidence
from cases.evidence.services import captures as capture_services
from cases.evidence.services.captures import capture_request, capture_run
from cases.evidence.services.evidence import evidence_open
from cases.intake.models import FindingStatus
from cases.kernel.audit.services import audit_chain_verify
from cases.kernel.models import AuditEvent
from cases.kernel.storage import blob_hash
from tests.capture.capture_site import IMAGES, PUBLIC_IP, VIDEO, page_html, site_url
from tests.factories import make_finding

pytestmark = pytest.mark.django_db


def _read(evidence: Evidence) -> bytes:
    with evidence_open(evidence) as handle:
        return handle.read()


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _assert_every_blob_is_whole() -> None:
    """Every Evidence row has its blob, and the blob hashes to the row's SHA-256."""
    for evidence in Evidence.objects.all():
        assert blob_hash(evidence.storage_name) == evidence.sha256, evidence


@pytest.fixture
def page_finding(agency, bob):  # type: ignore[no-untyped-def]
    return make_finding(agency, site_url("/start"), actor=bob)


@pytest.mark.browser
def test_capture_of_the_local_site_stores_every_kind_of_evidence_with_correct_hashes(
    chromium, page_finding, bob, network, site
) -> None:  # type: ignore[no-untyped-def]
    capture = capture_request(finding=page_finding, actor=bob)
    capture = capture_run(capture_id=capture.pk, **network.kwargs)

    assert capture is not None
    assert capture.status == CaptureStatus.DONE, capture.error
    evidence = {e.kind: e for e in Evidence.objects.filter(capture=capture)}
    assert set(evidence) == {"screenshot", "dom", "html", "warc", "wacz", "headers", "media"}
    media = Evidence.objects.filter(capture=capture, kind="media")
    # The video, the og:image and the two content images; never the 1x1 tracking pixel.
    assert {m.sha256 for m in media} == {
        _sha(VIDEO),
        _sha(IMAGES["/img/og.jpg"]),
        _sha(IMAGES["/img/hero.png"]),
        _sha(IMAGES["/img/second.jpg"]),
    }
    assert {m.media_type for m in media} == {"video/mp4", "image/jpeg", "image/png"}
    for item in Evidence.objects.filter(capture=capture):
        data = _read(item)
        assert _sha(data) == item.sha256 and len(data) == item.size
        assert item.finding_id == page_finding.pk and item.agency_id == page_finding.agency_id
    assert _read(evidence["html"]) == page_html()  # the HTML exactly as served

    headers = json.loads(_read(evidence["headers"]))
    assert [hop["status"] for hop in headers["hops"]] == [301, 302, 200]
    assert ["X-Served-By", "suspect-site"] in headers["hops"][-1]["headers"]

    shot = Image.open(io.BytesIO(_read(evidence["screenshot"])))
    assert shot.format == "PNG" and shot.width >= 1366 and shot.height > 900
    assert capture.details["browser"]["banner_height"] > 0
    assert capture.details["browser"]["chromium"]

    # The Berkeley record of the visit.
    assert capture.requested_url == site_url("/start")
    assert capture.final_url == site_url("/page")
    assert [hop["status"] for hop in capture.redirect_chain] == [301, 302]
    assert capture.http_status == 200 and capture.outcome == "ok"
    assert capture.headers["x-served-by"] == "suspect-site"
    assert capture.resolved_ip == PUBLIC_IP
    assert capture.collector_ip == "127.0.0.1"
    assert capture.collector == bob
    assert capture.tool_name == "AgencyGuard capture" and "Chromium" in capture.tool_version
    assert capture.tool_settings["policy"]["allow_loopback"] is False
    assert capture.started_at <= capture.finished_at
    assert capture.progress == 100
    manifest = capture.details["artefacts"]
    assert {item["kind"] for item in manifest} == set(evidence)
    assert all(
        item["sha256"] == Evidence.objects.get(pk=item["evidence"]).sha256 for item in manifest
    )

    page_finding.refresh_from_db()
    assert page_finding.status == FindingStatus.CAPTURED
    assert AuditEvent.objects.filter(action="capture.finished", object_id=str(capture.pk)).exists()
    assert audit_chain_verify(agency=page_finding.agency).ok
    _assert_every_blob_is_whole()


@pytest.mark.browser
def test_warcio_reads_back_every_exchange_of_the_capture(
    chromium, page_finding, bob, network
) -> None:  # type: ignore[no-untyped-def]
    capture = capture_run(
        capture_id=capture_request(finding=page_finding, actor=bob).pk, **network.kwargs
    )
    warc = Evidence.objects.get(capture=capture, kind="warc")
    data = _read(warc)
    assert data[:2] == b"\x1f\x8b"  # gzip, one member per record

    records = []
    for record in ArchiveIterator(io.BytesIO(data)):
        body = record.content_stream().read()
        records.append(
            (record.rec_type, record.rec_headers.get_header("WARC-Target-URI"), record, body)
        )
    types = [r[0] for r in records]
    assert types[0] == "warcinfo"
    assert b"AgencyGuard capture" in records[0][3] and b"Chromium" in records[0][3]
    responses = {uri: (rec, body) for kind, uri, rec, body in records if kind == "response"}
    requests = {uri for kind, uri, _rec, _body in records if kind == "request"}
    for path in ("/start", "/hop", "/page", "/img/hero.png", "/style.css", "/media/clip.mp4"):
        assert site_url(path) in responses, path
        assert site_url(path) in requests, path
    start, _ = responses[site_url("/start")]
    assert start.http_headers.get_statuscode() == "301"
    assert start.http_headers.get_header("Location") == "/hop"
    page, body = responses[site_url("/page")]
    assert body == page_html()
    assert page.rec_headers.get_header("WARC-IP-Address") == PUBLIC_IP
    assert responses[site_url("/img/hero.png")][1] == IMAGES["/img/hero.png"]
    assert responses["http://cdn.site.test/img/second.jpg"][1] == IMAGES["/img/second.jpg"]
    resources = {r[1]: r for r in records if r[0] == "resource"}
    assert set(resources) == {
        f"urn:screenshot:{site_url('/page')}",
        f"urn:rendered-dom:{site_url('/page')}",
    }
    shot = resources[f"urn:screenshot:{site_url('/page')}"]
    assert shot[2].rec_headers.get_header("Content-Type") == "image/png"
    assert _sha(shot[3]) == capture.details["browser"]["raw_png_sha256"]
    # The rendered DOM of the same moment, as stored next to the HTML as served.
    dom = resources[f"urn:rendered-dom:{site_url('/page')}"]
    assert _sha(dom[3]) == capture.details["browser"]["dom_sha256"]
    assert _sha(dom[3]) == Evidence.objects.get(capture=capture, kind="dom").sha256
    metadata = [json.loads(body) for kind, _uri, _rec, body in records if kind == "metadata"]
    assert metadata and metadata[0]["final_url"] == site_url("/page")


def test_rerunning_a_finished_capture_task_changes_nothing(
    no_screenshot, page_finding, bob, network
) -> None:  # type: ignore[no-untyped-def]
    capture = capture_request(finding=page_finding, actor=bob)
    capture_run(capture_id=capture.pk, **network.kwargs)
    before = list(Evidence.objects.order_by("pk").values_list("pk", "sha256"))
    events = AuditEvent.objects.count()

    assert capture_run(capture_id=capture.pk, **network.kwargs) is None  # a redelivery

    assert list(Evidence.objects.order_by("pk").values_list("pk", "sha256")) == before
    assert AuditEvent.objects.count() == events
    assert Capture.objects.get(pk=capture.pk).attempts == 1


def test_a_second_capture_of_the_same_page_reuses_the_same_bytes_without_duplicates(
    no_screenshot, page_finding, bob, network
) -> None:  # type: ignore[no-untyped-def]
    first = capture_run(
        capture_id=capture_request(finding=page_finding, actor=bob).pk, **network.kwargs
    )
    second = capture_run(
        capture_id=capture_request(finding=page_finding, actor=bob).pk, **network.kwargs
    )

    assert first is not None and second is not None and first.pk != second.pk
    # HTML and media are byte-identical: one Evidence each, listed on both captures.
    reused = {item["kind"] for item in second.details["artefacts"] if item["reused"]}
    assert {"html", "media"} <= reused
    first_html = next(i for i in first.details["artefacts"] if i["kind"] == "html")
    second_html = next(i for i in second.details["artefacts"] if i["kind"] == "html")
    assert first_html["evidence"] == second_html["evidence"]
    assert Evidence.objects.filter(sha256=first_html["sha256"]).count() == 1
    shas = list(Evidence.objects.values_list("sha256", flat=True))
    assert len(shas) == len(set(shas))
    _assert_every_blob_is_whole()


def test_a_crash_while_storing_leaves_no_evidence_and_the_rerun_completes_once(
    no_screenshot, page_finding, bob, network
) -> None:  # type: ignore[no-untyped-def]
    capture = capture_request(finding=page_finding, actor=bob)
    real_ingest = capture_services.evidence_ingest
    calls = []

    def ingest_then_die(**kwargs):  # type: ignore[no-untyped-def]
        calls.append(kwargs["kind"])
        if len(calls) == 3:
            raise SystemExit("worker killed")  # what a SIGTERM mid-task looks like here
        return real_ingest(**kwargs)

    with (
        mock.patch.object(capture_services, "evidence_ingest", ingest_then_die),
        pytest.raises(SystemExit),
    ):
        capture_run(capture_id=capture.pk, **network.kwargs)

    # Two artefacts were ingested before the crash, inside the capture's transaction: rolled back.
    assert Evidence.objects.count() == 0
    interrupted = Capture.objects.get(pk=capture.pk)
    assert interrupted.status == CaptureStatus.RUNNING and interrupted.progress < 100

    done = capture_run(capture_id=capture.pk, **network.kwargs)

    assert done is not None and done.status == CaptureStatus.DONE
    assert done.attempts == 2
    assert Capture.objects.filter(finding=page_finding).count() == 1
    kinds = list(Evidence.objects.filter(capture=capture).values_list("kind", flat=True))
    assert sorted(set(kinds)) == ["headers", "html", "media", "wacz", "warc"]
    shas = list(Evidence.objects.values_list("sha256", flat=True))
    assert len(shas) == len(set(shas))
    _assert_every_blob_is_whole()
    assert audit_chain_verify(agency=page_finding.agency).ok


def test_a_url_the_policy_refuses_is_recorded_as_refused_with_the_reason(
    no_screenshot, agency, bob, network, internal
) -> None:  # type: ignore[no-untyped-def]
    # Recording refuses such a URL too (tests/cases/test_record_refusal.py); one recorded
    # while the test switch was on, or before recording checked hosts, is still refused here.
    with override_settings(CAPTURE_ALLOW_LOOPBACK_FOR_TESTS=True):
        finding = make_finding(agency, f"http://127.0.0.1:{internal.port}/admin", actor=bob)

    capture = capture_run(
        capture_id=capture_request(finding=finding, actor=bob).pk, **network.kwargs
    )

    assert capture is not None and capture.status == CaptureStatus.REFUSED
    assert capture.outcome == "refused" and "loopback" in capture.error
    assert internal.hits == []
    # The refusal itself is documented: the visit record, and the WARC with its warcinfo
    # (also as a WACZ, without a page).
    assert set(Evidence.objects.filter(capture=capture).values_list("kind", flat=True)) == {
        "headers",
        "warc",
        "wacz",
    }
    finding.refresh_from_db()
    assert finding.status == FindingStatus.NEW


def test_a_redirect_into_our_network_is_refused_after_the_first_hop(
    no_screenshot, agency, bob, network, internal
) -> None:  # type: ignore[no-untyped-def]
    finding = make_finding(agency, site_url(f"/redirect-inside?port={internal.port}"), actor=bob)

    capture = capture_run(
        capture_id=capture_request(finding=finding, actor=bob).pk, **network.kwargs
    )

    assert capture is not None and capture.status == CaptureStatus.REFUSED
    assert internal.hits == []
    headers = json.loads(_read(Evidence.objects.get(capture=capture, kind="headers")))
    assert [hop["status"] for hop in headers["hops"]] == [302]


def test_an_unresolvable_host_fails_the_capture_with_a_reason(
    no_screenshot, agency, bob, network
) -> None:  # type: ignore[no-untyped-def]
    finding = make_finding(agency, "http://no-such-host.test/video/1", actor=bob)

    capture = capture_run(
        capture_id=capture_request(finding=finding, actor=bob).pk, **network.kwargs
    )

    assert capture is not None and capture.status == CaptureStatus.FAILED
    assert capture.outcome == "dns_error" and "could not be resolved" in capture.error


def test_requesting_a_capture_twice_while_it_is_queued_returns_the_same_capture(
    page_finding, bob
) -> None:  # type: ignore[no-untyped-def]
    first = capture_request(finding=page_finding, actor=bob)
    second = capture_request(finding=page_finding, actor=bob)

    assert first.pk == second.pk
    assert Capture.objects.filter(finding=page_finding).count() == 1


def test_a_capture_request_enqueues_the_task_on_the_capture_queue(
    page_finding, bob, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    with (
        mock.patch("cases.evidence.tasks.capture_run_task.delay") as delay,
        django_capture_on_commit_callbacks(execute=True),
    ):
        capture = capture_request(finding=page_finding, actor=bob)

    delay.assert_called_once_with(capture_id=capture.pk)
    from agencyguard.celery import app

    route = app.amqp.router.route({}, "cases.evidence.tasks.capture_run_task")
    assert route["queue"].name == "capture"


@pytest.mark.parametrize("page_cap", [25 * 1024 * 1024, 1000])
def test_a_direct_link_to_an_image_stores_the_image_itself_whole(
    no_screenshot, agency, bob, network, page_cap
) -> None:  # type: ignore[no-untyped-def]
    no_screenshot.CAPTURE_MAX_PAGE_BYTES = page_cap  # 1000: under the image's size
    finding = make_finding(agency, site_url("/img/hero.png"), actor=bob)

    capture = capture_run(
        capture_id=capture_request(finding=finding, actor=bob).pk, **network.kwargs
    )

    assert capture is not None and capture.status == CaptureStatus.DONE
    media = Evidence.objects.get(capture=capture, kind="media")
    assert media.sha256 == _sha(IMAGES["/img/hero.png"]) and media.media_type == "image/png"
    assert not Evidence.objects.filter(capture=capture, kind="html").exists()
