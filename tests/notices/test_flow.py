"""Done-when 2, the whole flow: findings on one platform → notices rendered in Korean and
English → sent through a real SMTP server on loopback → every required element arrives →
acknowledged → the scheduled re-check sees the content gone → notices actioned, finding
removed, and the timeline tells it all."""

from __future__ import annotations

import email
import email.policy
import hashlib
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from aiosmtpd.controller import Controller

from cases.evidence.models import CustodyEvent, EvidenceKind
from cases.evidence.services.captures import capture_run, recheck_due_findings
from cases.evidence.services.evidence import evidence_ingest
from cases.intake.models import FindingStatus
from cases.kernel.models import AuditEvent
from cases.notices.models import NoticeStatus
from cases.notices.services.drafts import notice_render
from cases.notices.services.outcomes import notice_acknowledge
from cases.notices.services.sending import notice_send
from tests.capture.capture_site import FakeNetwork, SuspectSite
from tests.notices.conftest import EXPLANATION, SIGNER

pytestmark = pytest.mark.django_db

T0 = datetime(2025, 6, 2, 9, 0, tzinfo=UTC)


class Inbox:
    """An aiosmtpd handler keeping every message it receives."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], bytes]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((list(envelope.rcpt_tos), envelope.original_content))
        return "250 Message accepted for delivery"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def smtp(settings) -> Iterator[Inbox]:  # type: ignore[no-untyped-def]
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", controller.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.NOTICE_MESSAGE_ID_DOMAIN = "agencyguard.test"
    yield inbox
    controller.stop()


@pytest.fixture
def site() -> Iterator[SuspectSite]:
    suspect = SuspectSite().start()
    yield suspect
    suspect.stop()


def _has_weasyprint() -> bool:
    try:
        import weasyprint  # noqa: F401
    except (ImportError, OSError):
        return False
    return True


def _received(inbox: Inbox, message_id: str) -> email.message.EmailMessage:
    for _rcpt, raw in inbox.messages:
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        # A long Message-ID may be folded onto a second line on the wire.
        if "".join(str(parsed["Message-ID"]).split()) == message_id:
            return parsed  # type: ignore[return-value]
    raise AssertionError(f"no message {message_id} arrived")


def test_a_notice_goes_from_findings_to_actioned_through_real_smtp_and_a_recheck(
    settings, smtp, site, agency, alice, bob, signer, hosted_finding, reference, make_notice
) -> None:  # type: ignore[no-untyped-def]
    settings.CAPTURE_SCREENSHOT = False
    settings.CAPTURE_ALLOW_LOOPBACK_FOR_TESTS = False
    network = FakeNetwork(site.port)
    screenshot, _ = evidence_ingest(
        agency=agency,
        data=b"\x89PNG\r\n\x1a\n screenshot of the page",
        kind=EvidenceKind.SCREENSHOT,
        collected_by=bob,
        finding=hosted_finding,
        original_name="page.png",
    )
    explicit, _ = evidence_ingest(
        agency=agency, data=b"explicit media", kind=EvidenceKind.MEDIA, finding=hosted_finding
    )

    with time_machine.travel(T0, tick=False):
        korean = make_notice("dmca_512c3", "ko", attachments=[screenshot])
        english = make_notice("dmca_512c3", "en", attachments=[screenshot])
        preview_ko = notice_render(korean)
        assert "저작권 침해 통지" in preview_ko.subject and "선의로 믿습니다" in preview_ko.body
        korean = notice_send(notice=korean, actor=bob)
        english = notice_send(notice=english, actor=bob)

    hosted_finding.refresh_from_db()
    assert hosted_finding.status == FindingStatus.NOTICE_SENT
    assert len(smtp.messages) == 2
    for notice, statements in (
        (korean, ["본인은 위 자료를 문제된 방식으로", "위증 시 처벌을 감수하고"]),
        (english, ["I have a good faith belief", "under penalty of perjury"]),
    ):
        received = _received(smtp, notice.message_id)
        assert received["To"] == "abuse@site.test"
        # Encoded words may be folded on the wire: compare the decoded words.
        subject = " ".join(str(received["Subject"]).split())
        assert subject == notice.rendered_subject
        text = received.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
        assert text.replace("\r\n", "\n") == notice.rendered_body
        digest = hashlib.sha256(
            f"Subject: {subject}\n\n{text.replace(chr(13), '')}".encode()
        ).hexdigest()
        assert digest == notice.rendered_sha256
        # Every element 17 U.S.C. § 512(c)(3)(A) asks for is in the message that arrived.
        for element in [
            SIGNER["signature_text"],  # (i) signature
            "Official MV 'Starlight' (2024)",  # (ii) the original work
            "http://site.test/gone",  # (iii) the infringing material
            SIGNER["postal_address"],  # (iv) contact: address,
            SIGNER["phone"],  # telephone,
            SIGNER["email"],  # and e-mail
            *statements,  # (v) good faith, (vi) accuracy and authority under perjury
            EXPLANATION,
        ]:
            assert element in text, element
        names = [part.get_filename() for part in received.iter_attachments()]
        # A PDF when WeasyPrint is installed, otherwise the same document as HTML.
        document = f"notice-{notice.pk}.pdf" if _has_weasyprint() else f"notice-{notice.pk}.html"
        assert document in names
        assert any(name and name.startswith(f"evidence-{screenshot.pk}-") for name in names)
        assert not any(name and name.startswith(f"evidence-{explicit.pk}") for name in names)
    assert CustodyEvent.objects.filter(evidence=screenshot, action="transferred").count() == 2

    with time_machine.travel(T0 + timedelta(hours=2), tick=False):
        korean = notice_acknowledge(notice=korean, actor=bob, platform_reference="CASE-123")
        english = notice_acknowledge(notice=english, actor=bob, platform_reference="CASE-124")

    # The scheduled re-check of a "notice sent" finding (every 6 h) finds a 404, and the
    # confirming re-check CAPTURE_REMOVAL_CONFIRM_MINUTES later finds it again.
    confirmed_at = T0 + timedelta(hours=7, minutes=settings.CAPTURE_REMOVAL_CONFIRM_MINUTES)
    for moment in (T0 + timedelta(hours=7), confirmed_at):
        with time_machine.travel(moment, tick=False):
            (capture_id,) = recheck_due_findings()
            capture = capture_run(capture_id=capture_id, **network.kwargs)
        assert capture is not None and capture.http_status == 404
        assert capture.observation == "removed"

    hosted_finding.refresh_from_db()
    assert hosted_finding.status == FindingStatus.REMOVED
    for notice in (korean, english):
        notice.refresh_from_db()
        assert notice.status == NoticeStatus.ACTIONED
        assert notice.proof_capture_id == capture.pk
        assert notice.closed_at == confirmed_at

    finding_actions = list(
        AuditEvent.objects.filter(object_type="finding", object_id=str(hosted_finding.pk))
        .order_by("seq")
        .values_list("action", "data")
    )
    assert finding_actions[0][0] == "finding.recorded"
    assert [d.get("to") for a, d in finding_actions if a == "finding.status_changed"] == [
        "captured",
        "notice_sent",
        "removed",
    ]
    for notice in (korean, english):
        actions = list(
            AuditEvent.objects.filter(object_type="notice", object_id=str(notice.pk))
            .order_by("seq")
            .values_list("action", flat=True)
        )
        assert actions == [
            "notice.created",
            "notice.sent",
            "notice.acknowledged",
            "notice.actioned",
        ]
    assert AuditEvent.objects.filter(action="capture.finished", object_id=str(capture.pk)).exists()
