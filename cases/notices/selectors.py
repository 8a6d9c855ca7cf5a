"""Reads of notices, signer profiles and webhooks, scoped to the user's agency."""

from __future__ import annotations

from django.db.models import QuerySet

from cases.kernel.tenancy import AnyUser, get_or_404, scoped
from cases.notices.models import Notice, SignerProfile, Webhook, WebhookDelivery


def notice_list_for(user: AnyUser) -> QuerySet[Notice]:
    """The agency's takedown notices, newest first."""
    return scoped(
        Notice.objects.select_related("platform", "signer", "assignee", "created_by"), user
    ).order_by("-created_at", "-id")


def notice_get_for(user: AnyUser, pk: int | str) -> Notice:
    """One notice of the user's agency; 404 for anyone else's."""
    return get_or_404(notice_list_for(user).select_related("agency"), pk=pk)


def signer_profile_list_for(user: AnyUser) -> QuerySet[SignerProfile]:
    return scoped(SignerProfile.objects.select_related("user"), user)


def webhook_list_for(user: AnyUser) -> QuerySet[Webhook]:
    return scoped(Webhook.objects.all(), user)


def webhook_deliveries_for(user: AnyUser) -> QuerySet[WebhookDelivery]:
    return scoped(WebhookDelivery.objects.select_related("webhook"), user)
