"""Issue 9: each legal basis's default notice carries the statements that basis needs and
none of another basis's (../shared/legal-fields.md). The phrases are written out here, not
taken from the product's own tables, so a change of wording has to be made on purpose."""

from __future__ import annotations

import hashlib
import importlib

import pytest
from django.utils import translation

from cases.notices.defaults import default_template
from cases.notices.models import LegalBasis, NoticeTemplate
from cases.notices.services.drafts import notice_foreign_wording, notice_render
from cases.notices.services.sending import notice_send
from cases.notices.services.templates import notice_template_save

pytestmark = pytest.mark.django_db

# What must appear in the rendered notice, per basis and language (lower-cased match).
REQUIRED: dict[str, dict[str, list[str]]] = {
    LegalBasis.DMCA_512C3: {
        "en": [
            "17 u.s.c. § 512(c)(3)",
            "good faith belief that use of the material",
            "not authorized by the copyright owner, its agent, or the law",
            "information in this notification is accurate",
            "under penalty of perjury",
            "authorized to act on behalf of the owner of an exclusive right",
            "official mv 'starlight' (2024)",  # the copyrighted work
            "http://site.test/gone",
            "/kim minji/",
            "12 teheran-ro",
            "+82 2 555 0100",
            "legal@aurora.example",
        ],
        "ko": [
            "17 u.s.c. § 512(c)(3)",
            "선의로 믿습니다",
            "정보는 정확",
            "위증",
            "배타적 권리",
            "official mv 'starlight' (2024)",
            "http://site.test/gone",
            "/kim minji/",
            "12 teheran-ro",
            "+82 2 555 0100",
            "legal@aurora.example",
        ],
    },
    LegalBasis.EU_DSA_16: {
        "en": [
            "article 16",
            "why the content is illegal",
            "a sexual deepfake of our artist",  # the substantiated explanation
            "http://site.test/gone",
            "kim minji",
            "legal@aurora.example",
            "bona fide belief",
            "accurate and complete",
        ],
        "ko": [
            "제16조",
            "불법인 이유",
            "a sexual deepfake of our artist",
            "http://site.test/gone",
            "kim minji",
            "legal@aurora.example",
            "선의",
            "정확하고 완전",
        ],
    },
    LegalBasis.KR_NETWORK_ACT_44_2: {
        "en": [
            "article 44-2",
            "yuna",  # the person whose rights are infringed
            "privacy",
            "defamation",
            "supporting evidence",
            "a sexual deepfake of our artist",  # the 소명
            "delete",
            "temporary measure",
            "http://site.test/gone",
            "kim minji",
            "legal@aurora.example",
        ],
        "ko": [
            "제44조의2",
            "yuna",
            "사생활",
            "명예훼손",
            "소명",
            "a sexual deepfake of our artist",
            "삭제",
            "임시조치",
            "http://site.test/gone",
            "kim minji",
            "legal@aurora.example",
        ],
    },
    LegalBasis.TAKE_IT_DOWN: {
        "en": [
            "take it down act",
            "/kim minji/",  # signature
            "http://site.test/gone",  # identification and location
            "good faith belief that the intimate visual depiction",
            "not consensual",
            "authorized to act on behalf of the identifiable individual",
            "48 hours",
            "legal@aurora.example",
        ],
        "ko": [
            "take it down",
            "/kim minji/",
            "http://site.test/gone",
            "동의 없이",
            "선의로 믿습니다",
            "대리할 권한",
            "48시간",
            "legal@aurora.example",
        ],
    },
    LegalBasis.KCSC: {
        "en": ["korea communications standards commission", "http://site.test/gone", "reason"],
        "ko": ["방송통신심의위원회", "시정요구", "http://site.test/gone", "신청 사유"],
    },
    LegalBasis.PLATFORM_POLICY: {
        "en": ["policy", "http://site.test/gone", "kim minji"],
        "ko": ["정책", "http://site.test/gone", "kim minji"],
    },
}

# Wording that belongs to one basis only: (phrase, language, the basis it belongs to).
FOREIGN = [
    ("perjury", "en", LegalBasis.DMCA_512C3),
    ("exclusive right", "en", LegalBasis.DMCA_512C3),
    ("copyright owner", "en", LegalBasis.DMCA_512C3),
    ("위증", "ko", LegalBasis.DMCA_512C3),
    ("배타적 권리", "ko", LegalBasis.DMCA_512C3),
    ("저작권자", "ko", LegalBasis.DMCA_512C3),
    ("48 hours", "en", LegalBasis.TAKE_IT_DOWN),
    ("48시간", "ko", LegalBasis.TAKE_IT_DOWN),
    ("bona fide", "en", LegalBasis.EU_DSA_16),
    ("임시조치", "ko", LegalBasis.KR_NETWORK_ACT_44_2),
    ("temporary measure", "en", LegalBasis.KR_NETWORK_ACT_44_2),
]

