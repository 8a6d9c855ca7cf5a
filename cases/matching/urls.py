"""URLs of reference media (official works per artist, for re-upload matching)."""

from __future__ import annotations

from django.urls import path

from cases.matching.views import bank, exchange, reference_media

urlpatterns = [
    path("reference-media/", reference_media.reference_media_index, name="reference_media_index"),
    path(
        "artists/<int:artist_pk>/reference-media/",
        reference_media.reference_media_list,
        name="reference_media_list",
    ),
    path(
        "artists/<int:artist_pk>/reference-media/new/",
        reference_media.reference_media_create,
        name="reference_media_create",
    ),
]

urlpatterns += [
    path("exchange/", exchange.exchange_settings, name="exchange_settings"),
    path(
        "exchange/partners/new/", exchange.exchange_partner_create, name="exchange_partner_create"
    ),
    path(
        "exchange/partners/<int:pk>/revoke/",
        exchange.exchange_partner_revoke,
        name="exchange_partner_revoke",
    ),
    path(
        "exchange/subscriptions/new/",
        exchange.exchange_subscription_create,
        name="exchange_subscription_create",
    ),
    path(
        "exchange/subscriptions/<int:pk>/fetch/",
        exchange.exchange_subscription_fetch,
        name="exchange_subscription_fetch",
    ),
    path(
        "exchange/subscriptions/<int:pk>/delete/",
        exchange.exchange_subscription_delete,
        name="exchange_subscription_delete",
    ),
]

urlpatterns += [
    path("evidence/<int:pk>/bank-labels/", bank.evidence_bank_labels, name="evidence_bank_labels"),
]
