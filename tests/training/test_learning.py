"""A short training run learns a trivially learnable task (the loop really learns)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from unet_gis.inference.precision import native_bf16_units
from unet_gis.model.checkpoint import load_checkpoint, read_metadata
from unet_gis.training.chips import fixed_chips
from unet_gis.training.config import TrainSettings
from unet_gis.training.sources import Scene
from unet_gis.training.train import evaluate_chips, make_spec, state_path, train_model

from .conftest import synthetic_scene


def _scenes(seeds: range, split: str) -> list[Scene]:
    scenes = []
    for seed in seeds:
        image, labels = synthetic_scene(160, seed)
        scenes.append(Scene(f"synthetic/{seed}", "synthetic", split, image, labels, 0.3))
    return scenes


@pytest.mark.slow
@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_short_training_learns_squares_and_stripes(tmp_path: Path, precision: str) -> None:
    if precision == "bf16" and native_bf16_units() is None:
        pytest.skip("this CPU has no native bf16 units: bf16 training would be emulated, "
                    "many times slower, and `auto` never picks it here")
    train, held_out = _scenes(range(12), "train"), _scenes(range(100, 106), "val")
    spec = make_spec(("road", "vehicle"), 0.3, 8, 2, (0.5, 0.5, 0.5), (0.25, 0.25, 0.25),
                     tile=128, halo=32)
    settings = TrainSettings(epochs=3, steps_per_epoch=60, batch_size=8, crop=64, lr=1e-2,
                             seed=1, class_balance={"road": 0.3, "vehicle": 0.5},
                             pos_weight={"vehicle": 2.0},
                             scale_jitter=0.0, color_jitter=0.05, grey_probability=0.0,
                             val_chips=16, val_crop=64)
    output = tmp_path / "model.safetensors"
    result = train_model(train, held_out, spec, settings, output, keep_epochs=False,
                         precision=precision)
    assert result.steps == 180 and len(result.history) == 3
    model = load_checkpoint(output)
    images, labels = fixed_chips(held_out, model.spec, 24, 96, seed=7)
    ious = evaluate_chips(model.network, images, labels, torch.device("cpu"))
    assert min(ious) > 0.9, ious
    # the record and the resumable state are there, and nothing is pickled
    metadata = read_metadata(output)
    assert "unet_gis.training" in metadata
    assert model.spec.training["epochs"] == 3
    assert model.spec.training["precision"] == precision
    assert model.network.head.weight.dtype == torch.float32  # weights stay fp32
    from safetensors import safe_open

    with safe_open(str(state_path(output)), framework="pt") as handle:
        assert "unet_gis.train_state" in (handle.metadata() or {})
        assert any(key.startswith("optim.") for key in handle.keys())  # noqa: SIM118


def test_a_stopped_training_says_which_checkpoints_it_kept(tmp_path: Path) -> None:
    # `unet-gis train` stopped with SIGTERM after an epoch said "nothing was written"
    # beside the epoch's model and resumable state
    from unet_gis.errors import Cancelled
    from unet_gis.fileio import WRITTEN, written_summary
    from unet_gis.inference.progress import CancelToken

    WRITTEN.clear()
    train = _scenes(range(2), "train")
    spec = make_spec(("road", "vehicle"), 0.3, 4, 2, (0.5, 0.5, 0.5), (0.25, 0.25, 0.25),
                     tile=128, halo=32)
    settings = TrainSettings(epochs=3, steps_per_epoch=2, batch_size=2, crop=32, seed=1,
                             val_chips=0, grey_probability=0.0)
    cancel = CancelToken()

    def stop_in_the_second_epoch(step: int, loss: float, progress: float) -> None:
        if step == 3:
            cancel.cancel()

    output = tmp_path / "model.safetensors"
    with pytest.raises(Cancelled):
        train_model(train, [], spec, settings, output, precision="fp32", cancel=cancel,
                    on_step=stop_in_the_second_epoch)
    summary = written_summary()
    assert summary.startswith("kept the finished model.safetensors"), summary
    assert "model.epoch001.safetensors" in summary and "model.state.safetensors" in summary
    output.unlink()  # removed since: no longer claimed
    assert "model.safetensors," not in written_summary()
    WRITTEN.clear()
    assert written_summary() == "nothing was written"
