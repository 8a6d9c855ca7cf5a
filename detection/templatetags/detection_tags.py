"""Template helpers of detection: the evidence panel, signal texts in the reader's language,
and scores worded for what they are (a calibrated probability only with a calibration fitted
on held-out data, else the model's raw score) with the model's measured AUC."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from detection import statements
from detection.forms import DetectionReviewForm
from detection.selectors import detection_panel_for

register = template.Library()

# What each kind of provenance signal means, for the person reading the panel.
SIGNAL_MEANINGS = {
    "c2pa": gettext_lazy(
        "Content Credentials (C2PA): a signed record of how the file was made, embedded by the "
        "camera or the software that made or edited it. A manifest declaring an AI source is "
        "strong evidence. Re-encoding or a screenshot removes it, so its absence proves nothing."
    ),
    "iptc_digital_source_type": gettext_lazy(
        "IPTC digital source type: a metadata field in which generators such as Adobe Firefly, "
        "Google and Midjourney declare that the image was made by AI. Easily stripped, rarely forged."
    ),
    "png_text": gettext_lazy(
        "Generation parameters (prompt, sampler, seed) that image generators write into the file. "
        "Only a generator writes them."
    ),
    "exif_software": gettext_lazy(
        "The software field of the file's metadata names an AI generator or a face-swap tool."
    ),
    "sd_watermark": gettext_lazy(
        "The invisible watermark that Stable Diffusion's reference code embeds in every image. "
        "It survives only in unmodified files: re-encoding or resizing removes it."
    ),
}
SIGNAL_KINDS = {
    "c2pa": gettext_lazy("C2PA manifest"),
    "iptc_digital_source_type": gettext_lazy("IPTC digital source type"),
    "png_text": gettext_lazy("Generator text in the file"),
    "exif_software": gettext_lazy("Generator named in metadata"),
    "sd_watermark": gettext_lazy("Stable Diffusion watermark"),
}
STRENGTHS = {
    "strong": gettext_lazy("strong evidence of AI generation"),
    "weak": gettext_lazy("a hint of AI generation"),
    "info": gettext_lazy("provenance, no AI claim"),
}


@register.inclusion_tag("detection/_evidence_detection_panel.html", takes_context=True)
def detection_panel(context: template.Context, evidence: Any) -> dict[str, Any]:
    """{% detection_panel evidence %}: the detection panel of one evidence item."""
    request = context["request"]
    return {
        "panel": detection_panel_for(request.user, evidence),
        "review_form": DetectionReviewForm(),
        "request": request,
        "csrf_token": context.get("csrf_token"),
        "embedded": True,
        "next_url": request.get_full_path(),
    }


def _translated(message: Any, params: Any) -> str | None:
    if not isinstance(message, str) or not isinstance(params, dict):
        return None
    try:
        return _(message) % {key: _(str(value)) for key, value in params.items()}
    except (KeyError, TypeError, ValueError):
        return None


@register.filter
def signal_summary(signal: dict[str, Any]) -> str:
    """The signal's summary in the reader's language (stored with its template and params),
    followed by its further statements (a C2PA manifest's validity), each translated."""
    details = signal.get("details") or {}
    main = _translated(details.get("message"), details.get("params"))
    if main is None:
        return str(signal.get("summary", ""))
    statements = [
        _translated(item.get("message"), item.get("params"))
        for item in details.get("statements") or []
        if isinstance(item, dict)
    ]
    return " ".join([main, *(text for text in statements if text)])


# What each category of C2PA validation failure means (detection.provenance.c2pa.C2paFailure).
C2PA_FAILURE_LABELS = {
    "content_altered": gettext_lazy("content altered after signing"),
    "signature_invalid": gettext_lazy("claim signature broken"),
    "signer_untrusted": gettext_lazy("signer not on the trust list"),
    "identity_untrusted": gettext_lazy("identity credential not trusted"),
    "other": gettext_lazy("other failure"),
}


@register.filter
def c2pa_failures(signal: dict[str, Any]) -> list[dict[str, str]]:
    """[{code, label}] of a C2PA signal's validation failures, for listing their codes."""
    details = signal.get("details") or {}
    return [
        {
            "code": str(item.get("code", "")),
            "label": str(C2PA_FAILURE_LABELS.get(str(item.get("category", "")), "")),
        }
        for item in details.get("failures") or []
        if isinstance(item, dict)
    ]


@register.filter
def no_c2pa_manifest(run: Any) -> bool:
    """True when the C2PA reader parsed the file and found no manifest. Takes a DetectionRun
    (evidence panel) or the dossier's DetectionSummary (`c2pa_absent`)."""
    absent = getattr(run, "c2pa_absent", None)
    if absent is None:
        details = getattr(run, "details", None)
        absent = isinstance(details, dict) and details.get("c2pa_manifest_absent") is True
    return bool(absent)


@register.filter
def signal_meaning(kind: str) -> str:
    return str(SIGNAL_MEANINGS.get(kind, ""))


@register.filter
def signal_kind(kind: str) -> str:
    return str(SIGNAL_KINDS.get(kind, kind))


@register.filter
def signal_strength(strength: str) -> str:
    return str(STRENGTHS.get(strength, strength))


# Colours of existing badge styles (static/css/app.css), reused rather than duplicated.
BADGE_CLASSES = {
    "confirmed_fake": "status-reappeared",
    "not_fake": "status-removed",
    "unsure": "status-notice_sent",
    "strong": "status-reappeared",
    "weak": "status-notice_sent",
    "info": "status-dismissed",
    "queued": "job-queued",
    "running": "job-running",
    "done": "job-done",
    "failed": "job-failed",
    "model_error": "job-failed",
    "decode_error": "job-failed",
}


@register.filter
def badge_class(value: str) -> str:
    return BADGE_CLASSES.get(value, "")


@register.filter
def probability(value: Any) -> str:
    """0.8734 → '0.87' (two decimals: no calibration is finer than that)."""
    if value is None:
        return "—"
    return f"{float(value):.2f}"


@register.filter
def score_kind_label(run: Any) -> str:
    """What a run's number is: a calibrated probability, or the model's raw score."""
    return statements.score_kind_label(bool(run is not None and run.score_calibrated))


@register.filter
def gate_label(name: str) -> str:
    return statements.gate_label(name)


@register.simple_tag
def score_sentence(run: Any) -> str:
    """'calibrated probability 0.87 (model AUC 0.91, 95% CI 0.88-0.94, on 412 held-out
    items)', or 'raw model score 0.87, not a probability (...)': a score, never a verdict,
    named for what it is, always with how good the model measured."""
    if run is None or run.item_probability is None:
        return ""
    version = run.detector_version
    auc = version.auc if version is not None else None
    n_eval = version.n_eval if version is not None else None
    ci = version.metrics.get("auc_ci") if version is not None else None
    params: dict[str, Any] = {"score": probability(run.item_probability)}
    if auc is None:
        measured = _("model accuracy not measured")
    else:
        params.update(auc=f"{auc:.2f}", n=n_eval or "?")
        if isinstance(ci, list | tuple) and len(ci) == 2 and None not in ci:
            params.update(low=f"{float(ci[0]):.2f}", high=f"{float(ci[1]):.2f}")
            measured = (
                _("model AUC %(auc)s, 95%% CI %(low)s-%(high)s, on %(n)s held-out items") % params
            )
        else:
            measured = _("model AUC %(auc)s on %(n)s held-out items") % params
    if run.score_calibrated:
        return _("calibrated probability %(score)s (%(measured)s)") % {
            **params,
            "measured": measured,
        }
    return _("raw model score %(score)s, not a probability (%(measured)s)") % {
        **params,
        "measured": measured,
    }
