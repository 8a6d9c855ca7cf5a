"""An artist's consent to share the hashes of their confirmed fakes with partner agencies.

Recording or withdrawing it is an admin's act with an audit event; the exchange bank
(cases.matching.services.bank) hears of it through `artist_consent_changed` and publishes
or withdraws the artist's signals in the same transaction."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from cases.agency.models import Artist, ArtistShareConsent
from cases.agency.signals import artist_consent_changed
from cases.kernel.audit.services import audit_record


class ConsentError(Exception):
    """A consent change that cannot be made (already in force, none to withdraw)."""


def artist_consent_in_force(*, artist: Artist) -> ArtistShareConsent | None:
    return ArtistShareConsent.objects.filter(artist=artist, withdrawn_at__isnull=True).first()


def artist_consent_record(*, artist: Artist, actor: User, note: str = "") -> ArtistShareConsent:
    """Record the artist's consent to share (one grant in force at a time)."""
    with transaction.atomic():
        Artist.objects.select_for_update().filter(pk=artist.pk).first()
        if artist_consent_in_force(artist=artist) is not None:
            raise ConsentError(_("This artist's consent to share is already recorded."))
        consent = ArtistShareConsent.objects.create(
            agency_id=artist.agency_id, artist=artist, recorded_by=actor, note=note.strip()[:500]
        )
        audit_record(
            agency=artist.agency,
            actor=actor,
            action="artist.share_consent_recorded",
            obj=artist,
            data={"consent": consent.pk, "note": consent.note},
        )
        artist_consent_changed.send(sender=ArtistShareConsent, artist=artist)
    return consent


def artist_consent_withdraw(*, artist: Artist, actor: User) -> ArtistShareConsent:
    """Withdraw the consent in force: the artist's signals leave the bank as deletions."""
    with transaction.atomic():
        Artist.objects.select_for_update().filter(pk=artist.pk).first()
        consent = artist_consent_in_force(artist=artist)
        if consent is None:
            raise ConsentError(_("There is no consent to share to withdraw."))
        consent.withdrawn_at = timezone.now()
        consent.withdrawn_by = actor
        consent.save(update_fields=["withdrawn_at", "withdrawn_by"])
        audit_record(
            agency=artist.agency,
            actor=actor,
            action="artist.share_consent_withdrawn",
            obj=artist,
            data={"consent": consent.pk},
        )
        artist_consent_changed.send(sender=ArtistShareConsent, artist=artist)
    return consent
