"""Human labels for every audit action, in the reader's language.

Every action the code records has a label here (tests/kernel/test_audit_labels.py finds them
in the source and fails on a missing one). Pages, dossiers and notices show the label, never
the code; the code stays in the database, the API and the logs."""

from __future__ import annotations

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

ACTION_LABELS = {
    "agency.created": gettext_lazy("Agency created"),
    "agency.two_factor_required": gettext_lazy("Two-factor login required for everyone"),
    "agency.time_zone_changed": gettext_lazy("Agency time zone changed"),
    "agency.two_factor_optional": gettext_lazy("Two-factor login no longer required for everyone"),
    "user.login": gettext_lazy("Logged in"),
    "user.logout": gettext_lazy("Logged out"),
    "two_factor.enabled": gettext_lazy("Two-factor login switched on"),
    "two_factor.verified": gettext_lazy("Second login step passed"),
    "two_factor.recovery_code_used": gettext_lazy("Recovery code used"),
    "two_factor.recovery_codes_regenerated": gettext_lazy("New recovery codes made"),
    "two_factor.disabled": gettext_lazy("Two-factor login switched off"),
    "two_factor.reset": gettext_lazy("Two-factor login reset"),
    "finding.recorded": gettext_lazy("Finding recorded"),
    "finding.status_changed": gettext_lazy("Finding status changed"),
    "finding.updated": gettext_lazy("Finding edited"),
    "finding.recanonicalized": gettext_lazy("Finding re-keyed under the platform rules"),
    "finding.platform_changed": gettext_lazy("Finding's platform changed"),
    "finding.artists_linked": gettext_lazy("Artists linked from matching media"),
    "finding.reappeared_alert": gettext_lazy("Alert: content online again"),
    "finding.removal_observed": gettext_lazy("First removal observation"),
    "finding.return_observed": gettext_lazy("First observation online again"),
    "finding.change_unconfirmed": gettext_lazy("Observed change not confirmed"),
    "fan_report.received": gettext_lazy("Fan report received"),
    "abuse_lookup.requested": gettext_lazy("Abuse contact lookup requested"),
    "abuse_lookup.done": gettext_lazy("Abuse contacts looked up (RDAP)"),
    "import.created": gettext_lazy("Import started"),
    "import.finished": gettext_lazy("Import finished"),
    "import.failed_rows_retried": gettext_lazy("Failed rows of the import retried"),
    "import.failed": gettext_lazy("Import failed"),
    "import.requeued": gettext_lazy("Import put back in the queue"),
    "import.retried": gettext_lazy("Import retried"),
    "case.created": gettext_lazy("Case opened"),
    "case.updated": gettext_lazy("Case edited"),
    "case.status_changed": gettext_lazy("Case status changed"),
    "case.findings_linked": gettext_lazy("Findings linked to the case"),
    "case.findings_unlinked": gettext_lazy("Findings unlinked from the case"),
    "case.deadline_added": gettext_lazy("Deadline added"),
    "case.deadline_done": gettext_lazy("Deadline done"),
    "case.artists_added": gettext_lazy("Artists added from linked findings"),
    "comment.added": gettext_lazy("Comment added"),
    "task.added": gettext_lazy("Task added"),
    "task.done": gettext_lazy("Task done"),
    "artist.created": gettext_lazy("Artist added"),
    "artist.updated": gettext_lazy("Artist edited"),
    "group.created": gettext_lazy("Group added"),
    "group.updated": gettext_lazy("Group edited"),
    "group.deleted": gettext_lazy("Group deleted"),
    "membership.created": gettext_lazy("Staff account created"),
    "membership.updated": gettext_lazy("Staff account changed"),
    "membership.preferences_changed": gettext_lazy("Preferences changed"),
    "api_token.created": gettext_lazy("API token created"),
    "api_token.rotated": gettext_lazy("API token replaced"),
    "api_token.revoked": gettext_lazy("API token revoked"),
    "password.changed": gettext_lazy("Password changed"),
    "password.reset_sent": gettext_lazy("Password reset link sent"),
    "password.reset_completed": gettext_lazy("Password set through a reset link"),
    "platform.updated": gettext_lazy("Platform edited"),
    "removal_signature.created": gettext_lazy("Removal signature added"),
    "removal_signature.updated": gettext_lazy("Removal signature edited"),
    "reference_media.added": gettext_lazy("Official work added"),
    "capture.requested": gettext_lazy("Capture requested"),
    "capture.finished": gettext_lazy("Capture finished"),
    "capture.failed": gettext_lazy("Capture failed"),
    "capture.requeued": gettext_lazy("Capture put back in the queue"),
    "capture.retried": gettext_lazy("Capture retried"),
    "evidence.collected": gettext_lazy("Evidence collected"),
    "evidence.viewed": gettext_lazy("Evidence viewed"),
    "evidence.revealed": gettext_lazy("Evidence shown unblurred"),
    "evidence.downloaded": gettext_lazy("Evidence downloaded"),
    "evidence.exported": gettext_lazy("Evidence exported"),
    "evidence.transferred": gettext_lazy("Evidence transferred"),
    "evidence.verified": gettext_lazy("Evidence hash verified"),
    "evidence.verify_run": gettext_lazy("Stored evidence checked against its hashes"),
    "evidence.matched": gettext_lazy("Evidence matched to official works"),
    "detection.requested": gettext_lazy("Detection requested"),
    "detection.finished": gettext_lazy("Detection finished"),
    "detection.failed": gettext_lazy("Detection failed"),
    "detection.requeued": gettext_lazy("Detection put back in the queue"),
    "detection.retried": gettext_lazy("Detection retried"),
    "detection.rerun_all": gettext_lazy("Detection re-run on all media"),
    "detection.reviewed": gettext_lazy("Detection verdict recorded"),
    "detection.training_exported": gettext_lazy("Reviewed media exported for training"),
    "dossier.requested": gettext_lazy("Dossier requested"),
    "dossier.generated": gettext_lazy("Dossier generated"),
    "dossier.downloaded": gettext_lazy("Dossier downloaded"),
    "dossier.failed": gettext_lazy("Dossier failed"),
    "dossier.requeued": gettext_lazy("Dossier put back in the queue"),
    "dossier.retried": gettext_lazy("Dossier retried"),
    "notice.created": gettext_lazy("Notice drafted"),
    "notice.updated": gettext_lazy("Notice edited"),
    "notice.finalised": gettext_lazy("Notice text made final"),
    "notice.sent": gettext_lazy("Notice sent"),
    "notice.submitted": gettext_lazy("Notice submitted through the platform's form"),
    "notice.acknowledged": gettext_lazy("Platform acknowledged the notice"),
    "notice.reminder_sent": gettext_lazy("Deadline reminder sent"),
    "notice.escalated": gettext_lazy("Notice escalated after its deadline"),
    "notice.actioned": gettext_lazy("Platform removed the content"),
    "notice.rejected": gettext_lazy("Platform rejected the notice"),
    "notice.no_response": gettext_lazy("No response from the platform"),
    "notice.reclassified_awaiting_submission": gettext_lazy(
        "Notice put back to awaiting submission (no submission recorded)"
    ),
    "notice_template.saved": gettext_lazy("Notice template saved"),
    "notice_template.reset": gettext_lazy("Notice template reset to the default"),
    "signer_profile.saved": gettext_lazy("Signer details saved"),
    "webhook.created": gettext_lazy("Webhook added"),
    "webhook.updated": gettext_lazy("Webhook edited"),
    "webhook.secret_rotated": gettext_lazy("Webhook secret replaced"),
}


def action_label(action: str) -> str:
    """'finding.status_changed' → 'Finding status changed'. An action recorded before its
    label existed reads as a sentence too ('Finding: artists linked'), never as the code."""
    label = ACTION_LABELS.get(action)
    if label is not None:
        return str(label)
    subject, _dot, verb = action.partition(".")
    return _("%(subject)s: %(verb)s") % {
        "subject": subject.replace("_", " ").capitalize(),
        "verb": verb.replace("_", " ") or _("event"),
    }
