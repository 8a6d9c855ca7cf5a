"""Quality gates a detector must pass before its scores may headline or rank anything.

A model card carries its held-out measurements; these gates read them and say, per gate,
the value, the threshold and whether it passed. The results are written on the card
(`card["gates"]`), so the card itself shows why a model is or is not allowed to be active:

- `held_out_per_class`: enough held-out items of each class (fewer make the AUC and its
  interval noise: 9 images once gave "AUC 1.00, 95% CI 1.00-1.00");
- `auc_ci_lower`: the lower bound of the AUC's bootstrap interval above a floor (a point
  estimate alone flatters small or lucky sets);
- `score_spread`: the raw held-out scores are not constant (a model stuck at 0.5 once
  turned into "probabilities" of 0.54-0.61 after calibration);
- `calibration_slope`: a Platt calibration fitted on held-out data, with a positive slope
  inside sane bounds (a slope near zero or huge means the raw scores carry no usable order).

Also what "calibrated" means here: a Platt calibration whose card says it was fitted on
held-out data. Anything else is the model's raw score, never called a probability.

Pure: no Django, no torch. The services pass thresholds read from settings."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

GATES_SCHEMA = "agencyguard.detector-gates/1"


@dataclass(frozen=True)
class GateThresholds:
    min_per_class: int = 50
    auc_ci_floor: float = 0.7
    min_score_std: float = 0.01
    slope_min: float = 0.05
    slope_max: float = 20.0


@dataclass(frozen=True)
class GateResult:
    name: str
    value: float | None
    threshold: str  # e.g. ">= 50", "> 0.7", "0.05 .. 20"
    passed: bool
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def calibration_fitted(card: dict[str, Any]) -> bool:
    """True only for a Platt calibration that the card says was fitted on held-out data."""
    calibration = card.get("calibration") or {}
    if not isinstance(calibration, dict) or calibration.get("method") != "platt":
        return False
    if calibration.get("fitted_on") != "held_out":
        return False
    n_fit = _number(calibration.get("n_fit"))
    return (
        n_fit is not None
        and n_fit > 0
        and _number(calibration.get("a")) is not None
        and _number(calibration.get("b")) is not None
    )


def held_out_counts(card: dict[str, Any]) -> tuple[int | None, int | None]:
    """(fake, real) held-out items the card's metrics were measured on (None: not stated)."""
    metrics = card.get("metrics") or {}
    if not isinstance(metrics, dict):
        return None, None
    fake, real = _number(metrics.get("n_fake")), _number(metrics.get("n_real"))
    return (None if fake is None else int(fake)), (None if real is None else int(real))


def evaluate_gates(card: dict[str, Any], thresholds: GateThresholds) -> list[GateResult]:
    """Every gate's result for one card, in a fixed order."""
    metrics = card.get("metrics") or {}
    if not isinstance(metrics, dict):
        metrics = {}
    results = []

    fake, real = held_out_counts(card)
    smallest = None if fake is None or real is None else min(fake, real)
    results.append(
        GateResult(
            name="held_out_per_class",
            value=None if smallest is None else float(smallest),
            threshold=f">= {thresholds.min_per_class}",
            passed=smallest is not None and smallest >= thresholds.min_per_class,
            detail="not measured"
            if smallest is None
            else f"{fake} fake and {real} real held-out items",
        )
    )

    ci = metrics.get("auc_ci")
    low = _number(ci[0]) if isinstance(ci, list | tuple) and len(ci) == 2 else None
    results.append(
        GateResult(
            name="auc_ci_lower",
            value=low,
            threshold=f"> {thresholds.auc_ci_floor:g}",
            passed=low is not None and low > thresholds.auc_ci_floor,
            detail="not measured" if low is None else "",
        )
    )

    spread = _number(metrics.get("raw_score_std"))
    results.append(
        GateResult(
            name="score_spread",
            value=spread,
            threshold=f"> {thresholds.min_score_std:g}",
            passed=spread is not None and spread > thresholds.min_score_std,
            detail="not measured"
            if spread is None
            else ("constant output" if spread <= thresholds.min_score_std else ""),
        )
    )

    fitted = calibration_fitted(card)
    slope = _number((card.get("calibration") or {}).get("a")) if fitted else None
    results.append(
        GateResult(
            name="calibration_slope",
            value=slope,
            threshold=f"{thresholds.slope_min:g} .. {thresholds.slope_max:g}",
            passed=slope is not None and thresholds.slope_min <= slope <= thresholds.slope_max,
            detail="no calibration fitted on held-out data" if not fitted else "",
        )
    )
    return results


def gates_report(card: dict[str, Any], thresholds: GateThresholds) -> dict[str, Any]:
    """The block written on a card: the thresholds used, each result, and the verdict."""
    results = evaluate_gates(card, thresholds)
    return {
        "schema": GATES_SCHEMA,
        "thresholds": asdict(thresholds),
        "results": [result.to_dict() for result in results],
        "passed": all(result.passed for result in results),
        "failed": [result.name for result in results if not result.passed],
    }
