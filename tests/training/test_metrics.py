"""Known answers for the metrics on hand-made masks."""

from __future__ import annotations

import math

import numpy as np
import pytest

from unet_gis.training.metrics import object_scores, pixel_scores, relaxed_scores


def test_pixel_scores_known_answer() -> None:
    truth = np.zeros((10, 10), bool)
    truth[2:6, 2:6] = True          # 16 px
    pred = np.zeros((10, 10), bool)
    pred[4:8, 2:6] = True           # 16 px, 8 overlap
    s = pixel_scores(pred, truth)
    assert (s.tp, s.fp, s.fn) == (8, 8, 8)
    assert s.iou == pytest.approx(8 / 24)
    assert s.precision == pytest.approx(0.5) and s.recall == pytest.approx(0.5)
    assert s.f1 == pytest.approx(0.5)


def test_pixel_scores_leave_out_invalid_pixels() -> None:
    truth = np.zeros((4, 4), bool)
    pred = np.zeros((4, 4), bool)
    pred[0] = True                   # all false positives, but row 0 is invalid
    truth[3, 3] = pred[3, 3] = True
    valid = np.ones((4, 4), bool)
    valid[0] = False
    s = pixel_scores(pred, truth, valid)
    assert (s.tp, s.fp, s.fn) == (1, 0, 0) and s.iou == 1.0


def test_relaxed_scores_tolerate_small_offsets() -> None:
    truth = np.zeros((40, 40), bool)
    truth[:, 20] = True                       # a 1-px line
    pred = np.zeros((40, 40), bool)
    pred[:, 23] = True                        # 3 px (0.9 m at 0.3 m) off
    pred[:10, 35] = True                      # 10 px far away (4.5 m)
    strict = pixel_scores(pred, truth)
    assert strict.tp == 0
    relaxed = relaxed_scores(pred, truth, tolerance_m=2.0, gsd_m=0.3)
    assert relaxed.precision == pytest.approx(40 / 50)
    assert relaxed.recall == pytest.approx(1.0)
    assert relaxed.f1 == pytest.approx(2 * 0.8 / 1.8)
    tight = relaxed_scores(pred, truth, tolerance_m=0.5, gsd_m=0.3)
    assert tight.recall == 0.0 and tight.f1 == 0.0


def test_object_scores_known_answer() -> None:
    truth = np.zeros((60, 60), bool)
    pred = np.zeros((60, 60), bool)
    truth[5:11, 5:20] = True      # car 1: found exactly
    pred[5:11, 5:20] = True
    truth[30:36, 5:20] = True     # car 2: found, shifted by 2 px (0.6 m)
    pred[32:38, 5:20] = True
    truth[45:51, 40:55] = True    # car 3: missed
    pred[20:26, 40:55] = True     # a false alarm
    pred[58, 58] = True           # speckle below the minimum area: dropped
    s = object_scores(pred, truth, gsd_m=0.3)
    assert (s.matched, s.predicted, s.true) == (2, 3, 3)
    assert s.precision == pytest.approx(2 / 3) and s.recall == pytest.approx(2 / 3)
    assert s.f1 == pytest.approx(2 / 3)
    assert s.count_error == pytest.approx(0.0)


def test_object_matching_is_one_to_one() -> None:
    truth = np.zeros((30, 30), bool)
    truth[10:16, 5:25] = True       # one long vehicle
    pred = np.zeros((30, 30), bool)
    pred[10:16, 5:14] = True        # predicted as two halves
    pred[10:16, 16:25] = True
    s = object_scores(pred, truth, gsd_m=0.3)
    assert (s.matched, s.predicted, s.true) == (1, 2, 1)
    assert s.count_error == pytest.approx(1.0)


def test_empty_masks() -> None:
    empty = np.zeros((8, 8), bool)
    assert math.isnan(pixel_scores(empty, empty).iou)
    s = object_scores(empty, empty, gsd_m=0.3)
    assert (s.matched, s.predicted, s.true) == (0, 0, 0)
