"""The training loop: sample chips, AdamW with warm-up + cosine decay, a checkpoint each
epoch (resumable), and a training record in the checkpoint's metadata.

Resumable state lives in a sidecar ``<output>.state.safetensors`` next to the checkpoint:
optimizer tensors plus JSON metadata (step, epoch, history, RNG states).  Nothing is
pickled.
"""

from __future__ import annotations

import json
import math
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch

from unet_gis.fileio import note_written
from unet_gis.inference.device import select_device
from unet_gis.inference.progress import CancelToken, check
from unet_gis.model.checkpoint import load_checkpoint, read_metadata, save_checkpoint
from unet_gis.model.spec import (
    Architecture,
    ClassSpec,
    ModelSpec,
    Scaling,
    ScalingMode,
    default_spec,
)
from unet_gis.model.unet import build_unet
from unet_gis.training.chips import ChipSampler, ChipSettings, fixed_chips
from unet_gis.training.config import TrainSettings
from unet_gis.training.losses import masked_bce_dice
from unet_gis.training.noise import add_rounding_noise
from unet_gis.training.sources import Scene

LogFn = Callable[[str], None]
STATE_SUFFIX = ".state.safetensors"
RECORD_KEY = "unet_gis.training"


StepCallback = Callable[[int, float, float], None]
"""Called after each training step with (step, loss, progress 0-1 of the schedule)."""


@dataclass
class TrainResult:
    output: Path
    epochs: int
    steps: int
    seconds: float
    history: list[dict[str, Any]] = field(default_factory=list)


def state_path(output: Path) -> Path:
    return output.with_name(output.name.removesuffix(".safetensors") + STATE_SUFFIX)


def epoch_path(output: Path, epoch: int) -> Path:
    return output.with_name(output.name.removesuffix(".safetensors") + f".epoch{epoch:03d}"
                            ".safetensors")


def make_spec(classes: tuple[str, ...], gsd_m: float, base_width: int, depth: int,
              mean: tuple[float, ...], std: tuple[float, ...], scaling_mode: str = "dtype_range",
              **extra: Any) -> ModelSpec:
    known = {c.name: c for c in default_spec().classes}
    palette = [(255, 170, 0), (230, 30, 200), (0, 160, 255), (60, 200, 60)]
    specs = tuple(known.get(name) or ClassSpec(name, palette[i % len(palette)], 0.5)
                  for i, name in enumerate(classes))
    return ModelSpec(classes=specs, gsd_m=gsd_m,
                     architecture=Architecture(base_width=base_width, depth=depth),
                     scaling=Scaling(mode=cast(ScalingMode, scaling_mode), mean=mean, std=std),
                     **extra)


def lr_at(progress: float, peak: float, warmup_fraction: float) -> float:
    """Linear warm-up to ``peak`` then cosine decay to ``peak / 100`` (one cycle);
    ``progress`` runs from 0 to 1 over the whole run."""
    warm = max(1e-9, warmup_fraction)
    if progress < warm:
        return peak * (0.05 + 0.95 * progress / warm)
    rest = min(1.0, (progress - warm) / max(1e-9, 1 - warm))
    return peak * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * rest)))


def evaluate_chips(network: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor,
                   device: torch.device, batch: int = 8) -> list[float]:
    """Pixel IoU per class on fixed chips (ignore pixels left out); ``nan`` if unlabelled."""
    network.eval()
    n = labels.shape[1]
    tp, fp, fn = np.zeros(n), np.zeros(n), np.zeros(n)
    with torch.inference_mode():
        for start in range(0, images.shape[0], batch):
            x = images[start:start + batch].to(device).contiguous(
                memory_format=torch.channels_last)
            pred = (network(x) > 0).cpu()
            lab = labels[start:start + batch]
            valid, truth = lab != 255, lab == 1
            for c in range(n):
                p, t, v = pred[:, c], truth[:, c], valid[:, c]
                tp[c] += int((p & t & v).sum())
                fp[c] += int((p & ~t & v).sum())
                fn[c] += int((~p & t & v).sum())
    network.train()
    denom = tp + fp + fn
    return [float(tp[c] / denom[c]) if denom[c] else float("nan") for c in range(n)]


