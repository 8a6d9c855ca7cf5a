"""What the product says about a detector and its numbers, in one place, so the evidence
page, the model card page, the dossier, the packet manifest and the API say the same thing.

- A number is a "calibrated probability" only when the detector's card holds a calibration
  fitted on held-out data (detection.gates.calibration_fitted) and the run recorded it;
  otherwise it is the "raw model score, not a probability".
- A legacy or gate-failing model never gives a headline score, and its caveats go with every
  number it shows.
- The small-sample warning states the held-out counts, wherever a score of that model shows."""

from __future__ import annotations

from typing import Any, Protocol

from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from detection.gates import GateThresholds, held_out_counts


# What the wording needs of a detector and of a run. detection.models satisfies both (its
# DetectorVersion properties call this module), so this module does not import the models.
class DetectorFacts(Protocol):
    @property
    def card(self) -> Any: ...
    @property
    def legacy(self) -> bool: ...
    @property
    def calibrated(self) -> bool: ...
    @property
    def n_eval(self) -> int | None: ...
    @property
    def gate_results(self) -> list[dict[str, Any]]: ...
    @property
    def gate_failures(self) -> list[str]: ...
    @property
    def caveats(self) -> list[str]: ...
    @property
    def small_sample_warning(self) -> str: ...


class RunFacts(Protocol):
    @property
    def detector_version(self) -> DetectorFacts | None: ...
    @property
    def has_score(self) -> bool: ...
    @property
    def score_calibrated(self) -> bool: ...
    @property
    def item_probability(self) -> float | None: ...
    @property
    def is_headline(self) -> bool: ...


SCORE_CALIBRATED = "calibrated_probability"
SCORE_RAW = "raw_model_score"


def gate_thresholds() -> GateThresholds:
    """The gate thresholds of this deployment (settings DETECTION_GATE_*)."""
    return GateThresholds(
        min_per_class=int(getattr(settings, "DETECTION_GATE_MIN_PER_CLASS", 50)),
        auc_ci_floor=float(getattr(settings, "DETECTION_GATE_AUC_CI_FLOOR", 0.7)),
        min_score_std=float(getattr(settings, "DETECTION_GATE_MIN_SCORE_STD", 0.01)),
        slope_min=float(getattr(settings, "DETECTION_GATE_SLOPE_MIN", 0.05)),
        slope_max=float(getattr(settings, "DETECTION_GATE_SLOPE_MAX", 20.0)),
    )


def score_kind(calibrated: bool) -> str:
    return SCORE_CALIBRATED if calibrated else SCORE_RAW


def score_kind_label(calibrated: bool) -> str:
    return _("calibrated probability") if calibrated else _("raw model score, not a probability")


GATE_LABELS = {
    "held_out_per_class": gettext_noop("held-out items per class"),
    "auc_ci_lower": gettext_noop("lower bound of the AUC's 95% interval"),
    "score_spread": gettext_noop("spread of raw scores (standard deviation)"),
    "calibration_slope": gettext_noop("calibration slope fitted on held-out data"),
}


def gate_label(name: str) -> str:
    return _(GATE_LABELS.get(name, name))


def small_sample_warning(version: DetectorFacts) -> str:
    """The warning that goes with every score of this model, naming the held-out counts;
    "" when the held-out set has enough items of each class."""
    card = version.card or {}
    metrics = card.get("metrics") or {}
    fake, real = held_out_counts(card)
    n_eval = version.n_eval
    minimum = gate_thresholds().min_per_class
    if fake is None or real is None:
        if not n_eval:
            return _("Not measured on held-out data: no accuracy figure exists for this model.")
        return _(
            "Only %(n)s held-out items, without a count per class: the measured accuracy "
            "cannot be checked."
        ) % {"n": n_eval}
    if min(fake, real) < minimum:
        return _(
            "Only %(n)s held-out items (%(fake)s fake, %(real)s real; the gate asks for at "
            "least %(min)s of each): the measured AUC and its interval are very uncertain."
        ) % {"n": fake + real, "fake": fake, "real": real, "min": minimum}
    stored = metrics.get("warning") if isinstance(metrics, dict) else None
    return str(stored) if stored else ""


def detector_caveats(version: DetectorFacts) -> list[str]:
    """Everything a reader must know next to a number of this model, most serious first."""
    caveats = []
    if version.legacy:
        caveats.append(
            _(
                "Legacy baseline model: never a headline score and never used to rank findings. "
                "Measured from outside, it scores modern generators (StyleGAN, diffusion) worse "
                "than chance."
            )
        )
    failures = version.gate_failures
    if failures or not version.gate_results:
        caveats.append(
            _(
                "Fails its quality gates (%(gates)s): its numbers never head a page or rank findings."
            )
            % {
                "gates": ", ".join(gate_label(name) for name in failures)
                if failures
                else _("not evaluated")
            }
        )
    if not version.calibrated:
        caveats.append(
            _("Raw model score, not a probability: no calibration was fitted on held-out data.")
        )
    warning = small_sample_warning(version)
    if warning:
        caveats.append(warning)
    limits = str((version.card or {}).get("limits") or "")
    if limits:
        caveats.append(limits)
    return caveats


def run_score_statement(run: RunFacts) -> dict[str, Any]:
    """The facts about one run's number, as the dossier, the manifest and the API state
    them (the template tags word the same facts for the screen)."""
    version = run.detector_version
    has_score = run.has_score
    calibrated = bool(has_score and run.score_calibrated)
    return {
        "score": run.item_probability if has_score else None,
        "score_kind": score_kind(calibrated) if has_score else None,
        "score_label": score_kind_label(calibrated) if has_score else "",
        "calibrated_probability_fake": run.item_probability if calibrated else None,
        "raw_model_score_fake": run.item_probability if has_score and not calibrated else None,
        "headline": run.is_headline,
        "caveats": version.caveats if version is not None and has_score else [],
        "small_sample_warning": version.small_sample_warning if version is not None else "",
    }
