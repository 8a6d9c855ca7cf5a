"""The wording of notices: the sandboxed template engine, the agency's own templates (or the
shipped defaults) and the signer profiles that sign them."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.template import Engine, TemplateSyntaxError
from django.template.defaulttags import DebugNode
from django.utils.translation import gettext as _

from cases.kernel.actor import Actor, actor_user
from cases.kernel.audit.services import AuditEntry, audit_record, audit_record_many
from cases.kernel.models import Agency
from cases.notices.defaults import default_template
from cases.notices.models import LegalBasis, NoticeLanguage, NoticeTemplate, SignerProfile
from cases.notices.services.errors import NoticeError
from cases.notices.services.template_limits import SIZE, TemplateLimitExceeded, render_bounded


# A sandboxed engine for agency-edited templates: builtin tags and filters only, no
# loaders (so no {% include %} of our own templates), autoescape off (plain text e-mail).
# The context holds only strings and lists, so no template can call into a model. Renders
# run within an output budget and a time limit (template_limits, whose guarded filters and
# {% lorem %} replace Django's: it is the last library).
class _NoticeEngine(Engine):
    # Without django.template.loader_tags: no {% include %}, {% extends %} or {% block %}.
    default_builtins = [
        "django.template.defaulttags",
        "django.template.defaultfilters",
        "cases.notices.services.template_limits",
    ]


TEMPLATE_ENGINE = _NoticeEngine(autoescape=False, loaders=[], libraries={}, debug=False)


@dataclass(frozen=True)
class RenderedNotice:
    subject: str
    body: str

    @property
    def sha256(self) -> str:
        return rendered_sha256(self.subject, self.body)


def rendered_sha256(subject: str, body: str) -> str:
    """The hash kept with a sent notice: SHA-256 of "Subject: <subject>\\n\\n<body>" in UTF-8."""
    return hashlib.sha256(f"Subject: {subject}\n\n{body}".encode()).hexdigest()


def signer_profile_save(*, agency: Agency, user: User, **fields: Any) -> SignerProfile:
    """Create or update the user's signer profile; the audit event names the changed fields."""
    with transaction.atomic():
        profile, created = SignerProfile.objects.select_for_update().get_or_create(
            agency=agency, user=user
        )
        changed = [name for name, value in fields.items() if getattr(profile, name) != value]
        for name in changed:
            setattr(profile, name, fields[name])
        profile.save()
        if changed or created:
            audit_record(
                agency=agency,
                actor=user,
                action="signer_profile.saved",
                obj=profile,
                data={"fields": changed, "created": created},
            )
    return profile


# Longest template source an admin may save (a notice's wording is a few kilobytes).
NOTICE_TEMPLATE_MAX_SOURCE = 100_000
# What a saved template is tried on: the shape of a real notice's context (drafts.notice_context).
TRIAL_CONTEXT: dict[str, Any] = {
    "agency": "Aurora Entertainment",
    "platform": "Example Video",
    "basis": "DMCA",
    "date": "1 January 2026",
    "notice_id": "1",
    "urls": [f"https://video.example/watch?v={n}" for n in range(20)],
    "works": ["Official photo shoot, 2025"],
    "artists": ["Yuna", "Minji"],
    "explanation": "A face-swapped video of the artist.",
    "signer": {
        "full_name": "Alice Kim",
        "title": "Counsel",
        "organisation": "Aurora Entertainment",
        "postal_address": "1 Example-ro, Seoul",
        "phone": "+82 2 0000 0000",
        "email": "legal@aurora.example",
        "signature": "/Alice Kim/",
    },
    "evidence": ["#1 Screenshot · SHA-256 " + "0" * 64],
    "statements": {},
}


def notice_template_render(
    *, legal_basis: str, language: str, subject: str, body: str, context: Mapping[str, Any]
) -> tuple[str, str]:
    """Render a notice's subject and body within NOTICE_TEMPLATE_MAX_CHARS and
    NOTICE_TEMPLATE_TIMEOUT_MS. Raises NoticeError naming the template, the part and the
    reason; nothing is produced then."""
    rendered = []
    for part, source in ((_("subject"), subject), (_("body"), body)):
        try:
            rendered.append(
                render_bounded(
                    TEMPLATE_ENGINE.from_string(source),
                    context,
                    max_chars=settings.NOTICE_TEMPLATE_MAX_CHARS,
                    seconds=settings.NOTICE_TEMPLATE_TIMEOUT_MS / 1000,
                )
            )
        except TemplateLimitExceeded as exc:
            raise NoticeError(_limit_message(legal_basis, language, part, exc.reason)) from exc
        except Exception as exc:  # a template edited by an admin must never break the page
            raise NoticeError(
                _("The notice template has an error: %(error)s") % {"error": exc}
            ) from exc
    return rendered[0], rendered[1]


