"""Metrics for a detector, in numpy: ROC and AUC (with a bootstrap confidence interval),
equal error rate, expected calibration error, Platt scaling, and the two plots a model card
needs (ROC curve, reliability diagram).

Labels are 1 = fake, 0 = real; scores are "higher = more likely fake". No Django, no torch."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from matplotlib.figure import Figure

FloatArray = np.ndarray


def _check(labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    labels = np.asarray(labels).astype(np.int64).ravel()
    scores = np.asarray(scores, dtype=np.float64).ravel()
    if labels.shape != scores.shape:
        raise ValueError("labels and scores differ in length")
    if not np.isin(labels, (0, 1)).all():
        raise ValueError("labels must be 0 (real) or 1 (fake)")
    if not np.isfinite(scores).all():
        raise ValueError("scores must be finite")
    return labels, scores


def roc_curve(labels: np.ndarray, scores: np.ndarray) -> tuple[FloatArray, FloatArray, FloatArray]:
    """(false positive rates, true positive rates, thresholds), from (0, 0) to (1, 1).
    Tied scores form one step, so the curve does not depend on input order."""
    labels, scores = _check(labels, scores)
    positives, negatives = int(labels.sum()), int(len(labels) - labels.sum())
    if positives == 0 or negatives == 0:
        raise ValueError("a ROC curve needs both real and fake examples")
    order = np.argsort(-scores, kind="mergesort")
    scores, labels = scores[order], labels[order]
    # Last index of each run of equal scores.
    ends = np.r_[np.flatnonzero(np.diff(scores)), len(scores) - 1]
    tp = np.cumsum(labels)[ends]
    fp = (ends + 1) - tp
    tpr = np.r_[0.0, tp / positives]
    fpr = np.r_[0.0, fp / negatives]
    thresholds = np.r_[np.inf, scores[ends]]
    return fpr, tpr, thresholds


def auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve = P(score of a random fake > score of a random real),
    ties counting one half (the Mann-Whitney statistic, via average ranks)."""
    labels, scores = _check(labels, scores)
    positives = int(labels.sum())
    negatives = len(labels) - positives
    if positives == 0 or negatives == 0:
        raise ValueError("AUC needs both real and fake examples")
    order = np.argsort(scores, kind="mergesort")
    new_group = np.r_[True, np.diff(scores[order]) != 0]
    starts = np.flatnonzero(new_group)
    ends = np.r_[starts[1:], len(scores)]
    # Average rank (1-based) of each group of tied scores, given to every member.
    ranks = np.empty(len(scores), dtype=np.float64)
    ranks[order] = ((starts + ends + 1) / 2.0)[np.cumsum(new_group) - 1]
    rank_sum = ranks[labels == 1].sum()
    return float((rank_sum - positives * (positives + 1) / 2) / (positives * negatives))


