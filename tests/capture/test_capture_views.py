"""The capture pages: request from the finding page, the htmx progress partial with a real
progress bar, the capture record, and tenancy (an outsider gets 404 everywhere)."""

from __future__ import annotations

from unittest import mock

import pytest
from django.urls import reverse

from cases.evidence.models import Capture, CaptureStatus
from cases.evidence.services.captures import capture_request, capture_run
from cases.kernel.jobs import job_fail
from cases.kernel.models import AuditEvent
from tests.capture.capture_site import site_url
from tests.factories import make_finding

pytestmark = pytest.mark.django_db


@pytest.fixture
def page_finding(agency, bob):  # type: ignore[no-untyped-def]
    return make_finding(agency, site_url("/page"), actor=bob)


def test_legal_staff_request_a_capture_from_the_finding_page(client, bob, page_finding) -> None:  # type: ignore[no-untyped-def]
    client.force_login(bob)

    response = client.post(reverse("capture_request", args=[page_finding.pk]))

    assert response.status_code == 302
    assert response["Location"].endswith(f"/findings/{page_finding.pk}/#captures")
    capture = Capture.objects.get(finding=page_finding)
    assert capture.status == CaptureStatus.QUEUED and capture.collector == bob


def test_an_htmx_capture_request_returns_the_panel_with_a_progress_bar(
    client, bob, page_finding
) -> None:  # type: ignore[no-untyped-def]
    client.force_login(bob)

    response = client.post(
        reverse("capture_request", args=[page_finding.pk]), HTTP_HX_REQUEST="true"
    )

    body = response.content.decode()
    capture = Capture.objects.get(finding=page_finding)
    assert response.status_code == 200
    assert 'id="captures"' in body and "<progress" in body
    assert reverse("capture_progress", args=[capture.pk]) in body
    assert "Waiting for a worker" in body


def test_a_viewer_cannot_request_a_capture(client, carol, page_finding) -> None:  # type: ignore[no-untyped-def]
    client.force_login(carol)

    assert client.post(reverse("capture_request", args=[page_finding.pk])).status_code == 403
    assert not Capture.objects.exists()
    panel = client.get(reverse("capture_panel", args=[page_finding.pk]))
    assert panel.status_code == 200 and "Capture now" not in panel.content.decode()


def test_the_progress_partial_polls_while_running_and_stops_when_done(
    client, bob, page_finding
) -> None:  # type: ignore[no-untyped-def]
    capture = capture_request(finding=page_finding, actor=bob)
    Capture.objects.filter(pk=capture.pk).update(
        status=CaptureStatus.RUNNING, progress=42, step="screenshot"
    )
    client.force_login(bob)
    url = reverse("capture_progress", args=[capture.pk])

    running = client.get(url, HTTP_HX_REQUEST="true")
    assert running.status_code == 200
    body = running.content.decode()
    assert '<progress max="100" value="42"' in body
    assert "Taking the full-page screenshot" in body
    assert 'hx-trigger="every 1s"' in body
    assert "HX-Trigger" not in running

    Capture.objects.filter(pk=capture.pk).update(
        status=CaptureStatus.DONE, progress=100, step="done"
    )
    done = client.get(url, HTTP_HX_REQUEST="true")
    assert done["HX-Trigger"] == "capture-finished"
    assert "every 1s" not in done.content.decode()


def test_the_capture_record_lists_its_evidence_with_hashes(
    no_screenshot, client, bob, page_finding, network
) -> None:  # type: ignore[no-untyped-def]
    capture = capture_run(
        capture_id=capture_request(finding=page_finding, actor=bob).pk, **network.kwargs
    )
    assert capture is not None
    client.force_login(bob)

    response = client.get(reverse("capture_detail", args=[capture.pk]))

    body = response.content.decode()
    assert response.status_code == 200
    for item in capture.details["artefacts"]:
        assert item["sha256"] in body
        assert reverse("evidence_detail", args=[item["evidence"]]) in body
    assert "93.184.216.34" in body and "127.0.0.1" in body
    assert "AgencyGuard capture" in body
    panel = client.get(reverse("capture_panel", args=[page_finding.pk])).content.decode()
    assert f'data-capture-id="{capture.pk}"' in panel


