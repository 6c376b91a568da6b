"""The soft clDice term: it sees gaps that Dice barely notices, and ignores ignored pixels."""

from __future__ import annotations

import torch

from unet_gis.training.losses import masked_bce_dice, soft_cldice, soft_skeleton


def _road(width: int = 7, size: int = 64) -> torch.Tensor:
    road = torch.zeros(1, size, size)
    start = size // 2 - width // 2
    road[:, start:start + width, :] = 1.0
    return road


def test_skeleton_of_a_band_is_its_middle_line() -> None:
    skeleton = soft_skeleton(_road(7))[0]
    rows = skeleton.sum(dim=1)
    assert rows.argmax().item() == 32
    # thin: nearly all skeleton mass lies on the 3 middle rows
    assert rows[31:34].sum() / rows.sum() > 0.9


def test_a_gap_costs_more_cldice_than_extra_width() -> None:
    target = _road(7)
    valid = torch.ones_like(target, dtype=torch.bool)
    gapped = target.clone()
    gapped[:, :, 28:36] = 0.0          # an 8-pixel break across the road
    wider = _road(11)                  # complete but 4 pixels too wide
    gap_loss = soft_cldice(gapped, target, valid)
    wide_loss = soft_cldice(wider, target, valid)
    assert gap_loss > 0.03
    assert wide_loss < gap_loss / 3


def test_cldice_term_is_added_only_where_weighted_and_skips_ignored_pixels() -> None:
    torch.manual_seed(0)
    logits = torch.randn(2, 2, 32, 32, requires_grad=True)
    targets = torch.zeros(2, 2, 32, 32, dtype=torch.uint8)
    targets[:, 0, 12:18] = 1
    targets[:, 0, :, :4] = 255          # an ignored strip
    plain, _ = masked_bce_dice(logits, targets)
    topo, _ = masked_bce_dice(logits, targets, cldice_weight=[1.0, 0.0])
    assert topo > plain
    topo.backward()
    assert logits.grad is not None
    assert torch.all(logits.grad[:, 0, :, :4] == 0)
    # changing logits under the ignored strip changes nothing
    other = logits.detach().clone()
    other[:, 0, :, :4] = 40.0
    again, _ = masked_bce_dice(other, targets, cldice_weight=[1.0, 0.0])
    assert torch.isclose(again, topo.detach())
