"""Average the weights of several snapshots of one training run (as in SWA, Izmailov et al.
2018).

The snapshots of the end of a leg (one per epoch, ``MODEL.epochNNN.safetensors``) lie around
one minimum; their mean lies nearer its flat middle.  For the default model that matters
for bf16: leg 6's last snapshot moved 2.1 % of the test crop's probabilities by more than
2/254 under bf16 autocast, the mean of its last 16 snapshots 0.45 % (the median road logit
error 0.018 -> 0.012).  BatchNorm statistics are averaged too (the snapshots of an annealed
run have nearly the same statistics; recomputing them would need the training data).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import torch

from unet_gis.errors import UserError
from unet_gis.model.checkpoint import LoadedModel, load_checkpoint


def average_checkpoints(paths: list[Path]) -> tuple[LoadedModel, dict[str, Any]]:
    """The mean of the snapshots' floating-point tensors (counters from the last), with the
    last snapshot's spec and training record, the record noting what was averaged."""
    if not paths:
        raise UserError("Give at least one checkpoint to average.")
    models = [load_checkpoint(path) for path in paths]
    last = models[-1]
    for model, path in zip(models, paths, strict=True):
        if model.spec.class_names != last.spec.class_names or \
                model.spec.architecture != last.spec.architecture or \
                model.spec.scaling != last.spec.scaling:
            raise UserError(f"{path.name} is not a snapshot of the same model as "
                            f"{paths[-1].name} (classes, architecture or input scaling differ).")
    states = [model.network.state_dict() for model in models]
    averaged = {}
    for key, value in states[-1].items():
        if value.is_floating_point():
            averaged[key] = torch.stack([state[key].float() for state in states]).mean(0)
        else:
            averaged[key] = value
    last.network.load_state_dict(averaged)
    record = dict(last.spec.training)  # the training record the checkpoint was saved with
    record.setdefault("weight_averages", []).append({
        "utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "snapshots": [path.name for path in paths]})
    return last, record
