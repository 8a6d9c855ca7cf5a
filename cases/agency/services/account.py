"""A user's own account: password change, and reset links by e-mail (self-service or sent
by an agency admin), with Django's token machinery. Every change is audited in the user's
agency; a user without one (a site operator) is not part of any agency's trail."""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User
from django.contrib.auth.tokens import default_token_generator
from django.core.mail import EmailMessage
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from cases.kernel.actor import Actor
from cases.kernel.audit.services import audit_record
from cases.kernel.models import Membership
from cases.kernel.outbox import outbox_enqueue_many

log = logging.getLogger(__name__)


def _record(*, user: User, actor: Actor, action: str, data: dict[str, object]) -> None:
    membership = Membership.objects.select_related("agency").filter(user=user).first()
    if membership is None:
        return
    audit_record(agency=membership.agency, actor=actor, action=action, obj=membership, data=data)


def user_password_set(*, user: User, password: str, actor: Actor, action: str) -> User:
    """Set a new password (already validated by the form). Changing it ends the user's other
    sessions (their session hash no longer matches) and spends any reset link sent before.
    `action` is "password.changed" (the user knew the old one) or "password.reset_completed"
    (through a link)."""
    with transaction.atomic():
        user.set_password(password)
        user.save(update_fields=["password"])
        _record(user=user, actor=actor, action=action, data={"username": user.get_username()})
    return user


def password_reset_link(*, user: User) -> str:
    """The one-time link to set a new password: Django's token, on SITE_URL (never on the
    Host header of the request that asked for it)."""
    uidb64 = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    path = reverse("password_reset_confirm", kwargs={"uidb64": uidb64, "token": token})
    return settings.SITE_URL.rstrip("/") + path


def password_reset_send(*, user: User, actor: Actor, by_admin: bool) -> None:
    """E-mail the user a reset link, in the active language. `actor` is the user's agency
    admin (by_admin), or an anonymous visitor of the "Forgot your password?" page. Raises
    when the mail server refuses (nothing is audited then); the audit never holds the link."""
    context = {
        "username": user.get_username(),
        "link": password_reset_link(user=user),
        "hours": max(1, settings.PASSWORD_RESET_TIMEOUT // 3600),
        "by_admin": by_admin,
        "admin": actor.get_username() if by_admin and actor is not None else "",
    }
    subject = "".join(render_to_string("account/password_reset_subject.txt", context).splitlines())
    body = render_to_string("account/password_reset_email.txt", context)
    EmailMessage(subject=subject, body=body, to=[user.email]).send()
    with transaction.atomic():
        _record(
            user=user,
            actor=actor,
            action="password.reset_sent",
            data={"username": user.get_username(), "by_admin": by_admin},
        )


RESET_MAIL_TASK = "cases.agency.tasks.password_reset_mail_task"


def password_reset_request(*, users: list[User]) -> int:
    """The "Forgot your password?" page: queue a link to each active account with the
    address (the form found them), through the outbox. The mail goes out from a worker, so
    the page answers in the same time whether an account exists or not, and a relay or
    broker outage is never shown. Returns how many mails were queued."""
    language = translation.get_language() or settings.LANGUAGE_CODE
    outbox_enqueue_many(RESET_MAIL_TASK, [{"user_id": u.pk, "language": language} for u in users])
    return len(users)


def password_reset_mail(*, user_id: int, language: str) -> None:
    """The worker's side of password_reset_request: the mail in the language of the page it
    was asked from. An account deactivated since is skipped; a relay that refuses is logged
    (the visitor was already told to check their e-mail)."""
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None or not user.email:
        return
    with translation.override(language):
        try:
            # Whoever asked proved nothing about the account: the actor is anonymous.
            password_reset_send(user=user, actor=AnonymousUser(), by_admin=False)
        except Exception:
            log.exception("could not e-mail a password reset link to user %s", user.pk)
