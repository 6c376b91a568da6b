"""Per-class sigmoid loss with ignore masks: weighted BCE plus soft Dice, and optionally
soft clDice for classes that form networks (roads).

Targets hold 0 (background), 1 (class) or 255 (ignore) per class plane.  Ignored pixels,
and whole classes a chip's source does not label, contribute nothing: neither to the loss
nor to its gradient.

clDice (Shit et al., CVPR 2021, "clDice - a novel topology-preserving loss function for
tubular structure segmentation") compares soft skeletons: how much of the predicted
skeleton lies inside the labelled roads and how much of the labelled skeleton the
prediction covers.  A gap across a road costs little Dice but a lot of clDice, which is why
it helps exported centerlines stay one network.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

IGNORE_VALUE = 255


def _soft_erode(x: torch.Tensor) -> torch.Tensor:
    # a cross-shaped min filter: min over the vertical and the horizontal 3-pixel lines
    vertical = -F.max_pool2d(-x, (3, 1), stride=1, padding=(1, 0))
    horizontal = -F.max_pool2d(-x, (1, 3), stride=1, padding=(0, 1))
    return torch.minimum(vertical, horizontal)


def _soft_dilate(x: torch.Tensor) -> torch.Tensor:
    return F.max_pool2d(x, 3, stride=1, padding=1)


def soft_skeleton(x: torch.Tensor, iterations: int = 10) -> torch.Tensor:
    """Differentiable skeleton of soft masks ``x`` (N, H, W or N, 1, H, W) in [0, 1].

    Each iteration erodes once and keeps what an opening removes, so structures up to about
    ``2 * iterations`` pixels wide are thinned to their middle line.
    """
    squeeze = x.dim() == 3
    if squeeze:
        x = x.unsqueeze(1)
    skeleton = F.relu(x - _soft_dilate(_soft_erode(x)))
    for _ in range(iterations):
        x = _soft_erode(x)
        rest = F.relu(x - _soft_dilate(_soft_erode(x)))
        skeleton = skeleton + F.relu(rest - skeleton * rest)
    return skeleton.squeeze(1) if squeeze else skeleton


def soft_cldice(prob: torch.Tensor, target: torch.Tensor, valid: torch.Tensor,
                iterations: int = 8, smooth: float = 1.0, downsample: int = 2) -> torch.Tensor:
    """``1 - clDice`` of probabilities against a 0/1 target, on valid pixels only (N, H, W).

    Ignored pixels count as background on both sides, so an ignored band edge neither adds
    to nor cuts the labelled skeleton.  The skeletons are taken on maps averaged over
    ``downsample``² blocks: 4x cheaper at 2 (about 0.1 s a batch of 8x256² on 2 cores
    instead of 0.55 s), and roads up to ``2 * iterations * downsample`` pixels wide still
    thin to a line.
    """
    valid_f = valid.float()
    prob = prob * valid_f
    target = target * valid_f
    if downsample > 1:
        prob, target = (F.avg_pool2d(m.unsqueeze(1), downsample).squeeze(1)
                        for m in (prob, target))
    skel_pred = soft_skeleton(prob, iterations)
    skel_true = soft_skeleton(target, iterations)
    topology_precision = ((skel_pred * target).sum() + smooth) / (skel_pred.sum() + smooth)
    topology_sensitivity = ((skel_true * prob).sum() + smooth) / (skel_true.sum() + smooth)
    return 1 - 2 * topology_precision * topology_sensitivity / (
        topology_precision + topology_sensitivity)


def masked_bce_dice(logits: torch.Tensor, targets: torch.Tensor,
                    pos_weight: Sequence[float] | None = None, dice_weight: float = 1.0,
                    smooth: float = 1.0, cldice_weight: Sequence[float] | None = None,
                    ) -> tuple[torch.Tensor, list[float]]:
    """Mean over classes with any valid pixel of ``BCE + dice_weight * (1 - Dice)``, plus
    ``cldice_weight[c] * (1 - clDice)`` where that weight is above 0.

    Returns the loss and each class's value (``nan`` for a class with no valid pixel).
    """
    logits = logits.float()
    valid = targets != IGNORE_VALUE
    target = (targets == 1).float()
    per_class: list[float] = []
    total = logits.new_zeros(())
    used = 0
    for c in range(logits.shape[1]):
        mask = valid[:, c]
        count = mask.sum()
        if int(count) == 0:
            per_class.append(float("nan"))
            continue
        z, t = logits[:, c][mask], target[:, c][mask]
        weight = None
        if pos_weight is not None and pos_weight[c] != 1.0:
            weight = z.new_tensor(pos_weight[c])
        bce = F.binary_cross_entropy_with_logits(z, t, pos_weight=weight)
        p = torch.sigmoid(z)
        dice = 1 - (2 * (p * t).sum() + smooth) / (p.sum() + t.sum() + smooth)
        loss = bce + dice_weight * dice
        if cldice_weight is not None and cldice_weight[c] > 0:
            loss = loss + cldice_weight[c] * soft_cldice(
                torch.sigmoid(logits[:, c]), target[:, c], mask, smooth=smooth)
        per_class.append(float(loss.detach()))
        total = total + loss
        used += 1
    if used == 0:
        return logits.sum() * 0.0, per_class
    return total / used, per_class
