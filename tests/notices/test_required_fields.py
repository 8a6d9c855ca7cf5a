"""Done-when 1: sending a notice with a required field missing is refused with a message
naming the field, for each legal basis; a complete notice of each basis goes out."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any
from unittest import mock

import pytest

from cases.notices.bases import REQUIREMENTS
from cases.notices.defaults import default_template
from cases.notices.models import LegalBasis, Notice, NoticeStatus, SignerProfile
from cases.notices.services.errors import NoticeSendRefused
from cases.notices.services.sending import notice_send
from cases.notices.services.templates import notice_template_save

pytestmark = pytest.mark.django_db


def _blank_signer(*names: str) -> Callable[[Notice], None]:
    def apply(notice: Notice) -> None:
        SignerProfile.objects.filter(pk=notice.signer_id).update(**dict.fromkeys(names, ""))

    return apply


def _drop_statement(key: str) -> Callable[[Notice], None]:
    """An admin's edited template that leaves out one sworn statement."""

    def apply(notice: Notice) -> None:
        subject, body = default_template(notice.legal_basis, notice.language)
        notice_template_save(
            agency=notice.agency,
            legal_basis=notice.legal_basis,
            language=notice.language,
            subject=subject,
            body=body.replace("{{ statements." + key + " }}", ""),
            actor=None,
        )

    return apply


def _clear(**fields: Any) -> Callable[[Notice], None]:
    def apply(notice: Notice) -> None:
        Notice.objects.filter(pk=notice.pk).update(**fields)

    return apply


def _no_works(notice: Notice) -> None:
    notice.reference_media.clear()
    Notice.objects.filter(pk=notice.pk).update(original_work_description="")


def _no_findings(notice: Notice) -> None:
    notice.findings.clear()


def _no_artists(notice: Notice) -> None:
    for finding in notice.findings.all():
        finding.artists.clear()


# How to take away each requirement from a complete notice.
BREAK: dict[str, Callable[[Notice], None]] = {
    "urls": _no_findings,
    "signature": _blank_signer("signature_text"),
    "original_work": _no_works,
    "contact_address": _blank_signer("postal_address"),
    "contact_phone": _blank_signer("phone"),
    "contact_email": _blank_signer("email"),
    "contact": _blank_signer("email", "phone"),
    "good_faith_statement": _drop_statement("good_faith"),
    "accuracy_statement": _drop_statement("accuracy"),
    "bona_fide_statement": _drop_statement("bona_fide"),
    "non_consent_statement": _drop_statement("non_consent"),
    "explanation": _clear(explanation=""),
    "notifier_name": _blank_signer("full_name"),
    "notifier_email": _blank_signer("email"),
    "requester_identity": _blank_signer("organisation"),
    "rights_holder": _no_artists,
    "deletion_request_statement": _drop_statement("deletion_request"),
    "authorised_statement": _drop_statement("authorised_for_individual"),
}
CASES = [
    pytest.param(basis, req.key, str(req.label), id=f"{basis}-{req.key}")
    for basis, requirements in REQUIREMENTS.items()
    for req in requirements
]


def test_every_requirement_of_every_basis_has_a_way_to_break_it() -> None:
    keys = {req.key for requirements in REQUIREMENTS.values() for req in requirements}
    assert keys <= set(BREAK)
    assert set(REQUIREMENTS) == set(LegalBasis.values)


@pytest.mark.parametrize("language", ["en", "ko"])
@pytest.mark.parametrize(("basis", "key", "label"), CASES)
def test_sending_with_a_required_field_missing_is_refused_naming_it(
    make_notice, mailoutbox, basis, key, label, language
) -> None:  # type: ignore[no-untyped-def]
    notice = make_notice(basis, language)
    BREAK[key](notice)

    with pytest.raises(NoticeSendRefused) as refused:
        notice_send(notice=Notice.objects.get(pk=notice.pk), actor=notice.created_by)

    assert key in [req.key for req in refused.value.missing]
    assert label in str(refused.value)
    notice.refresh_from_db()
    assert notice.status == NoticeStatus.DRAFT and notice.rendered_sha256 == ""
    assert mailoutbox == []


@pytest.mark.parametrize("language", ["en", "ko"])
@pytest.mark.parametrize("basis", LegalBasis.values)
def test_a_complete_notice_of_each_basis_is_sent(make_notice, mailoutbox, basis, language) -> None:  # type: ignore[no-untyped-def]
    notice = notice_send(notice=make_notice(basis, language), actor=None)

    assert notice.status == NoticeStatus.SENT
    (message,) = mailoutbox
    assert message.to == ["abuse@site.test"]
    assert message.body == notice.rendered_body
    assert message.extra_headers["Message-ID"] == notice.message_id
    assert "http://site.test/gone" in notice.rendered_body


def test_the_dsa_name_and_email_are_waived_for_child_sexual_abuse_notices(
    make_notice, mailoutbox
) -> None:  # type: ignore[no-untyped-def]
    notice = make_notice(LegalBasis.EU_DSA_16, csam_waiver=True)
    _blank_signer("full_name", "email")(notice)

    sent = notice_send(notice=Notice.objects.get(pk=notice.pk), actor=None)

    assert sent.status == NoticeStatus.SENT


def test_an_email_notice_needs_the_platforms_address(make_notice, host_platform) -> None:  # type: ignore[no-untyped-def]
    notice = make_notice(LegalBasis.PLATFORM_POLICY)
    host_platform.abuse_email = ""
    host_platform.save()

    with pytest.raises(NoticeSendRefused, match="notice e-mail address"):
        notice_send(notice=Notice.objects.get(pk=notice.pk), actor=None)


def test_the_trusted_flagger_channel_goes_to_the_flagger_address(make_notice, mailoutbox) -> None:  # type: ignore[no-untyped-def]
    notice = notice_send(
        notice=make_notice(LegalBasis.EU_DSA_16, channel="trusted_flagger"), actor=None
    )
    assert notice.recipient == "flagger@site.test"
    assert mailoutbox[0].to == ["flagger@site.test"]


def test_the_send_button_page_lists_what_is_missing(client, bob, make_notice) -> None:  # type: ignore[no-untyped-def]
    notice = make_notice(LegalBasis.DMCA_512C3)
    _no_works(notice)
    client.force_login(bob)

    page = client.get(f"/notices/{notice.pk}/").content.decode()
    assert 'data-missing="original_work"' in page

    response = client.post(f"/notices/{notice.pk}/send/", follow=True)
    assert "identification of the original work" in response.content.decode()
    notice.refresh_from_db()
    assert notice.status == NoticeStatus.DRAFT


def test_rendering_the_notice_pdf_leaves_pillows_truncated_image_check_on(make_notice) -> None:  # type: ignore[no-untyped-def]
    from PIL import ImageFile

    from cases.notices.services.drafts import notice_render
    from cases.notices.services.sending import notice_document

    notice = make_notice(LegalBasis.KCSC)
    before = ImageFile.LOAD_TRUNCATED_IMAGES
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    try:
        with mock.patch.dict(sys.modules):
            fresh = [
                m for m in sys.modules if m.startswith("weasyprint") or m == "cases.kernel.pdf"
            ]
            for name in fresh:
                del sys.modules[name]  # a fresh import is what sets the flag
            notice_document(notice, notice_render(notice))
        assert ImageFile.LOAD_TRUNCATED_IMAGES is False
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = before
