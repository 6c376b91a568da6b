"""Choosing per-class thresholds on validation scenes: every set weighs the same.

``unet-gis evaluate --sweep`` scores each class at several thresholds from the same
probability rasters.  The headline score of a class is the one its goal is stated in
(relaxed F1 for roads, object F1 for vehicles, pixel F1 otherwise); the recommended
threshold maximises its mean over the validation *sets* (sources), so a large set does not
drown a small one from another city or sensor.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from unet_gis.training.evaluate import ClassResult

# v3's road score still rose at 0.9 and at 0.95, and its vehicle score peaked at the lowest
# step: the sweep reaches past both
SWEEP_THRESHOLDS = (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.97)


def headline(result: ClassResult) -> float:
    """The score a class's goal is stated in."""
    if result.relaxed is not None:
        return result.relaxed.f1
    if result.objects is not None:
        return result.objects.f1
    return result.pixel.f1


@dataclass
class ThresholdSweep:
    thresholds: tuple[float, ...] = SWEEP_THRESHOLDS
    # class -> source -> threshold -> result
    results: dict[str, dict[str, dict[float, ClassResult]]] = field(default_factory=dict)

    def add(self, name: str, source: str, threshold: float, result: ClassResult) -> None:
        from unet_gis.training.evaluate import ClassResult

        per_threshold = self.results.setdefault(name, {}).setdefault(source, {})
        per_threshold.setdefault(threshold, ClassResult()).add(result)

    def table(self, name: str) -> dict[str, dict[float, float]]:
        """source -> threshold -> headline score, for the sets where the class occurs (a
        set without any, e.g. vehicles in Massachusetts woods, has no F1 to maximise)."""
        return {source: {t: headline(r) for t, r in sorted(per.items())}
                for source, per in self.results.get(name, {}).items()
                if any(r.pixel.tp + r.pixel.fn > 0 for r in per.values())}

    def best(self, name: str) -> tuple[float, float]:
        """(threshold, mean headline score over the sets) that maximises the mean."""
        table = self.table(name)
        means = {}
        for threshold in self.thresholds:
            scores = [per[threshold] for per in table.values() if threshold in per]
            scores = [s for s in scores if not math.isnan(s)]
            if scores:
                means[threshold] = sum(scores) / len(scores)
        if not means:
            return float("nan"), float("nan")
        threshold = max(means, key=lambda t: means[t])
        return threshold, means[threshold]

    def as_dict(self) -> dict[str, Any]:
        return {name: {"by_source": {s: {str(t): v for t, v in per.items()}
                                     for s, per in self.table(name).items()},
                       "scores": {s: {str(t): r.as_dict() for t, r in sorted(per.items())}
                                  for s, per in self.results[name].items()},
                       "best": dict(zip(("threshold", "mean"), self.best(name), strict=True))}
                for name in self.results}

    def format(self) -> str:
        lines = []
        for name in self.results:
            header = " ".join(f"{t:>5.2f}" for t in self.thresholds)
            lines.append(f"threshold sweep, {name} (headline score per validation set):")
            lines.append(f"  {'set':<24} {header}")
            for source, per in self.table(name).items():
                cells = " ".join(f"{per[t]:>5.3f}" if t in per else "    -"
                                 for t in self.thresholds)
                lines.append(f"  {source:<24} {cells}")
            threshold, mean = self.best(name)
            lines.append(f"  best {name} threshold {threshold:g}: mean over sets {mean:.3f}")
        return "\n".join(lines)
