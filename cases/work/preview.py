"""The triage queue's side preview of one finding: what a legal assistant needs to decide
without leaving the queue. A fixed number of queries whatever the finding holds (finding,
artists, latest notice, latest capture, a window of its evidence), all through the user's
scoped selectors, so an outsider's id is a 404 before anything is read."""

from __future__ import annotations

from dataclasses import dataclass

from cases.evidence.models import Capture, Evidence
from cases.evidence.previews import has_image_preview
from cases.evidence.selectors import capture_list_for, evidence_list_for
from cases.intake.models import Finding
from cases.intake.selectors import finding_get_for
from cases.kernel.tenancy import AnyUser, scoped
from cases.notices.models import Notice

# The newest evidence items looked at for a thumbnail: a finding with many files (videos,
# archives) still costs one bounded query.
THUMBNAIL_WINDOW = 20


@dataclass(frozen=True)
class FindingPreview:
    """One finding as the side panel shows it. `thumbnail` is the newest image evidence,
    always shown through the blurred preview; revealing it goes through the evidence page's
    audited reveal."""

    finding: Finding
    artists: list[str]
    notice: Notice | None
    capture: Capture | None
    thumbnail: Evidence | None


def finding_preview_for(user: AnyUser, pk: int | str) -> FindingPreview:
    finding = finding_get_for(user, pk)
    artists = list(finding.artists.values_list("stage_name", flat=True))
    notice = (
        scoped(Notice.objects.filter(findings=finding), user)
        .select_related("platform")
        .only("id", "status", "due_at", "created_at", "platform__name")
        .order_by("-created_at", "-id")
        .first()
    )
    capture = (
        capture_list_for(user)
        .filter(finding=finding)
        .select_related(None)
        .only("id", "status", "outcome", "created_at", "finished_at")
        .first()
    )
    candidates = (
        evidence_list_for(user)
        .filter(finding=finding)
        .select_related(None)
        .only("id", "media_type", "explicit", "kind", "collected_at")
        .order_by("-collected_at", "-id")[:THUMBNAIL_WINDOW]
    )
    thumbnail = next((item for item in candidates if has_image_preview(item)), None)
    return FindingPreview(
        finding=finding, artists=artists, notice=notice, capture=capture, thumbnail=thumbnail
    )