def test_a_failed_capture_says_why_and_offers_another_try(
    no_screenshot, client, bob, agency, network
) -> None:  # type: ignore[no-untyped-def]
    finding = make_finding(agency, "http://no-such-host.test/x", actor=bob)
    capture = capture_run(
        capture_id=capture_request(finding=finding, actor=bob).pk, **network.kwargs
    )
    client.force_login(bob)

    body = client.get(reverse("capture_detail", args=[capture.pk])).content.decode()

    assert "could not be resolved" in body
    assert reverse("capture_request", args=[finding.pk]) in body
    client.post(reverse("capture_request", args=[finding.pk]))
    assert Capture.objects.filter(finding=finding).count() == 2


def test_outsider_gets_404_for_every_capture_page(client, mallory, bob, page_finding) -> None:  # type: ignore[no-untyped-def]
    capture = capture_request(finding=page_finding, actor=bob)
    client.force_login(mallory)

    assert client.get(reverse("capture_detail", args=[capture.pk])).status_code == 404
    assert client.get(reverse("capture_progress", args=[capture.pk])).status_code == 404
    assert client.get(reverse("capture_panel", args=[page_finding.pk])).status_code == 404
    assert client.post(reverse("capture_request", args=[page_finding.pk])).status_code == 404
    assert Capture.objects.count() == 1


def test_anonymous_visitors_are_sent_to_log_in(client, bob, page_finding) -> None:  # type: ignore[no-untyped-def]
    capture = capture_request(finding=page_finding, actor=bob)

    response = client.get(reverse("capture_detail", args=[capture.pk]))

    assert response.status_code == 302 and "/login/" in response["Location"]


def _finished_capture(finding, **browser):  # type: ignore[no-untyped-def]
    return Capture.objects.create(
        agency=finding.agency,
        finding=finding,
        requested_url=finding.url,
        final_url=finding.url,
        status=CaptureStatus.DONE,
        progress=100,
        details={"browser": {"chromium": "1", "request_count": 1, "frozen": True, **browser}},
    )


def test_the_capture_page_lists_what_the_page_did_and_the_address_it_showed(
    client, bob, page_finding
) -> None:  # type: ignore[no-untyped-def]
    client.force_login(bob)
    pushed = _finished_capture(
        page_finding,
        displayed_url=site_url("/pushed"),
        document_rewritten=True,
        navigations=[
            {"action": "loaded", "url": site_url("/page"), "at_ms": 900, "reason": ""},
            {"action": "blocked", "url": site_url("/elsewhere"), "at_ms": 1300,
             "reason": "metaTagRefresh"},
            {"action": "same_document", "url": site_url("/pushed"), "at_ms": 1400},
        ],
    )  # fmt: skip
    plain = _finished_capture(
        page_finding,
        displayed_url=site_url("/page"),
        document_rewritten=False,
        navigations=[{"action": "loaded", "url": site_url("/page"), "at_ms": 900}],
    )

    body = client.get(reverse("capture_detail", args=[pushed.pk])).content.decode()
    assert f"data-displayed-url>{site_url('/pushed')}<" in body
    assert "data-address-changed" in body and "data-document-rewritten" in body
    assert 'data-action="blocked"' in body and site_url("/elsewhere") in body
    assert "metaTagRefresh" in body and "Navigation blocked" in body
    # The contrary case: a page that stayed put gets no such statement.
    body = client.get(reverse("capture_detail", args=[plain.pk])).content.decode()
    assert f"data-displayed-url>{site_url('/page')}<" in body
    assert "data-address-changed" not in body and "data-document-rewritten" not in body
    assert 'data-action="blocked"' not in body


