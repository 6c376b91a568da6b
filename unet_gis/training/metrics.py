"""Segmentation metrics: pixel IoU/P/R/F1, relaxed (buffered) P/R/F1 for thin structures
such as roads, and object-level P/R/F1 plus count error for vehicles.

All functions take boolean ``pred``/``truth`` masks and an optional ``valid`` mask (pixels
outside it are left out of every count).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np


@dataclass(frozen=True)
class PixelScores:
    tp: int
    fp: int
    fn: int

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else float("nan")

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else float("nan")

    @property
    def f1(self) -> float:
        return _f1(self.precision, self.recall)

    @property
    def iou(self) -> float:
        denom = self.tp + self.fp + self.fn
        return self.tp / denom if denom else float("nan")

    def __add__(self, other: PixelScores) -> PixelScores:
        return PixelScores(self.tp + other.tp, self.fp + other.fp, self.fn + other.fn)

    def as_dict(self) -> dict[str, float]:
        return {"iou": self.iou, "precision": self.precision, "recall": self.recall,
                "f1": self.f1, "tp": self.tp, "fp": self.fp, "fn": self.fn}


def _f1(p: float, r: float) -> float:
    if np.isnan(p) or np.isnan(r) or p + r == 0:
        return 0.0 if (p == 0 or r == 0) else float("nan")
    return 2 * p * r / (p + r)


def _valid(pred: np.ndarray, valid: np.ndarray | None) -> np.ndarray:
    return np.ones(pred.shape, bool) if valid is None else valid.astype(bool)


def pixel_scores(pred: np.ndarray, truth: np.ndarray,
                 valid: np.ndarray | None = None) -> PixelScores:
    v = _valid(pred, valid)
    p, t = pred.astype(bool) & v, truth.astype(bool) & v
    tp = int(np.count_nonzero(p & t))
    return PixelScores(tp, int(np.count_nonzero(p)) - tp, int(np.count_nonzero(t)) - tp)


@dataclass(frozen=True)
class RelaxedScores:
    """Relaxed precision: share of predicted pixels within ``tolerance`` of a true pixel;
    relaxed recall: share of true pixels within ``tolerance`` of a predicted one."""

    matched_pred: int
    pred: int
    matched_truth: int
    truth: int

    @property
    def precision(self) -> float:
        return self.matched_pred / self.pred if self.pred else float("nan")

    @property
    def recall(self) -> float:
        return self.matched_truth / self.truth if self.truth else float("nan")

    @property
    def f1(self) -> float:
        return _f1(self.precision, self.recall)

    def __add__(self, other: RelaxedScores) -> RelaxedScores:
        return RelaxedScores(self.matched_pred + other.matched_pred, self.pred + other.pred,
                             self.matched_truth + other.matched_truth, self.truth + other.truth)

    def as_dict(self) -> dict[str, float]:
        return {"precision": self.precision, "recall": self.recall, "f1": self.f1}


def relaxed_scores(pred: np.ndarray, truth: np.ndarray, tolerance_m: float, gsd_m: float,
                   valid: np.ndarray | None = None) -> RelaxedScores:
    """Relaxed P/R (Mnih 2013) with a tolerance in metres on a grid of ``gsd_m``."""
    from scipy.ndimage import distance_transform_edt

    v = _valid(pred, valid)
    p, t = pred.astype(bool), truth.astype(bool)
    # distance from every pixel to the nearest true / predicted pixel, in metres
    dist_truth = distance_transform_edt(~t, sampling=gsd_m) if t.any() else np.full(
        t.shape, np.inf)
    dist_pred = distance_transform_edt(~p, sampling=gsd_m) if p.any() else np.full(
        p.shape, np.inf)
    pv, tv = p & v, t & v
    return RelaxedScores(int(np.count_nonzero(pv & (dist_truth <= tolerance_m))),
                         int(np.count_nonzero(pv)),
                         int(np.count_nonzero(tv & (dist_pred <= tolerance_m))),
                         int(np.count_nonzero(tv)))


@dataclass(frozen=True)
class ObjectScores:
    matched: int
    predicted: int
    true: int

    @property
    def precision(self) -> float:
        return self.matched / self.predicted if self.predicted else float("nan")

    @property
    def recall(self) -> float:
        return self.matched / self.true if self.true else float("nan")

    @property
    def f1(self) -> float:
        return _f1(self.precision, self.recall)

    @property
    def count_error(self) -> float:
        """Relative error of the object count, (predicted - true) / true."""
        return (self.predicted - self.true) / self.true if self.true else float("nan")

    def __add__(self, other: ObjectScores) -> ObjectScores:
        return ObjectScores(self.matched + other.matched, self.predicted + other.predicted,
                            self.true + other.true)

    def as_dict(self) -> dict[str, float]:
        d: dict[str, float] = {k: float(v) for k, v in asdict(self).items()}
        d.update(precision=self.precision, recall=self.recall, f1=self.f1,
                 count_error=self.count_error)
        return d


def object_scores(pred: np.ndarray, truth: np.ndarray, gsd_m: float,
                  valid: np.ndarray | None = None, min_area_m2: float = 1.0,
                  max_distance_m: float = 1.5, min_overlap: float = 0.1) -> ObjectScores:
    """Match connected components one to one: a predicted object matches a true one when
    they overlap by at least ``min_overlap`` IoU or their centroids are within
    ``max_distance_m``.  Objects whose centroid is not valid are left out; predicted
    objects smaller than ``min_area_m2`` are dropped as speckle."""
    from scipy import ndimage

    v = _valid(pred, valid)
    structure = np.ones((3, 3), bool)
    pred_lab, n_pred = ndimage.label(pred.astype(bool), structure)
    true_lab, n_true = ndimage.label(truth.astype(bool), structure)
    min_px = min_area_m2 / (gsd_m * gsd_m)
    pred_objs = _objects(pred_lab, n_pred, v, min_px)
    true_objs = _objects(true_lab, n_true, v, 0)
    both = (pred_lab > 0) & (true_lab > 0)
    keys, inter_counts = np.unique(true_lab[both].astype(np.int64) * (n_pred + 1)
                                   + pred_lab[both], return_counts=True)
    intersections = {(int(k) // (n_pred + 1), int(k) % (n_pred + 1)): int(n)
                     for k, n in zip(keys, inter_counts, strict=True)}
    candidates: list[tuple[float, int, int]] = []
    for ti, (tc, tarea, tid) in enumerate(true_objs):
        for pi, (pc, parea, pid) in enumerate(pred_objs):
            dist = float(np.hypot(tc[0] - pc[0], tc[1] - pc[1])) * gsd_m
            inter = intersections.get((tid, pid), 0)
            overlap = inter / (tarea + parea - inter) if inter else 0.0
            if overlap >= min_overlap or dist <= max_distance_m:
                candidates.append((-overlap + dist / 100.0, ti, pi))
    candidates.sort()
    used_t, used_p = set(), set()
    for _, ti, pi in candidates:
        if ti not in used_t and pi not in used_p:
            used_t.add(ti)
            used_p.add(pi)
    return ObjectScores(len(used_t), len(pred_objs), len(true_objs))


def _objects(labels: np.ndarray, count: int, valid: np.ndarray,
             min_px: float) -> list[tuple[tuple[float, float], int, int]]:
    from scipy import ndimage

    if count == 0:
        return []
    index = np.arange(1, count + 1)
    areas = ndimage.sum_labels(np.ones(labels.shape), labels, index)
    centres = ndimage.center_of_mass(np.ones(labels.shape), labels, index)
    out = []
    for i, area, centre in zip(index, areas, centres, strict=True):
        r, c = int(round(centre[0])), int(round(centre[1]))
        r = min(max(r, 0), labels.shape[0] - 1)
        c = min(max(c, 0), labels.shape[1] - 1)
        if area < min_px or not valid[r, c]:
            continue
        out.append(((float(centre[0]), float(centre[1])), int(area), int(i)))
    return out
