"""Removal only on positive evidence (issue 9). An unreachable URL (DNS failure, connection
error, a 5xx: anything on the collector's side) says nothing about the content and never
moves a finding; a removal (404/410/451 or a platform's own "content unavailable" page)
moves it only when a second observation at least CAPTURE_REMOVAL_CONFIRM_MINUTES later
agrees, and reappearance needs the same in reverse."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine

from cases.models import FindingStatus, NoticeStatus
from cases.services.captures import capture_request, capture_run
from cases.services.notices import notice_create
from tests.capture.capture_site import FakeNetwork
from tests.factories import make_finding

pytestmark = pytest.mark.django_db

T0 = datetime(2025, 6, 2, 9, 0, tzinfo=UTC)


def _offline(host: str, port: int) -> list[str]:
    import socket

    raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")


def test_capture_now_with_the_collector_offline_leaves_the_finding_and_its_notices(
    no_screenshot, agency, bob, site
) -> None:  # type: ignore[no-untyped-def]
    network = FakeNetwork(site.port)
    with time_machine.travel(T0, tick=False):
        finding = make_finding(agency, "https://www.youtube.com/watch?v=offline", actor=bob)
        from cases.services.findings import finding_set_status

        finding = finding_set_status(finding=finding, status="captured", actor=bob)
        notice = notice_create(
            agency=agency, actor=bob, findings=[finding], legal_basis="platform_policy"
        )
        finding = finding_set_status(finding=finding, status="notice_sent", actor=bob)
        from cases.models import Notice

        Notice.objects.filter(pk=notice.pk).update(
            status=NoticeStatus.SENT, rendered_sha256="0" * 64
        )
        capture = capture_run(
            capture_id=capture_request(finding=finding, actor=bob).pk,
            resolver=_offline,
            connector=network.connector,
        )
    assert capture is not None and capture.outcome == "dns_error"
    finding.refresh_from_db()
    notice.refresh_from_db()
    assert finding.status == FindingStatus.NOTICE_SENT
    assert notice.status == NoticeStatus.SENT
