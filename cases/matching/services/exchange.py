"""The two sides of the exchange besides the bank itself (cases.matching.services.bank):
the partners allowed to read this agency's bank (their keys), and the subscriptions to
partners' banks, fetched through the SSRF-safe fetcher, verified and applied.

A fetch reads pages after the kept cursor until the partner says there is no more (at most
EXCHANGE_MAX_PAGES_PER_FETCH). A page whose signature does not verify, or that is not the
format, is refused before anything of it is applied: the cursor stays, the subscription
shows the error, and an audit event and a warning record it."""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from cases.kernel.audit.services import audit_record
from cases.kernel.models import Agency
from cases.kernel.net.fetcher import fetch
from cases.kernel.net.policy import Policy, PolicyRefused, check_url
from cases.kernel.outbox import outbox_enqueue
from cases.matching.exchange_format import (
    SIGNATURE_HEADER,
    FeedError,
    FeedPage,
    feed_parse,
    feed_verify,
)
from cases.matching.models import (
    ExchangePartner,
    ExchangeSubscription,
    PartnerSignal,
    TrustLevel,
)

log = logging.getLogger(__name__)

KEY_PREFIX = "agx_"
FETCH_PAGE_SIZE = 500


class ExchangeError(Exception):
    """A partner or subscription change that cannot be made; the message says why."""


# ------------------------------------------------------------------------ partners (publish)


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def partner_create(*, agency: Agency, actor: User, name: str) -> tuple[ExchangePartner, str]:
    """A new partner with a fresh API key (returned once, kept only as a digest) and a fresh
    signing key (kept: every page is signed with it)."""
    name = name.strip()
    if not name:
        raise ExchangeError(_("Name the partner."))
    prefix = secrets.token_hex(6)
    api_key = f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    with transaction.atomic():
        partner = ExchangePartner.objects.create(
            agency=agency,
            name=name[:120],
            key_prefix=prefix,
            key_digest=_digest(api_key),
            signing_key=secrets.token_hex(32),
            created_by=actor,
        )
        audit_record(
            agency=agency,
            actor=actor,
            action="exchange.partner_created",
            obj=partner,
            data={"name": partner.name, "key_prefix": prefix},
        )
    return partner, api_key


def partner_revoke(*, partner: ExchangePartner, actor: User) -> ExchangePartner:
    """The partner's key stops working at once."""
    with transaction.atomic():
        partner.active = False
        partner.save(update_fields=["active"])
        audit_record(
            agency=partner.agency,
            actor=actor,
            action="exchange.partner_revoked",
            obj=partner,
            data={"name": partner.name},
        )
    return partner


def partner_authenticate(*, api_key: str) -> ExchangePartner | None:
    """The active partner whose key this is, or None (constant-time digest compare)."""
    if not api_key.startswith(KEY_PREFIX) or api_key.count("_") < 2:
        return None
    prefix = api_key[len(KEY_PREFIX) :].split("_", 1)[0]
    partner = (
        ExchangePartner.objects.select_related("agency")
        .filter(key_prefix=prefix, active=True)
        .first()
    )
    if partner is None or not secrets.compare_digest(partner.key_digest, _digest(api_key)):
        return None
    return partner


# ------------------------------------------------------------------- subscriptions (read)


def exchange_policy(*, api_key: str = "") -> Policy:
    headers: tuple[tuple[str, str], ...] = (("Accept", "application/json"),)
    if api_key:
        headers += (("Authorization", f"Bearer {api_key}"),)
    return Policy(
        allowed_ports=frozenset(settings.EXCHANGE_ALLOWED_PORTS),
        allow_loopback=settings.CAPTURE_ALLOW_LOOPBACK_FOR_TESTS,
        # The key goes only to the URL the admin entered: never follow a redirect with it.
        max_redirects=0,
        max_body_bytes=16 * 1024 * 1024,
        max_decompressed_bytes=64 * 1024 * 1024,
        total_deadline=60.0,
        user_agent="AgencyGuard-Exchange/1.0",
        extra_headers=headers,
    )


def subscription_save(
    *,
    agency: Agency,
    actor: User,
    name: str,
    feed_url: str,
    api_key: str,
    signing_key: str,
    trust: str = TrustLevel.MEDIUM,
    subscription: ExchangeSubscription | None = None,
) -> ExchangeSubscription:
    """Create or change a subscription. The URL must pass the network policy now; its
    addresses are checked again on every fetch. Keys left empty on a change stay."""
    if trust not in TrustLevel.values:
        raise ExchangeError(_("Choose a trust level."))
    try:
        check_url(feed_url, exchange_policy())
    except PolicyRefused as exc:
        raise ExchangeError(
            _("This feed URL cannot be fetched: %(why)s") % {"why": exc.reason}
        ) from exc
    if subscription is None and not (api_key and signing_key):
        raise ExchangeError(_("Enter the API key and the signing key the partner gave you."))
    with transaction.atomic():
        created = subscription is None
        subscription = subscription or ExchangeSubscription(agency=agency, created_by=actor)
        url_changed = not created and subscription.feed_url != feed_url
        subscription.name = name.strip()[:120] or urlsplit(feed_url).hostname or feed_url
        subscription.feed_url = feed_url
        subscription.trust = trust
        if api_key:
            subscription.api_key = api_key
        if signing_key:
            subscription.signing_key = signing_key
        if url_changed:
            # Another bank: its sequence is not this one's; read it from the start.
            subscription.cursor = 0
            subscription.signals.all().delete()
        subscription.save()
        audit_record(
            agency=agency,
            actor=actor,
            action="exchange.subscription_created" if created else "exchange.subscription_updated",
            obj=subscription,
            data={
                "name": subscription.name,
                "feed_url": feed_url,
                "trust": trust,
                "keys_changed": bool(api_key or signing_key),
            },
        )
    return subscription