LANGUAGES = ["en", "ko"]


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("basis", LegalBasis.values)
def test_each_default_notice_carries_what_its_basis_requires(make_notice, basis, language) -> None:  # type: ignore[no-untyped-def]
    body = notice_render(make_notice(basis, language)).body.lower()

    missing = [phrase for phrase in REQUIRED[basis][language] if phrase not in body]
    assert missing == []


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("basis", LegalBasis.values)
def test_each_default_notice_carries_no_other_basis_wording(make_notice, basis, language) -> None:  # type: ignore[no-untyped-def]
    rendered = notice_render(make_notice(basis, language))
    text = f"{rendered.subject}\n{rendered.body}".lower()

    foreign = [phrase for phrase, lang, owner in FOREIGN if lang == language and owner != basis]
    assert [phrase for phrase in foreign if phrase in text] == []
    assert notice_foreign_wording(make_notice(basis, language)) == []


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_network_act_request_is_not_a_copyright_notice(make_notice, language) -> None:  # type: ignore[no-untyped-def]
    """The finding of issue 9: the 44-2 template carried the DMCA perjury statement."""
    body = notice_render(make_notice(LegalBasis.KR_NETWORK_ACT_44_2, language)).body
    for phrase in ("perjury", "exclusive right", "위증", "배타적 권리"):
        assert phrase not in body


def test_a_network_act_request_names_whose_rights_are_infringed(
    make_notice, hosted_finding
) -> None:  # type: ignore[no-untyped-def]
    from cases.notices.services.errors import NoticeSendRefused

    hosted_finding.artists.clear()
    notice = make_notice(LegalBasis.KR_NETWORK_ACT_44_2, "ko")

    with pytest.raises(NoticeSendRefused) as refused:
        notice_send(notice=notice, actor=None)
    assert "rights_holder" in [req.key for req in refused.value.missing]


def test_an_edited_template_with_foreign_wording_is_kept_and_flagged(
    client, alice, make_notice, agency
) -> None:  # type: ignore[no-untyped-def]
    """An admin's own wording is never rewritten; the product says what does not belong."""
    client.force_login(alice)
    plain = make_notice(LegalBasis.KR_NETWORK_ACT_44_2, "en")
    assert "data-foreign-wording" not in client.get(f"/notices/{plain.pk}/").content.decode()
    subject, body = default_template(LegalBasis.KR_NETWORK_ACT_44_2, "en")
    edited = body + "\nUnder penalty of perjury, I own the exclusive right.\n"
    notice_template_save(
        agency=agency,
        legal_basis=LegalBasis.KR_NETWORK_ACT_44_2,
        language="en",
        subject=subject,
        body=edited,
        actor=alice,
    )
    notice = make_notice(LegalBasis.KR_NETWORK_ACT_44_2, "en")

    assert "Under penalty of perjury" in notice_render(notice).body
    labels = [str(label) for label in notice_foreign_wording(notice)]
    assert labels and all("DMCA" in label for label in labels)
    page = client.get(f"/notices/{notice.pk}/").content.decode()
    assert "data-foreign-wording" in page and "penalty of perjury" in page


# --------------------------------------------------------------------------- the data migration

MIGRATION = importlib.import_module("cases.migrations.0009_notice_submission")


def test_old_default_hashes_are_the_shipped_texts_of_before() -> None:
    # The migration knows the old defaults only by hash; the new defaults must differ from
    # the old for the bases whose wording changed.
    new_hash = {
        (basis, language): MIGRATION.template_digest(*default_template(basis, language))
        for basis in LegalBasis.values
        for language in LANGUAGES
    }
    for key in (
        (LegalBasis.KR_NETWORK_ACT_44_2, "en"),
        (LegalBasis.KR_NETWORK_ACT_44_2, "ko"),
        (LegalBasis.TAKE_IT_DOWN, "en"),
        (LegalBasis.TAKE_IT_DOWN, "ko"),
    ):
        assert new_hash[key] not in MIGRATION.OLD_DEFAULT_DIGESTS[key]


def test_the_migration_resets_untouched_defaults_and_keeps_edits(agency, alice) -> None:  # type: ignore[no-untyped-def]
    from django.apps import apps

    old_body = "old default body"
    digest = MIGRATION.template_digest("old subject", old_body)
    untouched = NoticeTemplate.objects.create(
        agency=agency,
        legal_basis=LegalBasis.KR_NETWORK_ACT_44_2,
        language="ko",
        subject="old subject",
        # What a browser posts back for an unchanged textarea: CRLF line ends.
        body=old_body.replace("\n", "\r\n") + "\r\n",
    )
    edited = NoticeTemplate.objects.create(
        agency=agency,
        legal_basis=LegalBasis.TAKE_IT_DOWN,
        language="en",
        subject="old subject",
        body=old_body + " plus our own paragraph",
    )
    digests = {
        (LegalBasis.KR_NETWORK_ACT_44_2, "ko"): {digest},
        (LegalBasis.TAKE_IT_DOWN, "en"): {digest},
    }

    reset = MIGRATION.reset_untouched_defaults(apps, None, digests=digests)

    assert reset == 1
    assert not NoticeTemplate.objects.filter(pk=untouched.pk).exists()
    assert NoticeTemplate.objects.get(pk=edited.pk).body.endswith("our own paragraph")


