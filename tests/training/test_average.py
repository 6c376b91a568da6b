"""Averaging snapshots of one run (:mod:`unet_gis.training.average`)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tests.conftest import tiny_spec
from unet_gis.errors import UserError
from unet_gis.model.checkpoint import load_checkpoint, save_checkpoint
from unet_gis.model.spec import Architecture
from unet_gis.model.unet import build_unet
from unet_gis.training.average import average_checkpoints

ROOT = Path(__file__).resolve().parents[2]


def _snapshot(path: Path, seed: int, **spec_overrides: object) -> Path:
    torch.manual_seed(seed)
    spec = tiny_spec(**spec_overrides)
    network = build_unet(3, 2, spec.architecture)
    with torch.no_grad():  # BatchNorm statistics that differ between snapshots too
        for module in network.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.normal_()
                module.running_var.uniform_(0.5, 2.0)
                module.num_batches_tracked.fill_(seed)
    return save_checkpoint(path, network, spec)


def test_the_average_is_the_mean_of_every_tensor(tmp_path: Path) -> None:
    paths = [_snapshot(tmp_path / f"m.epoch{i:03d}.safetensors", seed=i) for i in (1, 2, 3)]
    model, record = average_checkpoints(paths)
    states = [load_checkpoint(p).network.state_dict() for p in paths]
    for key, value in model.network.state_dict().items():
        if value.is_floating_point():
            expected = (states[0][key] + states[1][key] + states[2][key]) / 3
            torch.testing.assert_close(value, expected)
            if not torch.equal(states[0][key], states[2][key]):  # BatchNorm's initial 1s
                assert not torch.equal(value, states[2][key])
        else:
            assert torch.equal(value, states[2][key])  # counters from the last snapshot
    assert record["weight_averages"][0]["snapshots"] == [p.name for p in paths]


def test_snapshots_of_other_models_are_refused(tmp_path: Path) -> None:
    first = _snapshot(tmp_path / "a.safetensors", seed=1)
    other = _snapshot(tmp_path / "b.safetensors", seed=2,
                      architecture=Architecture(base_width=8, depth=2, batch_norm=True))
    with pytest.raises(UserError, match="not a snapshot of the same model"):
        average_checkpoints([first, other])


def test_the_script_writes_a_loadable_model(tmp_path: Path) -> None:
    paths = [_snapshot(tmp_path / f"m{i}.safetensors", seed=i) for i in (1, 2)]
    out = tmp_path / "mean.safetensors"
    subprocess.run([sys.executable, str(ROOT / "scripts" / "average_weights.py"), str(out),
                    *map(str, paths)], check=True, capture_output=True, timeout=120)
    averaged = load_checkpoint(out)
    assert averaged.spec.training["weight_averages"][0]["snapshots"] == ["m1.safetensors",
                                                                         "m2.safetensors"]
