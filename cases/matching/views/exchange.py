"""The exchange page of an agency's admins: the partners that read its bank (keys issued,
revoked), the partner banks it subscribes to (with each one's fetch state), and what its own
bank publishes. The feed itself is cases.matching.api; docs/exchange.md describes both."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from cases.agency.models import ArtistShareConsent
from cases.kernel.models import Role
from cases.kernel.tenancy import get_or_404, scoped
from cases.kernel.web import HtmxHttpRequest, member_required
from cases.matching.models import BankSignal, TrustLevel
from cases.matching.selectors import exchange_partners_for, exchange_subscriptions_for
from cases.matching.services.exchange import (
    ExchangeError,
    partner_create,
    partner_revoke,
    subscription_delete,
    subscription_fetch_request,
    subscription_save,
)


class PartnerForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Partner"), max_length=120)


class SubscriptionForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Partner"), max_length=120)
    feed_url = forms.CharField(
        label=gettext_lazy("Feed URL"),
        max_length=2000,
        help_text=gettext_lazy("The partner's https://…/api/exchange/bank/ address."),
    )
    api_key = forms.CharField(label=gettext_lazy("API key"), max_length=200)
    signing_key = forms.CharField(label=gettext_lazy("Signing key"), max_length=200)
    trust = forms.ChoiceField(
        label=gettext_lazy("Trust level"),
        choices=TrustLevel.choices,
        initial=TrustLevel.MEDIUM,
        help_text=gettext_lazy(
            "Low: its matches are recorded and shown, but a watched source never asks for a "
            "capture on them alone."
        ),
    )


def _page(request: HtmxHttpRequest, **extra: Any) -> HttpResponse:
    user = request.user
    context = {
        "partners": exchange_partners_for(user),
        "subscriptions": exchange_subscriptions_for(user),
        "consents": scoped(ArtistShareConsent.objects.select_related("artist"), user).filter(
            withdrawn_at__isnull=True
        ),
        "published": scoped(BankSignal.objects.all(), user).filter(published=True).count(),
        "feed_url": request.build_absolute_uri(reverse("api:exchange-bank")),
        "partner_form": PartnerForm(),
        **extra,
    }
    return render(request, "cases/exchange.html", context)


@require_GET
@member_required(read=Role.ADMIN, write=Role.ADMIN)
def exchange_settings(request: HtmxHttpRequest) -> HttpResponse:
    return _page(request)


@require_POST
@member_required(read=Role.ADMIN, write=Role.ADMIN)
def exchange_partner_create(request: HtmxHttpRequest) -> HttpResponse:
    form = PartnerForm(request.POST)
    if not form.is_valid():
        return _page(request, partner_form=form)
    try:
        partner, api_key = partner_create(
            agency=request.membership.agency, actor=request.user, name=form.cleaned_data["name"]
        )
    except ExchangeError as exc:
        form.add_error(None, str(exc))
        return _page(request, partner_form=form)
    # Shown this once: the API key is kept only as a digest.
    return _page(request, new_partner=partner, new_api_key=api_key)


@require_POST
@member_required(read=Role.ADMIN, write=Role.ADMIN)
def exchange_partner_revoke(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    partner = get_or_404(exchange_partners_for(request.user), pk=pk)
    partner_revoke(partner=partner, actor=request.user)
    messages.success(request, _("The partner's key is revoked."))
    return redirect("exchange_settings")


@member_required(read=Role.ADMIN, write=Role.ADMIN)
def exchange_subscription_create(request: HtmxHttpRequest) -> HttpResponse:
    form = SubscriptionForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            subscription_save(
                agency=request.membership.agency, actor=request.user, **form.cleaned_data
            )
        except ExchangeError as exc:
            form.add_error("feed_url", str(exc))
        else:
            messages.success(request, _("Subscribed. The first fetch runs with the next sweep."))
            return redirect("exchange_settings")
    return render(request, "cases/exchange_subscription_form.html", {"form": form})


@require_POST
@member_required(read=Role.ADMIN, write=Role.ADMIN)
def exchange_subscription_fetch(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    subscription = get_or_404(exchange_subscriptions_for(request.user), pk=pk)
    subscription_fetch_request(subscription=subscription, actor=request.user)
    messages.success(request, _("Fetch queued."))
    return redirect("exchange_settings")


@require_POST
@member_required(read=Role.ADMIN, write=Role.ADMIN)
def exchange_subscription_delete(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    subscription = get_or_404(exchange_subscriptions_for(request.user), pk=pk)
    subscription_delete(subscription=subscription, actor=request.user)
    messages.success(request, _("Subscription removed with its signals."))
    return redirect("exchange_settings")
