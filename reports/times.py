"""Instants as the dossier prints them: UTC first, Korean time beside it."""

from __future__ import annotations

import zoneinfo
from datetime import datetime

KST = zoneinfo.ZoneInfo("Asia/Seoul")


def utc_and_kst(moment: datetime | None) -> tuple[str, str]:
    """ISO-like UTC and KST renderings of one instant ("" when unknown)."""
    if moment is None:
        return "", ""
    utc = moment.astimezone(zoneinfo.ZoneInfo("UTC"))
    return utc.strftime("%Y-%m-%d %H:%M:%S UTC"), moment.astimezone(KST).strftime(
        "%Y-%m-%d %H:%M:%S KST"
    )
