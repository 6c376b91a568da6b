"""From a config file to a trained checkpoint: what ``unet-gis train`` does, as a function."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from unet_gis.errors import UserError
from unet_gis.model.checkpoint import load_spec
from unet_gis.training.config import TrainConfig
from unet_gis.training.sources import band_statistics, data_checksums, load_scenes
from unet_gis.training.train import LogFn, TrainResult, make_spec, train_model


def build_spec(config: TrainConfig, mean: tuple[float, ...], std: tuple[float, ...]) -> Any:
    m = config.model
    return make_spec(m.classes, m.gsd_m, m.base_width, m.depth, mean, std,
                     scaling_mode=m.input_scaling, tile=m.tile,
                     halo=m.halo, name=m.name, description=m.description, license=m.license)


def run_training(config: TrainConfig, output: Path, *, epochs: int | None = None,
                 device: str = "cpu", resume: Path | None = None, init: Path | None = None,
                 command: str = "", log: LogFn | None = None,
                 time_budget_s: float | None = None, precision: str = "auto") -> TrainResult:
    say = log or (lambda _m: None)
    started = time.time()
    # scenes are cached at the model GSD; the spec's scaling only matters for training chips
    probe = build_spec(config, (0.5, 0.5, 0.5), (0.25, 0.25, 0.25))
    train = load_scenes(config, probe, ("train",), say)
    val = load_scenes(config, probe, ("val",), say)
    if not train:
        raise UserError("The config has no training scenes (every source is split = \"val\"?).")
    if resume is not None:
        spec = load_spec(resume)
    elif init is not None:
        spec = build_spec(config, *[tuple(v) for v in (load_spec(init).scaling.mean,
                                                        load_spec(init).scaling.std)])
    else:
        mean, std = band_statistics(train, seed=config.training.seed)
        spec = build_spec(config, mean, std)
    say(f"{len(train)} training scenes, {len(val)} validation scenes; input mean "
        f"{spec.scaling.mean}, std {spec.scaling.std}")
    record = {
        "command": command,
        "config": config.raw,
        "config_sha256": config.checksum(),
        "data_sha256": data_checksums(config),
        "train_scenes": [s.name for s in train],
        "val_scenes": [s.name for s in val],
        "started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "init": str(init) if init else None,
    }
    return train_model(train, val, spec, config.training, output, epochs=epochs, device=device,
                       resume=resume, init=init, record=record, log=say,
                       time_budget_s=time_budget_s, precision=precision)