def test_digest_normalises_line_ends_only() -> None:
    assert MIGRATION.template_digest("s", "a\r\nb\r\n") == MIGRATION.template_digest("s", "a\nb")
    assert MIGRATION.template_digest("s", "a\nb") != MIGRATION.template_digest("s", "a\n\nb")
    assert len(MIGRATION.template_digest("s", "x")) == len(hashlib.sha256().hexdigest())


def test_the_migration_only_backfills_finalised_at_and_changes_no_status(
    make_notice, host_platform
) -> None:  # type: ignore[no-untyped-def]
    """The migration cannot write audit events (historical models, no audit key), so it
    changes no notice's status: the old wrongly "sent" web-form notices are put back to
    awaiting submission after migrating, with an event each (tests/notices/test_reclassify.py).
    It only records when each sent notice's text became final."""
    from datetime import UTC, datetime

    from django.apps import apps

    from cases.kernel.models import AuditEvent
    from cases.notices.models import Notice, NoticeStatus

    then = datetime(2026, 3, 1, tzinfo=UTC)
    old_rule = {"status": "sent", "sent_at": then, "due_at": then, "rendered_sha256": "0" * 64}
    unanswered = make_notice(LegalBasis.KCSC, channel="web_form")
    draft = make_notice(LegalBasis.KCSC, channel="web_form")
    Notice.objects.filter(pk=unanswered.pk).update(**old_rule)
    events = AuditEvent.objects.count()

    MIGRATION.finalised_at_from_sent_at(apps, None)

    unanswered.refresh_from_db()
    assert unanswered.status == NoticeStatus.SENT
    assert (unanswered.sent_at, unanswered.due_at, unanswered.finalised_at) == (then, then, then)
    draft.refresh_from_db()
    assert draft.is_draft and draft.finalised_at is None
    assert AuditEvent.objects.count() == events
    assert not hasattr(MIGRATION, "web_form_notices_await_submission")


def test_the_template_editor_flags_another_basis_statement(client, alice, agency) -> None:  # type: ignore[no-untyped-def]
    url = "/notices/templates/edit/?basis=kr_network_act_44_2&language=ko"
    client.force_login(alice)
    clean = client.get(url).content.decode()
    assert "statements.deletion_request" in clean and "data-foreign-wording" not in clean

    subject, body = default_template(LegalBasis.KR_NETWORK_ACT_44_2, "ko")
    notice_template_save(
        agency=agency,
        legal_basis=LegalBasis.KR_NETWORK_ACT_44_2,
        language="ko",
        subject=subject,
        body=body + "\n{{ statements.accuracy }}\n",
        actor=alice,
    )
    page = client.get(url).content.decode()
    assert "data-foreign-wording" in page and '<li class="mono">statements.accuracy</li>' in page


def test_the_korean_pages_name_the_awaiting_state(client, bob, make_notice, host_platform) -> None:  # type: ignore[no-untyped-def]
    notice = notice_send(notice=make_notice(LegalBasis.KCSC, "ko", channel="web_form"), actor=None)
    client.force_login(bob)
    # override() restores the active language the middleware switches to Korean.
    with translation.override("en"):
        page = client.get(f"/notices/{notice.pk}/", HTTP_ACCEPT_LANGUAGE="ko").content.decode()
    assert "제출 대기(준비 완료)" in page and "확정 문안(미발송)" in page


@pytest.mark.parametrize(
    ("language", "heading"), [("en", "Supporting evidence attached"), ("ko", "첨부 소명 자료")]
)
def test_a_network_act_request_lists_the_evidence_it_attaches(
    make_notice, agency, hosted_finding, language, heading
) -> None:  # type: ignore[no-untyped-def]
    from cases.evidence.models import EvidenceKind
    from cases.evidence.services.evidence import evidence_ingest

    bare = notice_render(make_notice(LegalBasis.KR_NETWORK_ACT_44_2, language)).body
    assert heading not in bare

    shot, _ = evidence_ingest(
        agency=agency,
        data=b"\x89PNG screenshot",
        kind=EvidenceKind.SCREENSHOT,
        finding=hosted_finding,
    )
    notice = make_notice(LegalBasis.KR_NETWORK_ACT_44_2, language, attachments=[shot])
    body = notice_render(notice).body
    assert heading in body and shot.sha256 in body