def train_model(train_scenes: list[Scene], val_scenes: list[Scene], spec: ModelSpec,
                settings: TrainSettings, output: str | Path, *, epochs: int | None = None,
                device: str = "cpu", resume: str | Path | None = None,
                init: str | Path | None = None, record: dict[str, Any] | None = None,
                log: LogFn | None = None, keep_epochs: bool = True,
                time_budget_s: float | None = None, precision: str = "auto",
                cancel: CancelToken | None = None,
                on_step: StepCallback | None = None) -> TrainResult:
    """Train ``spec``'s U-Net on chips of ``train_scenes``; write ``output`` each epoch.

    With ``time_budget_s`` the learning-rate schedule runs on whichever is further along,
    steps or wall time, and training stops (after saving) when the time is up, so a run on
    a slow or busy machine still ends with an annealed model.  ``device`` and ``precision``
    are chosen as for inference (:func:`~unet_gis.inference.device.select_device`): bf16
    autocast on CPUs with native bf16, fp16/bf16 on CUDA; BatchNorm statistics, the loss
    and the weights stay fp32.  ``cancel`` is checked before every step (raising
    :class:`~unet_gis.errors.Cancelled`); ``on_step(step, loss, progress)`` follows each.
    """
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    say = log or (lambda _m: None)
    epochs = epochs or settings.epochs
    torch.manual_seed(settings.seed)
    choice = select_device(device, settings.threads or None, precision)
    dev = choice.device
    say(f"training on {choice.description}")
    network = build_unet(spec.num_bands, len(spec.classes), spec.architecture)
    if init is not None:
        loaded = load_checkpoint(init)
        if loaded.spec.class_names != spec.class_names or \
                loaded.spec.architecture != spec.architecture:
            from unet_gis.errors import UserError
            raise UserError(f"{Path(init).name} has classes {loaded.spec.class_names} and "
                            f"{loaded.spec.architecture}; the config wants {spec.class_names} "
                            f"and {spec.architecture}.")
        network.load_state_dict(loaded.network.state_dict())
        if loaded.spec.scaling.mode == spec.scaling.mode:
            spec = replace(spec, scaling=loaded.spec.scaling)
        else:  # a leg may change how inputs are scaled: the first steps adapt the weights
            say(f"input scaling changes from {loaded.spec.scaling.mode} "
                f"({Path(init).name}) to {spec.scaling.mode}")
        say(f"initialised from {init}")
    network = network.to(dev).to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    add_rounding_noise(network, settings.activation_noise)  # training mode only
    optimizer = torch.optim.AdamW(network.parameters(), lr=settings.lr,
                                  weight_decay=settings.weight_decay)
    names = spec.class_names
    balance = tuple(settings.class_balance.get(n, 0.0) for n in names)
    chip_settings = ChipSettings(settings.crop, balance, settings.scale_jitter,
                                 settings.color_jitter, settings.grey_probability,
                                 degrade_probability=settings.degrade_probability)
    sampler = ChipSampler(train_scenes, spec, chip_settings, settings.source_weights or None,
                          seed=settings.seed)
    val = fixed_chips(val_scenes, spec, settings.val_chips, settings.val_crop) \
        if val_scenes else None
    pos_weight = [settings.pos_weight.get(n, 1.0) for n in names]
    cldice_weight = [settings.cldice_weight.get(n, 0.0) for n in names]
    total_steps = epochs * settings.steps_per_epoch
    step, start_epoch, elapsed = 0, 0, 0.0
    history: list[dict[str, Any]] = []
    if resume is not None:
        step, start_epoch, elapsed, history = _load_state(Path(resume), network, optimizer,
                                                          sampler)
        say(f"resumed from {resume} at epoch {start_epoch}, step {step}")
    # only fp16 needs loss scaling; bf16 has fp32's exponent range
    scaler = torch.amp.GradScaler(dev.type, enabled=choice.amp_dtype == torch.float16)
    network.train()
    began = time.perf_counter() - elapsed
    finished = False
    for epoch in range(start_epoch, epochs):
        if finished:
            break
        losses: list[float] = []
        class_losses: list[list[float]] = []
        for _ in range(settings.steps_per_epoch):
            progress = step / total_steps
            if time_budget_s:
                progress = max(progress, (time.perf_counter() - began) / time_budget_s)
            if progress >= 1.0:
                finished = True
                break
            check(cancel)
            lr = lr_at(progress, settings.lr, settings.warmup_fraction)
            for group in optimizer.param_groups:
                group["lr"] = lr
            images, labels = sampler.batch(settings.batch_size)
            images = images.to(dev, non_blocking=True).contiguous(
                memory_format=torch.channels_last)
            labels = labels.to(dev, non_blocking=True)
            with choice.autocast():
                logits = network(images)
            loss, per_class = masked_bce_dice(logits, labels, pos_weight, settings.dice_weight,
                                              cldice_weight=cldice_weight)
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            losses.append(float(loss.detach()))
            class_losses.append(per_class)
            step += 1
            if on_step is not None:
                on_step(step, losses[-1], progress)
            if step % 10 == 0:
                mean = np.nanmean(np.array(class_losses[-10:], dtype=float), axis=0)
                say(f"epoch {epoch + 1}/{epochs} step {step}/{total_steps} "
                    f"loss {np.mean(losses[-10:]):.4f} ("
                    + ", ".join(f"{n} {v:.3f}" for n, v in zip(names, mean, strict=True))
                    + f") lr {lr:.2e} {time.perf_counter() - began:.0f}s")
        if not losses:
            break
        ious = evaluate_chips(network, *val, dev) if val is not None else []
        val_iou = dict(zip(names, ious, strict=False))
        entry: dict[str, Any] = {"epoch": epoch + 1, "step": step, "loss": float(np.mean(losses)),
                 "seconds": round(time.perf_counter() - began, 1),
                 "val_iou": val_iou}
        history.append(entry)
        say(f"epoch {epoch + 1}/{epochs} done: loss {entry['loss']:.4f}, val IoU "
            + ", ".join(f"{n} {v:.3f}" for n, v in val_iou.items())
            + f", {entry['seconds']:.0f}s")
        full_record = dict(record or {})
        full_record.update(epochs=epoch + 1, steps=step, history=history,
                           time_budget_s=time_budget_s,
                           seconds=entry["seconds"], device=describe_device(dev),
                           precision=choice.precision, device_line=choice.description,
                           settings=asdict(settings))
        final_spec = replace(spec, training=full_record)
        meta = {RECORD_KEY: json.dumps(full_record)}
        note_written(save_checkpoint(output, network, final_spec, meta))
        if keep_epochs:
            note_written(save_checkpoint(epoch_path(output, epoch + 1), network, final_spec,
                                         meta))
        _save_state(state_path(output), optimizer, sampler, step, epoch + 1,
                    time.perf_counter() - began, history)
        note_written(state_path(output))
    return TrainResult(output, len(history), step, time.perf_counter() - began, history)


