"""Numeric precision: which dtype the model runs in, chosen from what the hardware does well.

On a CPU, bf16 autocast is about 3x faster than fp32 where the CPU has native bf16 units
(AMX-BF16 on recent Xeons, AVX512-BF16 on AMD Zen 4/5 and Cooper Lake) and many times
*slower* where it has not (bf16 is then emulated).  ``auto`` therefore picks bf16 only when
the CPU reports such units, oneDNN is not capped below them (``ONEDNN_MAX_CPU_ISA``), and a
one-off micro-benchmark on this machine confirms it is faster.  The benchmark's verdict is
cached per CPU, torch version and oneDNN cap (not thread count: every process on a machine
must agree) in the user cache folder, so it
costs a second once, not on every run.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from unet_gis.errors import UserError
from unet_gis.inference.choices import PRECISION_CHOICES

log = logging.getLogger(__name__)

_DTYPES = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}
# oneDNN ISA caps (ONEDNN_MAX_CPU_ISA) that stop short of native bf16 instructions
_CAPS_WITHOUT_BF16 = ("SSE41", "AVX", "AVX2", "AVX2_VNNI", "AVX512_CORE", "AVX512_CORE_VNNI")
# bf16 must beat fp32 by this factor in the probe to be chosen
MIN_SPEEDUP = 1.1


@dataclass(frozen=True)
class Precision:
    """The chosen precision: ``name`` is fp32, bf16 or fp16; ``reason`` says why in words."""

    name: str
    reason: str = ""

    @property
    def amp_dtype(self) -> torch.dtype | None:
        return _DTYPES[self.name]

    @property
    def label(self) -> str:
        return f"{self.name} ({self.reason})" if self.reason else self.name


def check_precision(name: str) -> str:
    if name not in PRECISION_CHOICES:
        raise UserError(f"Unknown precision {name!r}; choose one of "
                        f"{', '.join(PRECISION_CHOICES)}.")
    return name


def onednn_cap() -> str | None:
    """The oneDNN ISA cap set in the environment, upper-case, or ``None``."""
    value = os.environ.get("ONEDNN_MAX_CPU_ISA") or os.environ.get("DNNL_MAX_CPU_ISA")
    return value.strip().upper() if value else None


def native_bf16_units() -> str | None:
    """``"AMX"`` or ``"AVX512-BF16"`` when the CPU (as torch and oneDNN see it) has native
    bf16 matrix units, else ``None``."""
    cap = onednn_cap()
    if cap in _CAPS_WITHOUT_BF16:
        return None
    cpu = torch.cpu
    if getattr(cpu, "_is_amx_tile_supported", lambda: False)():
        return "AMX"
    if getattr(cpu, "_is_avx512_bf16_supported", lambda: False)():
        return "AVX512-BF16"
    return None


def _no_bf16_reason() -> str:
    cap = onednn_cap()
    if cap in _CAPS_WITHOUT_BF16:
        return f"no native bf16: oneDNN capped at {cap}"
    return "no native bf16"


def resolve_cpu_precision(requested: str, threads: int) -> Precision:
    """The CPU precision for ``requested`` (auto, fp32, bf16, fp16)."""
    check_precision(requested)
    if requested == "fp32":
        return Precision("fp32", "requested")
    if requested in ("bf16", "fp16"):
        units = native_bf16_units() if requested == "bf16" else None
        return Precision(requested, units or "requested")
    units = native_bf16_units()
    if units is None:
        return Precision("fp32", _no_bf16_reason())
    speedup = measured_bf16_speedup(threads)
    if speedup < MIN_SPEEDUP:
        return Precision("fp32", f"bf16 measured {speedup:.1f}x, not faster")
    return Precision("bf16", units)


def resolve_gpu_precision(requested: str, device: torch.device) -> Precision:
    """CUDA: bf16 where the GPU supports it, else fp16 (``auto``); MPS: fp16."""
    check_precision(requested)
    if requested == "fp32":
        return Precision("fp32", "requested")
    if requested != "auto":
        return Precision(requested)
    if device.type == "cuda" and torch.cuda.is_bf16_supported():
        return Precision("bf16")
    return Precision("fp16")


def cache_folder() -> Path:
    """The user cache folder of unet-gis (``$XDG_CACHE_HOME``, ``%LOCALAPPDATA%`` or
    ``~/Library/Caches``; ``UNET_GIS_CACHE`` overrides)."""
    if os.environ.get("UNET_GIS_CACHE"):
        return Path(os.environ["UNET_GIS_CACHE"])
    system = platform.system()
    if system == "Windows" and os.environ.get("LOCALAPPDATA"):
        return Path(os.environ["LOCALAPPDATA"]) / "unet-gis" / "cache"
    if system == "Darwin":
        return Path.home() / "Library" / "Caches" / "unet-gis"
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "unet-gis"


def _machine_key() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    # no thread count: every process on the machine (a Dask worker with 1 thread, the app
    # with all cores) must reach the same verdict, or their outputs would differ
    return f"{cpu}|torch {torch.__version__}|isa {onednn_cap() or 'default'}"


def measured_bf16_speedup(threads: int) -> float:
    """fp32 time / bf16 time of a small U-Net forward pass on this machine (cached)."""
    path = cache_folder() / "precision.json"
    key = _machine_key()
    try:
        cached = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        cached = {}
    if isinstance(cached, dict) and isinstance(cached.get(key), (int, float)):
        return float(cached[key])
    speedup = _probe_speedup()
    if speedup < MIN_SPEEDUP:
        # units that the CPU reports but that measure slower are more often a busy moment
        # (another process on the cores during the probe) than a slow CPU; the verdict is
        # cached for good, so it must hold on a second, longer look
        speedup = max(speedup, _probe_speedup(repeats=12))
    log.info("bf16 probe on %s: %.2fx fp32", key, speedup)
    cached = cached if isinstance(cached, dict) else {}
    cached[key] = round(speedup, 3)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(cached, indent=1), encoding="utf-8")
        tmp.replace(path)
    except OSError:  # a read-only home only costs the probe again next time
        pass
    return speedup


def _probe_speedup(size: int = 192, repeats: int = 4) -> float:
    from unet_gis.model.spec import Architecture
    from unet_gis.model.unet import build_unet

    torch.manual_seed(0)
    network = build_unet(3, 2, Architecture(base_width=16, depth=4)).eval()
    network = network.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    x = torch.randn(1, 3, size, size).contiguous(memory_format=torch.channels_last)

    def once(dtype: torch.dtype | None) -> float:
        with torch.inference_mode(), torch.autocast("cpu", dtype=dtype or torch.bfloat16,
                                                    enabled=dtype is not None):
            start = time.perf_counter()
            network(x)
            return time.perf_counter() - start

    once(None), once(torch.bfloat16)  # warm-up: oneDNN builds its kernels on first use
    # alternate the two and keep each one's best, so a busy moment hurts neither
    fp32 = bf16 = float("inf")
    for _ in range(repeats):
        fp32 = min(fp32, once(None))
        bf16 = min(bf16, once(torch.bfloat16))
    return fp32 / max(bf16, 1e-9)