def _given_up(finding, bob) -> Capture:  # type: ignore[no-untyped-def]
    """A capture whose task gave up before the visit (retries exhausted)."""
    capture = capture_request(finding=finding, actor=bob)
    job_fail(model=Capture, pk=capture.pk, error="OperationalError: database went away")
    capture.refresh_from_db()
    return capture


def test_legal_staff_retry_a_capture_whose_worker_gave_up(
    client, bob, page_finding, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    capture = _given_up(page_finding, bob)
    client.force_login(bob)
    body = client.get(reverse("capture_detail", args=[capture.pk])).content.decode()
    assert reverse("capture_retry", args=[capture.pk]) in body
    panel = client.get(reverse("capture_panel", args=[page_finding.pk])).content.decode()
    assert reverse("capture_retry", args=[capture.pk]) in panel

    with (
        mock.patch("cases.evidence.tasks.capture_run_task.delay") as delay,
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = client.post(reverse("capture_retry", args=[capture.pk]))

    assert response.status_code == 302
    delay.assert_called_once_with(capture_id=capture.pk)
    capture.refresh_from_db()
    assert (capture.status, capture.error, capture.attempts) == (CaptureStatus.QUEUED, "", 0)
    assert Capture.objects.filter(finding=page_finding).count() == 1  # the same row
    event = AuditEvent.objects.get(action="capture.retried", object_id=str(capture.pk))
    assert event.actor_id == bob.pk and event.data["finding"] == page_finding.pk
    assert "database went away" in event.data["error"]


def test_a_visit_that_failed_is_a_record_and_is_not_retried(
    no_screenshot, client, bob, agency, network
) -> None:  # type: ignore[no-untyped-def]
    finding = make_finding(agency, "http://no-such-host.test/x", actor=bob)
    capture = capture_run(
        capture_id=capture_request(finding=finding, actor=bob).pk, **network.kwargs
    )
    assert capture is not None and capture.status == CaptureStatus.FAILED
    client.force_login(bob)
    body = client.get(reverse("capture_detail", args=[capture.pk])).content.decode()
    assert reverse("capture_retry", args=[capture.pk]) not in body

    client.post(reverse("capture_retry", args=[capture.pk]))

    capture.refresh_from_db()
    assert capture.status == CaptureStatus.FAILED and capture.outcome == "dns_error"
    assert not AuditEvent.objects.filter(action="capture.retried").exists()


def test_a_retry_is_refused_while_another_capture_of_the_finding_is_active(
    client, bob, page_finding
) -> None:  # type: ignore[no-untyped-def]
    capture = _given_up(page_finding, bob)
    active = capture_request(finding=page_finding, actor=bob)
    client.force_login(bob)

    response = client.post(reverse("capture_retry", args=[capture.pk]), follow=True)

    assert f"Capture #{active.pk} of this finding is already queued or running." in (
        response.content.decode()
    )
    capture.refresh_from_db()
    assert capture.status == CaptureStatus.FAILED


def test_a_viewer_cannot_retry_a_capture(client, carol, bob, page_finding) -> None:  # type: ignore[no-untyped-def]
    capture = _given_up(page_finding, bob)
    client.force_login(carol)
    body = client.get(reverse("capture_detail", args=[capture.pk])).content.decode()
    assert reverse("capture_retry", args=[capture.pk]) not in body

    assert client.post(reverse("capture_retry", args=[capture.pk])).status_code == 403
    capture.refresh_from_db()
    assert capture.status == CaptureStatus.FAILED


def test_outsider_gets_404_when_retrying_a_capture(client, mallory, bob, page_finding) -> None:  # type: ignore[no-untyped-def]
    capture = _given_up(page_finding, bob)
    client.force_login(mallory)

    assert client.post(reverse("capture_retry", args=[capture.pk])).status_code == 404
    capture.refresh_from_db()
    assert capture.status == CaptureStatus.FAILED
