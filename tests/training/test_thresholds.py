"""Threshold choice on validation sets: each set weighs the same; sets without the class
are left out."""

from __future__ import annotations

from unet_gis.training.evaluate import ClassResult
from unet_gis.training.metrics import ObjectScores, PixelScores
from unet_gis.training.thresholds import ThresholdSweep


def _result(tp: int, fp: int, fn: int) -> ClassResult:
    return ClassResult(PixelScores(tp, fp, fn))


def test_best_threshold_maximises_the_mean_over_sets() -> None:
    sweep = ThresholdSweep((0.4, 0.6))
    # a big set prefers 0.4 a little, a small set prefers 0.6 a lot
    sweep.add("road", "big", 0.4, _result(9000, 1000, 1000))   # F1 0.90
    sweep.add("road", "big", 0.6, _result(8800, 1000, 1200))   # F1 0.889
    sweep.add("road", "small", 0.4, _result(10, 30, 10))       # F1 0.333
    sweep.add("road", "small", 0.6, _result(15, 5, 5))         # F1 0.75
    sweep.add("road", "empty", 0.4, _result(0, 50, 0))         # no road at all
    sweep.add("road", "empty", 0.6, _result(0, 10, 0))
    threshold, mean = sweep.best("road")
    assert threshold == 0.6
    assert abs(mean - (0.8889 + 0.75) / 2) < 1e-3
    assert "empty" not in sweep.table("road")
    assert "best road threshold 0.6" in sweep.format()


def test_object_classes_use_object_f1() -> None:
    sweep = ThresholdSweep((0.5,))
    result = _result(100, 0, 0)
    result.objects = ObjectScores(matched=1, predicted=4, true=2)
    sweep.add("vehicle", "a", 0.5, result)
    assert abs(sweep.table("vehicle")["a"][0.5] - 2 * 0.25 * 0.5 / 0.75) < 1e-9
