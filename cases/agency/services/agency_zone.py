"""An agency's time zone: the one its members' pages, notices and dossiers show times in."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db import transaction

from cases.kernel.audit.services import audit_record
from cases.kernel.models import Agency


def agency_set_time_zone(*, agency: Agency, actor: User, time_zone: str) -> Agency:
    """Set the zone (an IANA name the form checked; "" for the deployment's); audited."""
    with transaction.atomic():
        agency = Agency.objects.select_for_update().get(pk=agency.pk)
        if agency.time_zone != time_zone:
            before = agency.time_zone
            agency.time_zone = time_zone
            agency.save(update_fields=["time_zone"])
            audit_record(
                agency=agency,
                actor=actor,
                action="agency.time_zone_changed",
                obj=agency,
                data={"from": before, "to": time_zone},
            )
    return agency