def subscription_delete(*, subscription: ExchangeSubscription, actor: User) -> None:
    """Stop reading the partner and forget its signals (recorded matches stay in the log)."""
    with transaction.atomic():
        audit_record(
            agency=subscription.agency,
            actor=actor,
            action="exchange.subscription_deleted",
            obj=subscription,
            data={"name": subscription.name, "signals": subscription.signals.count()},
        )
        subscription.matches.all().delete()
        subscription.delete()


def subscription_fetch_request(*, subscription: ExchangeSubscription, actor: User) -> None:
    """A person asked for a fetch now: queued (the worker fetches), audited."""
    with transaction.atomic():
        audit_record(
            agency=subscription.agency,
            actor=actor,
            action="exchange.fetch_requested",
            obj=subscription,
            data={"name": subscription.name},
        )
        outbox_enqueue("cases.matching.tasks.exchange_fetch_task", subscription_id=subscription.pk)


@dataclass
class FetchReport:
    pages: int = 0
    added: int = 0
    deleted: int = 0
    error: str = ""


def _page_url(feed_url: str, cursor: int) -> str:
    parts = urlsplit(feed_url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k not in {"cursor", "limit"}]
    query += [("cursor", str(cursor)), ("limit", str(FETCH_PAGE_SIZE))]
    return urlunsplit(parts._replace(query=urlencode(query)))


def _header(headers: list[tuple[str, str]], name: str) -> str:
    return next((v for k, v in headers if k.lower() == name.lower()), "")


def _fetch_page(subscription: ExchangeSubscription) -> FeedPage:
    """One page after the subscription's cursor, verified and parsed; FeedError otherwise."""
    result = fetch(
        _page_url(subscription.feed_url, subscription.cursor),
        exchange_policy(api_key=subscription.api_key),
    )
    if not result.ok:
        raise FeedError(_("The feed could not be fetched: %(why)s") % {"why": result.message})
    if result.status_code != 200:
        raise FeedError(_("The feed answered HTTP %(status)s.") % {"status": result.status_code})
    if result.truncated:
        raise FeedError(_("The feed page is larger than the limit."))
    signature = _header(result.headers, SIGNATURE_HEADER)
    if not signature or not feed_verify(subscription.signing_key, result.body, signature):
        raise FeedError(_("The feed page's signature does not verify (bad HMAC): refused."))
    return feed_parse(result.body, cursor=subscription.cursor)


def _apply(subscription: ExchangeSubscription, page: FeedPage, report: FetchReport) -> None:
    now = timezone.now()
    for entry in page.entries:
        if entry.op == "delete":
            deleted, _detail = PartnerSignal.objects.filter(
                subscription=subscription, signal_id=entry.id
            ).delete()
            report.deleted += deleted
            continue
        PartnerSignal.objects.update_or_create(
            subscription=subscription,
            signal_id=entry.id,
            defaults={
                "agency_id": subscription.agency_id,
                "pdq": list(entry.pdq),
                "vpdq": list(entry.vpdq),
                "sha256": entry.sha256,
                "md5": entry.md5,
                "labels": list(entry.labels),
                "seq": entry.seq,
                "fetched_at": now,
            },
        )
        report.added += 1
    subscription.cursor = page.next_cursor


def subscription_fetch(*, subscription_id: int) -> FetchReport:
    """Read the partner's new pages, each verified before it is applied with its cursor in
    one transaction. Every fetch is audited; a refused page also sets the error state."""
    report = FetchReport()
    subscription = ExchangeSubscription.objects.select_related("agency").get(pk=subscription_id)
    start = subscription.cursor
    for _page in range(settings.EXCHANGE_MAX_PAGES_PER_FETCH):
        try:
            page = _fetch_page(subscription)
        except FeedError as exc:
            report.error = str(exc)
            break
        with transaction.atomic():
            _apply(subscription, page, report)
            subscription.save(update_fields=["cursor"])
        report.pages += 1
        if not page.has_more or not page.entries:
            break
    now = timezone.now()
    with transaction.atomic():
        subscription.last_fetch_at = now
        subscription.last_error = report.error[:1000]
        if not report.error:
            subscription.last_ok_at = now
        subscription.save(update_fields=["last_fetch_at", "last_error", "last_ok_at"])
        audit_record(
            agency=subscription.agency,
            actor=None,
            action="exchange.fetch_refused" if report.error else "exchange.fetched",
            obj=subscription,
            data={
                "name": subscription.name,
                "from_cursor": start,
                "cursor": subscription.cursor,
                "pages": report.pages,
                "added": report.added,
                "deleted": report.deleted,
                "error": report.error,
            },
        )
    if report.error:
        log.warning("exchange subscription %s: %s", subscription.pk, report.error)
    return report


def subscriptions_due() -> list[int]:
    """Active subscriptions not fetched within EXCHANGE_FETCH_INTERVAL_S."""
    cutoff = timezone.now() - timedelta(seconds=settings.EXCHANGE_FETCH_INTERVAL_S)
    return list(
        ExchangeSubscription.objects.filter(active=True)
        .filter(Q(last_fetch_at__isnull=True) | Q(last_fetch_at__lt=cutoff))
        .order_by("pk")
        .values_list("pk", flat=True)
    )