def bootstrap_auc_ci(
    labels: np.ndarray,
    scores: np.ndarray,
    *,
    n_boot: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap interval of the AUC, resampling fakes and reals separately
    (stratified), so every replicate has both classes."""
    labels, scores = _check(labels, scores)
    fake, real = scores[labels == 1], scores[labels == 0]
    if len(fake) == 0 or len(real) == 0:
        raise ValueError("a confidence interval needs both real and fake examples")
    rng = np.random.default_rng(seed)
    replicate_labels = np.r_[np.ones(len(fake)), np.zeros(len(real))]
    values = np.empty(n_boot)
    for i in range(n_boot):
        sample = np.r_[
            fake[rng.integers(0, len(fake), len(fake))],
            real[rng.integers(0, len(real), len(real))],
        ]
        values[i] = auc(replicate_labels, sample)
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return float(low), float(high)


def equal_error_rate(labels: np.ndarray, scores: np.ndarray) -> float:
    """The error rate where false positives (reals flagged) equal false negatives (fakes
    missed), interpolated linearly between ROC points."""
    fpr, tpr, _ = roc_curve(labels, scores)
    fnr = 1 - tpr
    diff = fpr - fnr  # rises from -1 to +1 along the curve
    crossing = int(np.flatnonzero(diff >= 0)[0])
    if crossing == 0:
        return float(fpr[0])
    d0, d1 = diff[crossing - 1], diff[crossing]
    t = 0.0 if d1 == d0 else -d0 / (d1 - d0)
    return float(fpr[crossing - 1] + t * (fpr[crossing] - fpr[crossing - 1]))


@dataclass(frozen=True)
class ReliabilityBin:
    low: float
    high: float
    count: int
    mean_probability: float
    fraction_fake: float


def reliability_bins(
    labels: np.ndarray, probabilities: np.ndarray, *, bins: int = 10
) -> list[ReliabilityBin]:
    labels, probabilities = _check(labels, probabilities)
    if ((probabilities < 0) | (probabilities > 1)).any():
        raise ValueError("probabilities must lie in [0, 1]")
    edges = np.linspace(0.0, 1.0, bins + 1)
    index = np.clip(np.digitize(probabilities, edges[1:-1], right=False), 0, bins - 1)
    out = []
    for b in range(bins):
        mask = index == b
        count = int(mask.sum())
        out.append(
            ReliabilityBin(
                low=float(edges[b]),
                high=float(edges[b + 1]),
                count=count,
                mean_probability=float(probabilities[mask].mean()) if count else math.nan,
                fraction_fake=float(labels[mask].mean()) if count else math.nan,
            )
        )
    return out


def expected_calibration_error(
    labels: np.ndarray, probabilities: np.ndarray, *, bins: int = 10
) -> float:
    """Weighted mean gap between stated probability and observed fraction of fakes over
    equal-width bins (0 = perfectly calibrated)."""
    table = reliability_bins(labels, probabilities, bins=bins)
    total = sum(b.count for b in table)
    return float(
        sum(b.count * abs(b.mean_probability - b.fraction_fake) for b in table if b.count) / total
    )


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def _softplus(z: np.ndarray) -> np.ndarray:
    return np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z)))


def platt_fit(
    logits: np.ndarray, labels: np.ndarray, *, iterations: int = 100
) -> tuple[float, float]:
    """Fit P(fake) = sigmoid(a * logit + b) by minimising the log-loss with Newton steps and
    a backtracking line search (Lin, Lin & Weng 2007), using Platt's (1999) smoothed targets
    (N+ + 1) / (N+ + 2) and 1 / (N- + 2): on a small or perfectly separable held-out set the
    fit stays finite instead of running to a 0/1 step."""
    labels, logits = _check(labels, logits)
    positives = float(labels.sum())
    negatives = len(labels) - positives
    if positives == 0 or negatives == 0:
        raise ValueError("calibration needs both real and fake examples")
    targets = np.where(labels == 1, (positives + 1) / (positives + 2), 1 / (negatives + 2))

    def loss(a: float, b: float) -> float:
        z = a * logits + b
        return float((_softplus(z) - targets * z).sum())

    a, b = 0.0, math.log((positives + 1) / (negatives + 1))
    current = loss(a, b)
    for _ in range(iterations):
        p = _sigmoid(a * logits + b)
        residual = p - targets
        gradient = np.array([(residual * logits).sum(), residual.sum()])
        if np.abs(gradient).max() < 1e-9:
            break
        w = np.maximum(p * (1 - p), 1e-12)
        hessian = np.array(
            [[(w * logits * logits).sum(), (w * logits).sum()], [(w * logits).sum(), w.sum()]]
        ) + 1e-12 * np.eye(2)
        step = np.linalg.solve(hessian, gradient)
        size = 1.0
        while size > 1e-10:
            na, nb = a - size * step[0], b - size * step[1]
            candidate = loss(na, nb)
            if candidate <= current - 1e-4 * size * float(gradient @ step):
                break
            size /= 2
        else:
            break  # no further decrease possible: converged as far as floats allow
        a, b, current = na, nb, candidate
    if not (math.isfinite(a) and math.isfinite(b)):
        raise ValueError("Platt scaling did not converge")
    return float(a), float(b)


def cross_fitted_ece(
    logits: np.ndarray, labels: np.ndarray, *, seed: int = 0, bins: int = 10
) -> float | None:
    """ECE of Platt-calibrated scores where each half is calibrated on the other half, so the
    number is not flattered by fitting and measuring on the same images. None when a half
    would lack a class."""
    labels, logits = _check(labels, logits)
    rng = np.random.default_rng(seed)
    fold = np.empty(len(labels), dtype=np.int64)
    for cls in (0, 1):
        members = np.flatnonzero(labels == cls)
        rng.shuffle(members)
        fold[members] = np.arange(len(members)) % 2
    calibrated = np.empty(len(labels))
    for k in (0, 1):
        train, test = fold != k, fold == k
        if len(set(labels[train].tolist())) < 2 or not test.any():
            return None
        a, b = platt_fit(logits[train], labels[train])
        calibrated[test] = _sigmoid(a * logits[test] + b)
    return expected_calibration_error(labels, calibrated, bins=bins)


def summarise(
    labels: np.ndarray, probabilities: np.ndarray, *, n_boot: int = 1000, seed: int = 0
) -> dict[str, object]:
    """The card's metric block for calibrated probabilities on a held-out set."""
    labels, probabilities = _check(labels, probabilities)
    low, high = bootstrap_auc_ci(labels, probabilities, n_boot=n_boot, seed=seed)
    return {
        "auc": round(auc(labels, probabilities), 4),
        "auc_ci": [round(low, 4), round(high, 4)],
        "eer": round(equal_error_rate(labels, probabilities), 4),
        "ece": round(expected_calibration_error(labels, probabilities), 4),
        "n_eval": len(labels),
        "n_fake": int(labels.sum()),
        "n_real": int(len(labels) - labels.sum()),
    }


def format_metrics(metrics: dict[str, object]) -> str:
    ci = metrics.get("auc_ci") or [math.nan, math.nan]
    ece = metrics.get("ece")
    return (
        f"AUC {metrics['auc']:.3f} (95% CI {ci[0]:.3f}-{ci[1]:.3f}, bootstrap), "  # type: ignore[index]
        f"EER {metrics['eer']:.3f}, "
        f"ECE {'n/a' if ece is None else f'{ece:.3f}'}, "
        f"n={metrics['n_eval']} ({metrics.get('n_fake', '?')} fake, {metrics.get('n_real', '?')} real)"
    )


def _figure(size: tuple[float, float]) -> Figure:
    # Figure + Agg canvas directly: no pyplot global state, safe in any process.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=size, dpi=100)
    FigureCanvasAgg(figure)
    return figure


def plot_roc(labels: np.ndarray, scores: np.ndarray, path: str | Path, *, title: str = "") -> Path:
    fpr, tpr, _ = roc_curve(labels, scores)
    figure = _figure((5, 5))
    ax = figure.add_subplot()
    # Straight segments between points: tied scores give a diagonal, as the AUC counts them.
    ax.plot(fpr, tpr, linewidth=2, label=f"AUC {auc(labels, scores):.3f}")
    ax.plot([0, 1], [0, 1], linestyle=":", color="grey", label="chance")
    ax.set_xlabel("false positive rate (real flagged as fake)")
    ax.set_ylabel("true positive rate (fake caught)")
    ax.set_xlim(-0.01, 1.01)  # a perfect curve runs along the axes: keep it visible
    ax.set_ylim(-0.01, 1.01)
    ax.set_title(title or "ROC curve", fontsize=9)
    ax.legend(loc="lower right")
    figure.tight_layout()
    figure.savefig(path)
    return Path(path)


def plot_reliability(
    labels: np.ndarray, probabilities: np.ndarray, path: str | Path, *, title: str = ""
) -> Path:
    table = [b for b in reliability_bins(labels, probabilities) if b.count]
    figure = _figure((5, 5))
    ax = figure.add_subplot()
    ax.plot([0, 1], [0, 1], linestyle=":", color="grey", label="perfect calibration")
    ax.plot(
        [b.mean_probability for b in table],
        [b.fraction_fake for b in table],
        marker="o",
        label=f"ECE {expected_calibration_error(labels, probabilities):.3f}",
    )
    for b in table:
        ax.annotate(str(b.count), (b.mean_probability, b.fraction_fake), fontsize=7)
    ax.set_xlabel("stated probability of fake (numbers: images per bin)")
    ax.set_ylabel("observed fraction fake")
    ax.set_xlim(-0.01, 1.01)
    ax.set_ylim(-0.01, 1.01)
    ax.set_title(title or "Reliability diagram", fontsize=9)
    ax.legend(loc="upper left")
    figure.tight_layout()
    figure.savefig(path)
    return Path(path)