def _limit_message(legal_basis: str, language: str, part: str, reason: str) -> str:
    names = {
        "template": f"{LegalBasis(legal_basis).label} · {NoticeLanguage(language).label}",
        "part": part,
    }
    if reason == SIZE:
        return _(
            "The notice template “%(template)s” was stopped: its %(part)s produced more than "
            "%(limit)s characters. Nothing was produced; an admin can correct the template "
            "under Notices → Notice templates."
        ) % {**names, "limit": f"{settings.NOTICE_TEMPLATE_MAX_CHARS:,}"}
    return _(
        "The notice template “%(template)s” was stopped: its %(part)s took longer than "
        "%(ms)s ms to render. Nothing was produced; an admin can correct the template "
        "under Notices → Notice templates."
    ) % {**names, "ms": f"{settings.NOTICE_TEMPLATE_TIMEOUT_MS:,}"}


def notice_template_check(source: str) -> None:
    """Raise NoticeError when `source` is not a valid template for notices."""
    if len(source) > NOTICE_TEMPLATE_MAX_SOURCE:
        raise NoticeError(
            _("The template is longer than %(limit)s characters.")
            % {"limit": f"{NOTICE_TEMPLATE_MAX_SOURCE:,}"}
        )
    try:
        template = TEMPLATE_ENGINE.from_string(source)
    except TemplateSyntaxError as exc:
        raise NoticeError(_("The template has an error: %(error)s") % {"error": exc}) from exc
    if template.nodelist.get_nodes_by_type(DebugNode):
        # {% debug %} would print the context and the list of loaded modules.
        raise NoticeError(_("The template has an error: %(error)s") % {"error": "{% debug %}"})


def notice_template_save(
    *, agency: Agency, legal_basis: str, language: str, subject: str, body: str, actor: Actor
) -> NoticeTemplate:
    """Store the agency's wording for one basis and language (checked before it is saved,
    and tried on a typical notice: one that passes a render limit there is refused)."""
    notice_template_check(subject)
    notice_template_check(body)
    try:
        notice_template_render(
            legal_basis=legal_basis,
            language=language,
            subject=subject,
            body=body,
            context=TRIAL_CONTEXT,
        )
    except NoticeError as exc:
        if isinstance(exc.__cause__, TemplateLimitExceeded):
            raise
        # Other errors depend on the real notice's data; its page names them.
    with transaction.atomic():
        template, _created = NoticeTemplate.objects.update_or_create(
            agency=agency,
            legal_basis=legal_basis,
            language=language,
            defaults={
                "subject": subject,
                "body": body,
                "updated_by": actor_user(actor),
            },
        )
        audit_record(
            agency=agency,
            actor=actor,
            action="notice_template.saved",
            obj=template,
            data={
                "basis": legal_basis,
                "language": language,
                "sha256": rendered_sha256(subject, body),
            },
        )
    return template


def notice_template_reset(*, agency: Agency, legal_basis: str, language: str, actor: Actor) -> None:
    """Go back to the shipped default wording."""
    with transaction.atomic():
        deleted, _detail = NoticeTemplate.objects.filter(
            agency=agency, legal_basis=legal_basis, language=language
        ).delete()
        if deleted:
            entry = AuditEntry(
                action="notice_template.reset",
                object_type="noticetemplate",
                data={"basis": legal_basis, "language": language},
            )
            audit_record_many(agency=agency, actor=actor, entries=[entry])


def notice_template_source(*, agency: Agency, legal_basis: str, language: str) -> tuple[str, str]:
    """(subject, body) the agency uses: its own row, or the shipped default."""
    row = NoticeTemplate.objects.filter(
        agency=agency, legal_basis=legal_basis, language=language
    ).first()
    return (row.subject, row.body) if row else default_template(legal_basis, language)
