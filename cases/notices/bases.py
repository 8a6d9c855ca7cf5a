"""What each legal basis requires of a notice, and how long the platform has to act.

Sources: ../shared/legal-fields.md (17 U.S.C. § 512(c)(3)(A); DSA Art. 16(2); TAKE IT DOWN
Act § 3; Korean Network Act Art. 44-2; KCSC correction requests). A notice is checked
against its basis right before it is sent (cases.notices.services.sending.notice_send): sending
with any requirement unmet is refused with the names of what is missing.

Deadlines: TAKE IT DOWN gives platforms 48 hours. DSA ("without undue delay"), DMCA
("expeditiously") and the Korean Network Act ("without delay") name no number; the
defaults below are what we treat as overdue, configurable with settings.NOTICE_DUE_HOURS
and per platform (Platform.notice_due_hours).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from cases.notices.models import LegalBasis

STATUTORY_MAX_HOURS: dict[str, int] = {LegalBasis.TAKE_IT_DOWN: 48}
DEFAULT_DUE_HOURS: dict[str, int] = {
    LegalBasis.TAKE_IT_DOWN: 48,
    LegalBasis.DMCA_512C3: 72,
    LegalBasis.EU_DSA_16: 7 * 24,
    LegalBasis.KR_NETWORK_ACT_44_2: 7 * 24,
    LegalBasis.KCSC: 14 * 24,
    LegalBasis.PLATFORM_POLICY: 7 * 24,
}

# The statements each basis asks of the sender, in each notice language. Each belongs to
# one basis (STATEMENT_KEYS): the DMCA perjury and exclusive-rights wording is a copyright
# notice's and has no place in a privacy or defamation request. A signer may word the DMCA
# ones in their own profile; the check below then looks for the signer's wording.
STATEMENTS: dict[str, dict[str, str]] = {
    # 17 U.S.C. § 512(c)(3)(A)(v).
    "good_faith": {
        "en": (
            "I have a good faith belief that use of the material in the manner complained of "
            "is not authorized by the copyright owner, its agent, or the law."
        ),
        "ko": (
            "본인은 위 자료를 문제된 방식으로 이용하는 것이 저작권자, 그 대리인 또는 법률에 의해 "
            "허락되지 않았다고 선의로 믿습니다."
        ),
    },
    # 17 U.S.C. § 512(c)(3)(A)(vi).
    "accuracy": {
        "en": (
            "The information in this notification is accurate, and under penalty of perjury, "
            "I am authorized to act on behalf of the owner of an exclusive right that is "
            "allegedly infringed."
        ),
        "ko": (
            "본 통지에 기재된 정보는 정확하며, 본인은 위증 시 처벌을 감수하고 침해되었다고 주장되는 "
            "배타적 권리의 소유자를 대리할 권한이 있음을 진술합니다."
        ),
    },
    # DSA Art. 16(2)(d).
    "bona_fide": {
        "en": (
            "I confirm my bona fide belief that the information and allegations contained in "
            "this notice are accurate and complete."
        ),
        "ko": "본인은 이 신고에 포함된 정보와 주장이 정확하고 완전하다고 선의로 믿음을 확인합니다.",
    },
    # TAKE IT DOWN Act § 3(a)(2)(C).
    "non_consent": {
        "en": (
            "I have a good faith belief that the intimate visual depiction identified above is "
            "not consensual, including as a digital forgery made without the consent of the "
            "identifiable individual."
        ),
        "ko": (
            "본인은 위에 특정된 친밀한 영상물이 식별 가능한 당사자의 동의 없이 만들어진 디지털 "
            "위조물을 포함하여 동의 없이 게시된 것이라고 선의로 믿습니다."
        ),
    },
    # TAKE IT DOWN Act § 3(a)(2)(A): the signature is the individual's or an authorised
    # person's; this says which.
    "authorised_for_individual": {
        "en": "I am authorized to act on behalf of the identifiable individual depicted.",
        "ko": "본인은 위 영상물에 나타난 식별 가능한 당사자를 대리할 권한이 있습니다.",
    },
    # Network Act Art. 44-2(1) (deletion on a 소명 by the person whose rights are infringed)
    # and (4) (temporary measure, 임시조치, while the infringement is disputed).
    "deletion_request": {
        "en": (
            "On behalf of the person whose rights are infringed (invasion of privacy, "
            "defamation), and on the supporting evidence above, I request that you delete the information. If you "
            "find it hard to judge whether it infringes those rights, or the parties are "
            "expected to dispute it, I request a temporary measure blocking access to it "
            "under Article 44-2(4)."
        ),
        "ko": (
            "본인은 위 정보로 사생활 침해 또는 명예훼손 등 권리를 침해받은 사람을 대리하여, 위와 "
            "같이 침해 사실을 소명하고 해당 정보의 삭제를 요청합니다. 권리 침해 여부를 판단하기 "
            "어렵거나 이해당사자 간에 다툼이 예상되는 경우에는 같은 조 제4항에 따른 "
            "임시조치(접근 차단)를 요청합니다."
        ),
    },
}

# Phrases that belong to one basis only, per language: a notice under another basis that
# carries one (an admin's edited template) is flagged on its page, never rewritten.
FOREIGN_WORDING: tuple[tuple[str, str, str, Promise], ...] = (
    (
        "en",
        "penalty of perjury",
        LegalBasis.DMCA_512C3,
        _("DMCA statement under penalty of perjury"),
    ),
    ("en", "exclusive right", LegalBasis.DMCA_512C3, _("DMCA exclusive-rights statement")),
    ("ko", "위증", LegalBasis.DMCA_512C3, _("DMCA statement under penalty of perjury")),
    ("ko", "배타적 권리", LegalBasis.DMCA_512C3, _("DMCA exclusive-rights statement")),
    ("en", "48 hours", LegalBasis.TAKE_IT_DOWN, _("TAKE IT DOWN Act 48-hour removal deadline")),
    ("ko", "48시간", LegalBasis.TAKE_IT_DOWN, _("TAKE IT DOWN Act 48-hour removal deadline")),
)


def template_foreign_statements(basis: str, source: str) -> list[str]:
    """The {{ statements.<key> }} a template source uses that belong to another basis."""
    used = set(re.findall(r"statements\.(\w+)", source))
    return sorted(key for key in used if key in STATEMENTS and key not in STATEMENT_KEYS[basis])


def foreign_wording(basis: str, language: str, text: str) -> list[tuple[str, Promise]]:
    """(phrase, what it is) of each phrase in `text` that belongs to another basis."""
    lowered = text.lower()
    return [
        (phrase, label)
        for lang, phrase, owner, label in FOREIGN_WORDING
        if lang == language and owner != basis and phrase in lowered
    ]


@dataclass(frozen=True)
class NoticeFacts:
    """What the checks look at, gathered once from a notice (see services.notice_facts)."""

    urls: list[str]
    works: list[str]
    explanation: str
    signer_name: str
    signature: str
    organisation: str
    postal_address: str
    phone: str
    email: str
    csam_waiver: bool
    artists: list[str]
    recipient_needed: bool
    recipient: str
    rendered_body: str
    statements: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Requirement:
    key: str
    label: Promise
    met: Callable[[NoticeFacts], bool]


def _statement(key: str) -> Callable[[NoticeFacts], bool]:
    # The statement counts only if the text actually sent contains it: an edited template
    # that drops {{ statements.x }} is caught here.
    def met(facts: NoticeFacts) -> bool:
        text = facts.statements.get(key, "").strip()
        return bool(text) and " ".join(text.split()) in " ".join(facts.rendered_body.split())

    return met


URLS = Requirement("urls", _("infringing URLs"), lambda f: bool(f.urls))
SIGNATURE = Requirement(
    "signature",
    _("signature of an authorised signer"),
    lambda f: bool(f.signature.strip() and f.signer_name.strip()),
)
ORIGINAL_WORK = Requirement(
    "original_work",
    _("identification of the original work (linked reference media or a description)"),
    lambda f: bool(f.works),
)
ADDRESS = Requirement(
    "contact_address", _("contact postal address"), lambda f: bool(f.postal_address.strip())
)
PHONE = Requirement("contact_phone", _("contact telephone number"), lambda f: bool(f.phone.strip()))
EMAIL = Requirement("contact_email", _("contact e-mail address"), lambda f: bool(f.email.strip()))
CONTACT = Requirement(
    "contact", _("contact information (e-mail or telephone)"), lambda f: bool(f.email or f.phone)
)
GOOD_FAITH = Requirement(
    "good_faith_statement", _("good-faith statement"), _statement("good_faith")
)
ACCURACY = Requirement(
    "accuracy_statement",
    _("statement of accuracy and authority under penalty of perjury"),
    _statement("accuracy"),
)
EXPLANATION_DSA = Requirement(
    "explanation",
    _("explanation of why the content is illegal"),
    lambda f: bool(f.explanation.strip()),
)
NOTIFIER_NAME = Requirement(
    "notifier_name",
    _("notifier's name"),
    lambda f: f.csam_waiver or bool(f.signer_name.strip()),
)
NOTIFIER_EMAIL = Requirement(
    "notifier_email",
    _("notifier's e-mail address"),
    lambda f: f.csam_waiver or bool(f.email.strip()),
)
BONA_FIDE = Requirement(
    "bona_fide_statement", _("statement of bona fide belief"), _statement("bona_fide")
)
NON_CONSENT = Requirement(
    "non_consent_statement",
    _("good-faith statement that the depiction is not consensual"),
    _statement("non_consent"),
)
SOMYEONG = Requirement(
    "explanation",
    _("supporting statement of the infringement (소명)"),
    lambda f: bool(f.explanation.strip()),
)
RIGHTS_HOLDER = Requirement(
    "rights_holder",
    _("the person whose rights are infringed (an artist linked to the findings)"),
    lambda f: bool(f.artists),
)
DELETION_REQUEST = Requirement(
    "deletion_request_statement",
    _("request for deletion or a temporary measure (임시조치)"),
    _statement("deletion_request"),
)
AUTHORISED_FOR_INDIVIDUAL = Requirement(
    "authorised_statement",
    _("statement that the signer is the individual or authorised to act for them"),
    _statement("authorised_for_individual"),
)
REQUESTER = Requirement(
    "requester_identity",
    _("requester's identity (name and organisation)"),
    lambda f: bool(f.signer_name.strip() and f.organisation.strip()),
)
EXPLANATION = Requirement(
    "explanation", _("explanation of the request"), lambda f: bool(f.explanation.strip())
)
RECIPIENT = Requirement(
    "recipient",
    _("the platform's notice e-mail address"),
    lambda f: not f.recipient_needed or bool(f.recipient.strip()),
)

REQUIREMENTS: dict[str, tuple[Requirement, ...]] = {
    LegalBasis.DMCA_512C3: (
        SIGNATURE,
        ORIGINAL_WORK,
        URLS,
        ADDRESS,
        PHONE,
        EMAIL,
        GOOD_FAITH,
        ACCURACY,
    ),
    LegalBasis.EU_DSA_16: (EXPLANATION_DSA, URLS, NOTIFIER_NAME, NOTIFIER_EMAIL, BONA_FIDE),
    LegalBasis.TAKE_IT_DOWN: (SIGNATURE, AUTHORISED_FOR_INDIVIDUAL, URLS, NON_CONSENT, CONTACT),
    LegalBasis.KR_NETWORK_ACT_44_2: (
        RIGHTS_HOLDER,
        URLS,
        SOMYEONG,
        DELETION_REQUEST,
        REQUESTER,
        CONTACT,
    ),
    LegalBasis.KCSC: (URLS, EXPLANATION),
    LegalBasis.PLATFORM_POLICY: (URLS,),
}
# The statements each basis needs: its default templates carry these and no others.
STATEMENT_KEYS: dict[str, tuple[str, ...]] = {
    LegalBasis.DMCA_512C3: ("good_faith", "accuracy"),
    LegalBasis.EU_DSA_16: ("bona_fide",),
    LegalBasis.TAKE_IT_DOWN: ("non_consent", "authorised_for_individual"),
    LegalBasis.KR_NETWORK_ACT_44_2: ("deletion_request",),
    LegalBasis.KCSC: (),
    LegalBasis.PLATFORM_POLICY: (),
}


def missing_requirements(basis: str, facts: NoticeFacts) -> list[Requirement]:
    """The requirements of `basis` (plus the channel's recipient) that `facts` do not meet."""
    return [req for req in (*REQUIREMENTS[basis], RECIPIENT) if not req.met(facts)]


def due_after(basis: str, platform_hours: int | None = None) -> timedelta:
    """How long the platform has from sending: the platform's own figure when set, else the
    basis default; never longer than a statutory maximum (TAKE IT DOWN: 48 hours)."""
    configured = {**DEFAULT_DUE_HOURS, **getattr(settings, "NOTICE_DUE_HOURS", {})}
    hours = platform_hours or configured[basis]
    if basis in STATUTORY_MAX_HOURS:
        hours = min(hours, STATUTORY_MAX_HOURS[basis])
    return timedelta(hours=hours)
