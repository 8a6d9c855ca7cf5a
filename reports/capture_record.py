"""What a dossier and a manifest say about one capture attempt beyond its outcome: how the
page behaved in the browser (cases.evidence.capture.browser, `details["browser"]`), the WACZ the
visit was packaged as (`details["wacz"]`), and, per finding whose status is Removed, the
two removal observations that confirm it (cases.evidence.services.observations).

Everything here is read from what the capture recorded; nothing is inferred. A removal
is stated only when two removal observations, with no online observation between them,
lie at least CAPTURE_REMOVAL_CONFIRM_MINUTES apart before the finding's removal time; an
unreachable or refused visit is never one of them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.utils.translation import gettext as _

from cases.evidence.capture.observation import Observation
from cases.evidence.models import Capture, Evidence
from cases.evidence.services.observations import confirm_interval
from cases.evidence.views.captures import NAVIGATION_LABELS
from cases.intake.models import FindingStatus
from reports.times import evidence_time

# The navigation record's entries that say the page did something (the "loaded" entry is
# the captured document itself).
CHANGES = ("blocked", "same_document", "document_opened", "left")


@dataclass
class Navigation:
    """The browser's record of one attempt: the address on screen when the screenshot was
    taken, and whatever the page tried while it was open."""

    displayed_url: str
    final_url: str
    events: list[dict[str, Any]]
    windows_opened: list[dict[str, Any]]
    document_rewritten: bool

    @property
    def address_changed(self) -> bool:
        return bool(self.displayed_url) and self.displayed_url != self.final_url

    @property
    def blocked(self) -> list[dict[str, Any]]:
        return [event for event in self.events if event.get("action") == "blocked"]

    @property
    def screenshot_is_of_dom(self) -> bool:
        """Whether the screenshot shows something the HTML as served does not."""
        return self.document_rewritten or self.address_changed

    def as_json(self) -> dict[str, Any]:
        return {
            "displayed_url": self.displayed_url or None,
            "blocked_navigations": [
                {
                    "url": event.get("url", ""),
                    "target": event.get("target") or None,
                    "reason": event.get("reason") or None,
                    "refusal": event.get("why") or None,
                    "at_ms": event.get("at_ms"),
                }
                for event in self.blocked
            ],
            "windows_opened": [
                {"url": item.get("url", ""), "at_ms": item.get("at_ms")}
                for item in self.windows_opened
            ],
            "document_rewritten": self.document_rewritten,
        }


def navigation_of(capture: Capture) -> Navigation | None:
    """None when the attempt has no browser record (no screenshot was attempted)."""
    browser = (capture.details or {}).get("browser")
    if not isinstance(browser, dict) or not browser:
        return None
    events = [
        {**event, "label": str(NAVIGATION_LABELS.get(event.get("action", ""), ""))}
        for event in browser.get("navigations") or []
        if isinstance(event, dict) and event.get("action") in CHANGES
    ]
    windows = [item for item in browser.get("windows_opened") or [] if isinstance(item, dict)]
    return Navigation(
        displayed_url=str(browser.get("displayed_url") or ""),
        final_url=capture.final_url or capture.requested_url,
        events=events,
        windows_opened=windows,
        document_rewritten=bool(browser.get("document_rewritten")),
    )


@dataclass
class AttemptFile:
    """One stored file an attempt produced: an evidence item of the dossier (`number`) when
    a successful capture produced it, else a record of an unsuccessful attempt (`label`)."""

    evidence: Evidence
    label: str
    number: int | None = None
    record_number: int | None = None


@dataclass
class WaczRecord:
    """The WACZ of one attempt as the capture recorded it, with the stored file."""

    signed: bool
    error: str
    datapackage_sha256: str
    public_key: str
    file: AttemptFile | None = None

    @property
    def signature_label(self) -> str:
        if self.signed:
            return _("signed (anonymous ECDSA, WACZ signing)")
        return _("not signed")

    def as_json(self) -> dict[str, Any]:
        return {
            "sha256": self.file.evidence.sha256 if self.file else None,
            "signed": self.signed,
            "signature": "anonymous ECDSA (WACZ signing 0.1.0)" if self.signed else "not signed",
            "public_key": self.public_key or None,
            "datapackage_sha256": self.datapackage_sha256 or None,
            "error": self.error or None,
        }


def wacz_of(capture: Capture, files: list[AttemptFile]) -> WaczRecord | None:
    """None when the attempt recorded no WACZ step and stored no WACZ."""
    info = (capture.details or {}).get("wacz")
    stored = next((f for f in files if f.evidence.kind == "wacz"), None)
    if not isinstance(info, dict) and stored is None:
        return None
    info = info if isinstance(info, dict) else {}
    # "Signed" only of a package that exists and whose record says the pipeline signed it.
    return WaczRecord(
        signed=bool(info.get("signed")) and stored is not None and not info.get("error"),
        error=str(info.get("error") or ""),
        datapackage_sha256=str(info.get("datapackage_sha256") or ""),
        public_key=str(info.get("public_key") or ""),
        file=stored,
    )


# --- removals -------------------------------------------------------------------------


@dataclass
class RemovalBasis:
    """Why a finding's status is Removed: the two removal observations that confirm it, or
    (`confirmed` False) who set the status, when the captures do not confirm it."""

    finding: Any
    first: Capture | None = None
    confirming: Capture | None = None
    set_by: str = ""
    set_at: str = ""
    confirm_ids: set[int] = field(default_factory=set)

    @property
    def confirmed(self) -> bool:
        return self.first is not None and self.confirming is not None

    def statement(self) -> str:
        if self.first is not None and self.confirming is not None:
            return _(
                "Finding #%(id)s is Removed: the removal was observed by %(first)s at "
                "%(first_at)s (%(first_why)s) and confirmed by %(second)s at %(second_at)s "
                "(%(second_why)s)."
            ) % {
                "id": self.finding.pk,
                "first": _label(self.first),
                "first_at": evidence_time(self.first.observed_at),
                "first_why": self.first.observation_reason_label,
                "second": _label(self.confirming),
                "second_at": evidence_time(self.confirming.observed_at),
                "second_why": self.confirming.observation_reason_label,
            }
        return _(
            "Finding #%(id)s is marked Removed (status set by %(actor)s at %(at)s), but no two "
            "removal observations confirm it (two visits seeing the content removed, at least "
            "%(minutes)s minutes apart, with none seeing it online in between): this dossier "
            "does not state that the content was removed."
        ) % {
            "id": self.finding.pk,
            "actor": self.set_by or _("an unrecorded actor"),
            "at": self.set_at or "—",
            "minutes": int(confirm_interval().total_seconds() // 60),
        }


def _label(capture: Capture) -> str:
    template = _("Re-check #%(id)s") if capture.is_recheck else _("Capture #%(id)s")
    return template % {"id": capture.pk}


def _confirming_pair(finding: Any, captures: list[Capture]) -> tuple[Capture, Capture] | None:
    """The first and the confirming observation of the removal run that ends at or before
    the finding's removal time, when they lie far enough apart."""
    decisive = sorted(
        (
            c
            for c in captures
            if c.observed_at is not None
            and c.observation in (Observation.LIVE, Observation.REMOVED)
            and (finding.removed_at is None or c.observed_at <= finding.removed_at)
        ),
        key=lambda c: (c.observed_at, c.pk),
    )
    if not decisive or decisive[-1].observation != Observation.REMOVED:
        return None
    confirming = decisive[-1]
    first = confirming
    for capture in reversed(decisive):
        if capture.observation != Observation.REMOVED:
            break
        first = capture
    assert first.observed_at is not None and confirming.observed_at is not None
    if first.pk == confirming.pk or confirming.observed_at - first.observed_at < confirm_interval():
        return None
    return first, confirming


def removal_bases(
    findings: list[Any], captures: list[Capture], status_events: list[Any]
) -> dict[int, RemovalBasis]:
    """Finding id -> why it is Removed, for each finding whose status is Removed.
    `status_events` are the findings' "finding.status_changed" audit events, oldest first."""
    bases = {}
    for finding in findings:
        if finding.status != FindingStatus.REMOVED:
            continue
        basis = RemovalBasis(finding=finding)
        pair = _confirming_pair(finding, [c for c in captures if c.finding_id == finding.pk])
        if pair is not None:
            basis.first, basis.confirming = pair
            basis.confirm_ids = {pair[0].pk, pair[1].pk}
        else:
            events = [
                event
                for event in status_events
                if event.object_id == str(finding.pk)
                and (event.data or {}).get("to") == FindingStatus.REMOVED
            ]
            if events:
                basis.set_by = events[-1].actor_label
                basis.set_at = evidence_time(events[-1].created_at)
            elif finding.removed_at is not None:
                basis.set_at = evidence_time(finding.removed_at)
        bases[finding.pk] = basis
    return bases