def describe_device(dev: torch.device) -> str:
    if dev.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(dev)})"
    return (f"cpu ({platform.processor() or platform.machine()}, {torch.get_num_threads()} "
            f"threads, torch {torch.__version__}, python {sys.version.split()[0]})")


def _save_state(path: Path, optimizer: torch.optim.Optimizer, sampler: ChipSampler, step: int,
                epoch: int, elapsed: float, history: list[dict[str, Any]]) -> None:
    from safetensors.torch import save_file

    state = optimizer.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, float]] = {}
    for index, values in state["state"].items():
        for name, value in values.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optim.{index}.{name}"] = value.detach().cpu().contiguous()
            else:
                scalars.setdefault(str(index), {})[name] = float(value)
    tensors["rng.torch"] = torch.get_rng_state()
    meta = {"step": step, "epoch": epoch, "elapsed": elapsed, "history": history,
            "param_groups": state["param_groups"], "scalars": scalars,
            "sampler": sampler.state()}
    tmp = path.with_name(path.name + ".tmp")
    save_file(tensors, str(tmp), metadata={"unet_gis.train_state": json.dumps(meta)})
    tmp.replace(path)


def _load_state(checkpoint: Path, network: torch.nn.Module, optimizer: torch.optim.Optimizer,
                sampler: ChipSampler) -> tuple[int, int, float, list[dict[str, Any]]]:
    from safetensors import safe_open

    from unet_gis.errors import UserError

    sidecar = checkpoint if checkpoint.name.endswith(STATE_SUFFIX) else state_path(checkpoint)
    weights = checkpoint if not checkpoint.name.endswith(STATE_SUFFIX) else checkpoint.with_name(
        checkpoint.name.removesuffix(STATE_SUFFIX) + ".safetensors")
    if not sidecar.is_file():
        raise UserError(f"No training state {sidecar.name} next to {weights.name}; it cannot "
                        "be resumed (use --init to fine-tune from it instead).")
    read_metadata(weights)
    loaded = load_checkpoint(weights)
    network.load_state_dict(loaded.network.state_dict())
    with safe_open(str(sidecar), framework="pt") as handle:
        meta = json.loads((handle.metadata() or {})["unet_gis.train_state"])
        tensors = {k: handle.get_tensor(k) for k in handle.keys()}  # noqa: SIM118
    state: dict[str, Any] = {"state": {}, "param_groups": meta["param_groups"]}
    for key, value in tensors.items():
        if key.startswith("optim."):
            _, index, name = key.split(".", 2)
            state["state"].setdefault(int(index), {})[name] = value
    for index, values in meta["scalars"].items():
        state["state"].setdefault(int(index), {}).update(values)
    optimizer.load_state_dict(state)
    torch.set_rng_state(tensors["rng.torch"])
    sampler.set_state(meta["sampler"])
    return int(meta["step"]), int(meta["epoch"]), float(meta["elapsed"]), list(meta["history"])
