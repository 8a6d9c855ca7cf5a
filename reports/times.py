"""Instants as the dossier and the packet print them: UTC first, the agency's time beside it.

The dossier (read by people) shows the agency's zone with its label (cases.kernel.times); the
packet's manifest keeps its `*_kst` keys in Korean time whatever the agency's zone, as its
format documents."""

from __future__ import annotations

import zoneinfo
from datetime import datetime

from django.utils import timezone

from cases.kernel.times import when_evidence, zone_label

KST = zoneinfo.ZoneInfo("Asia/Seoul")
UTC = zoneinfo.ZoneInfo("UTC")


def utc_and_kst(moment: datetime | None) -> tuple[str, str]:
    """ISO-like UTC and KST renderings of one instant ("" when unknown)."""
    if moment is None:
        return "", ""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%d %H:%M:%S UTC"), moment.astimezone(KST).strftime(
        "%Y-%m-%d %H:%M:%S KST"
    )


def utc_and_local(moment: datetime | None) -> tuple[str, str]:
    """ISO-like UTC and agency-zone renderings of one instant, each with its zone's label."""
    if moment is None:
        return "", ""
    local = timezone.localtime(moment)
    return (
        moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
        f"{local:%Y-%m-%d %H:%M:%S} {zone_label(local)}",
    )


def evidence_time(moment: datetime | None) -> str:
    """A time as the dossier's sentences and tables print it: the agency's zone with its
    label and UTC beside it (cases.kernel.times.when_evidence); "" when unknown."""
    return when_evidence(moment) if moment is not None else ""
