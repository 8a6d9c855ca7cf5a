"""Agency admins edit their platform table (contacts differ per agency: trusted-flagger lanes)."""

from __future__ import annotations

import re
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction

from cases.agency.models import Platform
from cases.kernel.audit.services import audit_record

PLATFORM_FIELDS = (
    "name",
    "domains",
    "abuse_email",
    "web_form_url",
    "channel",
    "trusted_flagger_email",
    "languages",
    "cdn_domains",
    "notice_due_hours",
    "share_params",
)
# A query parameter name as it appears before '=' (decoded): letters, digits and the few
# punctuation marks real platforms use (`__cft__[0]`, `$deep_link`).
SHARE_PARAM_NAME = re.compile(r"^[A-Za-z0-9_.$~\-\[\]]{1,100}$")
MAX_SHARE_PARAMS = 200


def share_params_invalid(names: list[str]) -> list[str]:
    """The entries of `names` that are not a bare query parameter name."""
    return [name for name in names if not SHARE_PARAM_NAME.fullmatch(name)]


def platform_update(*, platform: Platform, actor: User, **fields: Any) -> Platform:
    """Change a platform's name, domains or notice contacts; the audit event lists the
    changed fields with their old and new values (none of them is sensitive)."""
    unknown = set(fields) - set(PLATFORM_FIELDS)
    if unknown:
        raise TypeError(f"platform_update() got unexpected fields: {sorted(unknown)}")
    # Stored lower-case without a leading dot or blanks, de-duplicated in order, so the
    # longest-suffix lookup in PlatformIndex matches however the admin typed them.
    for name in ("domains", "cdn_domains"):
        if name in fields:
            fields[name] = _clean_domains(fields[name])
    if "share_params" in fields:
        # Matched without regard to case, like the global tracking parameters.
        fields["share_params"] = list(
            dict.fromkeys(p.strip().lower() for p in fields["share_params"] if p.strip())
        )
        bad = share_params_invalid(fields["share_params"])
        if bad:
            raise ValueError(f"Not query parameter names: {bad[:5]}")
    with transaction.atomic():
        platform = Platform.objects.select_for_update().get(pk=platform.pk)
        changed = {
            name: {"from": getattr(platform, name), "to": value}
            for name, value in fields.items()
            if getattr(platform, name) != value
        }
        for name in changed:
            setattr(platform, name, fields[name])
        if changed:
            platform.save(update_fields=list(changed))
            audit_record(
                agency=platform.agency,
                actor=actor,
                action="platform.updated",
                obj=platform,
                data=changed,
            )
    return platform


def _clean_domains(domains: list[str]) -> list[str]:
    return list(dict.fromkeys(d.strip().strip(".").lower() for d in domains if d.strip(" .")))
