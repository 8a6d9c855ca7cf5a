"""The notice pages: create from the triage queue, edit, send, the web-form checklist,
signer profile, template editor and webhooks (admins), the list with overdue notices."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from cases.agency.models import Platform
from cases.intake.services.findings import finding_set_status
from cases.notices.models import Notice, NoticeStatus, NoticeTemplate, Webhook
from cases.notices.services.sending import notice_send

pytestmark = pytest.mark.django_db


def test_the_triage_queue_offers_create_notice_and_the_form_lists_the_findings(
    client, bob, hosted_finding, signer
) -> None:  # type: ignore[no-untyped-def]
    client.force_login(bob)
    assert "data-create-notice" in client.get("/findings/").content.decode()
    page = client.post("/notices/new/", {"ids": [hosted_finding.pk], "status": "new"})
    assert page.status_code == 200
    text = page.content.decode()
    assert "http://site.test/gone" in text and 'name="legal_basis"' in text


def test_legal_staff_create_a_draft_and_see_its_preview(
    client, bob, hosted_finding, signer, reference
) -> None:  # type: ignore[no-untyped-def]
    client.force_login(bob)
    response = client.post(
        "/notices/new/",
        {
            "ids": [hosted_finding.pk],
            "legal_basis": "dmca_512c3",
            "language": "ko",
            "signer": signer.pk,
            "reference_media": [reference.pk],
            "explanation": "딥페이크",
        },
    )
    notice = Notice.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/notices/{notice.pk}/"
    page = client.get(response["Location"]).content.decode()
    assert "data-notice-body" in page and "저작권 침해 통지" in page
    assert "data-missing-fields" not in page


def test_sending_from_the_page_stores_the_text_and_shows_it(
    client, bob, make_notice, mailoutbox
) -> None:  # type: ignore[no-untyped-def]
    notice = make_notice("eu_dsa_16")
    client.force_login(bob)
    client.post(f"/notices/{notice.pk}/send/")
    notice.refresh_from_db()
    assert notice.status == NoticeStatus.SENT and len(mailoutbox) == 1
    page = client.get(f"/notices/{notice.pk}/").content.decode()
    assert notice.rendered_sha256 in page and notice.message_id.strip("<>") in page


def test_a_sent_notice_is_frozen(make_notice) -> None:  # type: ignore[no-untyped-def]
    notice = notice_send(notice=make_notice("kcsc"), actor=None)
    notice.rendered_body = "changed"
    with pytest.raises(RuntimeError, match="fixed once the notice is sent"):
        notice.save()
    with pytest.raises(RuntimeError):
        notice.delete()


def test_a_web_form_notice_becomes_a_checklist_with_reference_number(
    client, bob, make_notice, host_platform, mailoutbox
) -> None:  # type: ignore[no-untyped-def]
    Platform.objects.filter(pk=host_platform.pk).update(web_form_url="https://site.test/report")
    notice = make_notice("platform_policy", channel="web_form")
    client.force_login(bob)
    response = client.post(f"/notices/{notice.pk}/send/")
    assert response["Location"] == f"/notices/{notice.pk}/checklist/"
    assert mailoutbox == []  # staff submit the form by hand
    page = client.get(response["Location"]).content.decode()
    notice.refresh_from_db()
    # Final, but not sent: nobody has submitted the platform's form yet (issue 9).
    assert notice.status == NoticeStatus.AWAITING_SUBMISSION and notice.message_id == ""
    assert notice.sent_at is None
    assert "https://site.test/report" in page and "data-copy-target" in page
    assert f"/notices/{notice.pk}/download/" in page
    download = client.get(f"/notices/{notice.pk}/download/?file=text")
    assert notice.rendered_body in download.content.decode()

    client.post(f"/notices/{notice.pk}/submission/", {"platform_reference": "WF-777"})
    notice.refresh_from_db()
    assert notice.status == NoticeStatus.SENT and notice.platform_reference == "WF-777"
    client.post(f"/notices/{notice.pk}/status/", {"action": "acknowledge"})
    notice.refresh_from_db()
    assert notice.status == NoticeStatus.ACKNOWLEDGED


def test_the_list_filters_and_highlights_overdue_notices(client, carol, make_notice) -> None:  # type: ignore[no-untyped-def]
    overdue = notice_send(notice=make_notice("take_it_down"), actor=None)
    Notice.objects.filter(pk=overdue.pk).update(due_at=timezone.now() - timedelta(hours=1))
    draft = make_notice("dmca_512c3")
    client.force_login(carol)
    page = client.get("/notices/").content.decode()
    assert f'data-notice-id="{overdue.pk}" class="overdue" data-overdue' in page
    only = client.get("/notices/?status=overdue").content.decode()
    assert f'data-notice-id="{overdue.pk}"' in only and f'data-notice-id="{draft.pk}"' not in only
    by_basis = client.get("/notices/?basis=dmca_512c3").content.decode()
    assert (
        f'data-notice-id="{draft.pk}"' in by_basis
        and f'data-notice-id="{overdue.pk}"' not in by_basis
    )


def test_viewers_cannot_create_or_send(client, carol, make_notice, hosted_finding) -> None:  # type: ignore[no-untyped-def]
    notice = make_notice("dmca_512c3")
    client.force_login(carol)
    assert client.get(f"/notices/new/?ids={hosted_finding.pk}").status_code == 403
    assert client.post(f"/notices/{notice.pk}/send/").status_code == 403
    assert Notice.objects.get(pk=notice.pk).status == NoticeStatus.DRAFT


def test_a_signer_keeps_their_profile(client, bob) -> None:  # type: ignore[no-untyped-def]
    client.force_login(bob)
    client.post(
        "/notices/signer/",
        {"full_name": "Bob Lee", "email": "bob@aurora.example", "signature_text": "/Bob Lee/"},
    )
    assert bob.signer_profiles.get().signature_text == "/Bob Lee/"


def test_only_admins_edit_templates_and_a_broken_template_is_refused(client, alice, bob) -> None:  # type: ignore[no-untyped-def]
    client.force_login(bob)
    assert client.get("/notices/templates/").status_code == 403
    client.force_login(alice)
    url = "/notices/templates/edit/?basis=kcsc&language=ko"
    assert "방송통신심의위원회" in client.get(url).content.decode()
    bad = client.post(
        "/notices/templates/edit/",
        {"basis": "kcsc", "language": "ko", "subject": "x", "body": "{% if %}"},
    )
    assert bad.status_code == 200 and "error" in bad.content.decode()
    client.post(
        "/notices/templates/edit/",
        {"basis": "kcsc", "language": "ko", "subject": "신청", "body": "{{ urls|join:', ' }}"},
    )
    assert NoticeTemplate.objects.get().subject == "신청"
    client.post("/notices/templates/edit/", {"basis": "kcsc", "language": "ko", "reset": "1"})
    assert not NoticeTemplate.objects.exists()


def test_templates_cannot_reach_beyond_their_context(make_notice, agency) -> None:  # type: ignore[no-untyped-def]
    from cases.notices.services.drafts import notice_render
    from cases.notices.services.errors import NoticeError
    from cases.notices.services.templates import notice_template_save

    for body in ("{% load static %}x", '{% include "base.html" %}', "{% if %}", "{% debug %}"):
        with pytest.raises(NoticeError):
            notice_template_save(
                agency=agency, legal_basis="kcsc", language="en", subject="s", body=body, actor=None
            )
    notice_template_save(
        agency=agency,
        legal_basis="kcsc",
        language="en",
        subject="{{ notice.agency.memberships.all }}{{ agency.pk }}",
        body="{{ settings.SECRET_KEY }}{{ signer.user.password }}|{{ urls.0 }}",
        actor=None,
    )
    rendered = notice_render(make_notice("kcsc"))
    # Only plain strings and lists: nothing reaches a model, a setting or a password.
    assert rendered.subject == ""
    assert rendered.body == "|http://site.test/gone\n"


def test_admins_manage_webhooks(client, alice, bob) -> None:  # type: ignore[no-untyped-def]
    client.force_login(bob)
    assert client.get("/webhooks/").status_code == 403
    client.force_login(alice)
    client.post(
        "/webhooks/new/",
        {"url": "https://partner.example/hook", "events": ["notice.sent"], "active": "on"},
    )
    hook = Webhook.objects.get()
    assert hook.events == ["notice.sent"] and len(hook.secret) == 64
    refused = client.post(
        "/webhooks/new/", {"url": "http://169.254.169.254/", "events": ["notice.sent"]}
    )
    assert "cannot receive webhooks" in refused.content.decode()
    old = hook.secret
    client.post(
        f"/webhooks/{hook.pk}/edit/",
        {"url": hook.url, "events": ["notice.sent"], "rotate_secret": "on"},
    )
    hook.refresh_from_db()
    assert hook.secret != old and hook.active is False


def test_the_sidebar_links_notices_and_statistics_in_korean(client, carol) -> None:  # type: ignore[no-untyped-def]
    client.force_login(carol)
    page = client.get("/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'href="/notices/"' in page and 'href="/stats/"' in page


def test_a_removal_closes_its_open_notices_as_actioned(make_notice, hosted_finding, bob) -> None:  # type: ignore[no-untyped-def]
    notice = notice_send(notice=make_notice("dmca_512c3"), actor=None)
    draft = make_notice("kcsc")
    finding_set_status(finding=hosted_finding, status="removed", actor=bob)
    notice.refresh_from_db()
    draft.refresh_from_db()
    assert notice.status == NoticeStatus.ACTIONED and draft.status == NoticeStatus.DRAFT


def test_the_final_host_after_redirects_decides_the_platform(agency, bob, host_platform) -> None:  # type: ignore[no-untyped-def]
    from cases.intake.services.findings import finding_platform_refresh
    from tests.factories import make_finding

    Platform.objects.filter(pk=host_platform.pk).update(cdn_domains=["cdn.hostcdn.test"])
    finding = make_finding(agency, "https://bit.ly/abc", actor=bob)
    assert finding.platform_id is None
    finding_platform_refresh(finding=finding, final_url="https://media.cdn.hostcdn.test/v/1.mp4")
    finding.refresh_from_db()
    assert finding.platform_id == host_platform.pk
    finding_platform_refresh(finding=finding, final_url="https://www.youtube.com/watch?v=1")
    finding.refresh_from_db()
    assert finding.platform.name == "YouTube"
