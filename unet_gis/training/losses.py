"""Per-class sigmoid loss with ignore masks: weighted BCE plus soft Dice.

Targets hold 0 (background), 1 (class) or 255 (ignore) per class plane.  Ignored pixels,
and whole classes a chip's source does not label, contribute nothing: neither to the loss
nor to its gradient.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

IGNORE_VALUE = 255


def masked_bce_dice(logits: torch.Tensor, targets: torch.Tensor,
                    pos_weight: Sequence[float] | None = None, dice_weight: float = 1.0,
                    smooth: float = 1.0) -> tuple[torch.Tensor, list[float]]:
    """Mean over classes with any valid pixel of ``BCE + dice_weight * (1 - Dice)``.

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
        per_class.append(float(loss.detach()))
        total = total + loss
        used += 1
    if used == 0:
        return logits.sum() * 0.0, per_class
    return total / used, per_class
