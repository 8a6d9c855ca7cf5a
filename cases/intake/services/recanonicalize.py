"""Re-key findings recorded before a platform's share parameters were known.

A TikTok link recorded with `is_from_webapp=1` before that parameter was in the platform
table kept it in its canonical form; the same video recorded today dedupes without it. This
recomputes each finding's canonical form from the URL as it was given, under the agency's
current rules. A finding whose new form is free is re-keyed (one audit event each, with the
old and new forms); one whose new form belongs to another finding is only reported: merging
two findings is a legal decision (notices, evidence and cases hang on both), not a rewrite."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import transaction

from cases.intake.canonical import InvalidURL, canonical_hash, canonicalize_url
from cases.intake.models import Finding
from cases.intake.services.url_rules import platform_index_for, url_rules
from cases.kernel.actor import Actor
from cases.kernel.audit.services import AuditEntry, audit_record_many
from cases.kernel.models import Agency

BATCH = 2_000


@dataclass
class RecanonicalizeResult:
    checked: int = 0
    rekeyed: list[int] = field(default_factory=list)
    # (finding, the finding that already holds its new canonical form)
    duplicates: list[tuple[int, int]] = field(default_factory=list)
    # (finding, why its URL is refused under today's rules); left as it is
    refused: list[tuple[int, str]] = field(default_factory=list)


def findings_recanonicalize(
    *, agency: Agency, actor: Actor, apply: bool = False
) -> RecanonicalizeResult:
    """Check (and with `apply`, re-key) every finding of the agency under today's rules."""
    rules = url_rules(platform_index_for(agency))
    result = RecanonicalizeResult()
    moves: dict[int, tuple[str, str, str]] = {}  # pk -> (old canonical, new canonical, new key)
    rows = Finding.objects.filter(agency=agency).order_by("pk")
    for pk, url, old in rows.values_list("pk", "url", "canonical_url").iterator(BATCH):
        result.checked += 1
        try:
            new = canonicalize_url(url, rules)
        except InvalidURL as exc:
            result.refused.append((pk, str(exc)))
            continue
        if new != old:
            moves[pk] = (old, new, canonical_hash(new))
    _sort_out_collisions(agency, moves, result)
    if apply and result.rekeyed:
        _rekey(agency, actor, {pk: moves[pk] for pk in result.rekeyed})
    return result


def _sort_out_collisions(
    agency: Agency, moves: dict[int, tuple[str, str, str]], result: RecanonicalizeResult
) -> None:
    """A new key held by a finding that stays, or claimed first by an earlier finding that
    moves, is a duplicate; the rest can move."""
    moving = set(moves)
    keys = [key for _old, _new, key in moves.values()]
    holders: dict[str, int] = {}
    for start in range(0, len(keys), BATCH):
        holders.update(
            Finding.objects.filter(agency=agency, canonical_hash__in=keys[start : start + BATCH])
            .exclude(pk__in=moving)
            .values_list("canonical_hash", "pk")
        )
    for pk in sorted(moves):
        key = moves[pk][2]
        if key in holders:
            result.duplicates.append((pk, holders[key]))
        else:
            holders[key] = pk
            result.rekeyed.append(pk)


def _rekey(agency: Agency, actor: Actor, moves: dict[int, tuple[str, str, str]]) -> None:
    with transaction.atomic():
        findings = list(Finding.objects.select_for_update().filter(pk__in=list(moves)))
        for finding in findings:
            _old, new, key = moves[finding.pk]
            finding.canonical_url, finding.canonical_hash = new, key
        Finding.objects.bulk_update(findings, ["canonical_url", "canonical_hash"], batch_size=BATCH)
        audit_record_many(
            agency=agency,
            actor=actor,
            entries=[
                AuditEntry(
                    action="finding.recanonicalized",
                    obj=finding,
                    data={"from": moves[finding.pk][0], "to": moves[finding.pk][1]},
                )
                for finding in findings
            ],
        )
