"""Precision: ``auto`` picks bf16 only where the CPU runs it natively, and bf16 is accurate."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.windows import Window

from unet_gis.errors import UserError
from unet_gis.inference import precision as precision_module
from unet_gis.inference.device import select_device
from unet_gis.inference.engine import EngineOptions, predict
from unet_gis.inference.precision import native_bf16_units, resolve_cpu_precision
from unet_gis.model.checkpoint import LoadedModel, load_checkpoint
from unet_gis.model.zoo import default_model_path
from unet_gis.raster.probability import DEVICE_TAG, threshold_to_byte

SAMPLE = Path(__file__).resolve().parents[2] / "resources" / "samples" / \
    "spacenet_vegas_img0.tif"
NO_BF16 = "this CPU has no native bf16 units (AMX-BF16 or AVX512-BF16)"


def _choose_in_subprocess(env_extra: dict[str, str], cache: Path) -> dict[str, str]:
    code = ("import json; from unet_gis.inference.device import select_device; "
            "c = select_device('cpu', 2); "
            "print(json.dumps({'precision': c.precision, 'description': c.description}))")
    env = {**os.environ, "UNET_GIS_CACHE": str(cache), **env_extra}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, timeout=120, check=True)
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def test_auto_chooses_fp32_on_a_cpu_without_bf16_units(tmp_path: Path) -> None:
    # oneDNN's ISA cap emulates an ordinary laptop CPU (AVX2, no bf16 instructions)
    chosen = _choose_in_subprocess({"ONEDNN_MAX_CPU_ISA": "AVX2"}, tmp_path)
    assert chosen["precision"] == "fp32"
    assert "fp32 (no native bf16: oneDNN capped at AVX2)" in chosen["description"]
    assert chosen["description"].startswith("CPU: 2 threads, ")


def test_auto_chooses_bf16_where_native_and_caches_the_probe(tmp_path: Path) -> None:
    if native_bf16_units() is None:
        pytest.skip(NO_BF16)
    chosen = _choose_in_subprocess({}, tmp_path)
    assert chosen["precision"] == "bf16", chosen
    assert f"bf16 ({native_bf16_units()})" in chosen["description"]
    cached = json.loads((tmp_path / "precision.json").read_text())
    (key, speedup), = cached.items()
    assert "torch " in key and "threads" not in key and speedup >= 1.1


def test_probe_verdict_decides_and_is_reused(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UNET_GIS_CACHE", str(tmp_path))
    monkeypatch.setattr(precision_module, "native_bf16_units", lambda: "AMX")
    calls: list[int] = []

    def slow_bf16(repeats: int = 4) -> float:
        calls.append(repeats)
        return 0.4  # emulated bf16: 2.5x slower than fp32

    monkeypatch.setattr(precision_module, "_probe_speedup", slow_bf16)
    first = resolve_cpu_precision("auto", 3)
    second = resolve_cpu_precision("auto", 3)
    assert first.name == second.name == "fp32"
    assert "not faster" in first.reason
    assert calls == [4, 12]  # a slow verdict is confirmed by a longer look, then cached
    assert resolve_cpu_precision("bf16", 3).name == "bf16"  # asked for: honoured


def test_a_busy_moment_during_the_probe_is_not_cached_as_slow(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UNET_GIS_CACHE", str(tmp_path))
    monkeypatch.setattr(precision_module, "native_bf16_units", lambda: "AMX")
    probes = iter([0.5, 3.2])  # another process held the cores during the first look

    monkeypatch.setattr(precision_module, "_probe_speedup",
                        lambda repeats=4: next(probes))
    assert resolve_cpu_precision("auto", 2).name == "bf16"
    cached = json.loads((tmp_path / "precision.json").read_text())
    assert list(cached.values()) == [3.2]
    assert resolve_cpu_precision("auto", 2).name == "bf16"  # from the cache: no 3rd probe


def test_unknown_precision_is_a_user_error() -> None:
    with pytest.raises(UserError, match="Unknown precision 'int8'"):
        select_device("cpu", 1, "int8")


@pytest.fixture(scope="module")
def bundled() -> LoadedModel:
    return load_checkpoint(default_model_path())


def _crop(tmp_path: Path) -> Path:
    """A 768 x 768 crop of the bundled sample scene (streets, roofs, parked cars)."""
    out = tmp_path / "crop.tif"
    with rasterio.open(SAMPLE) as src:
        window = Window(300, 200, 768, 768)
        profile = src.profile | {"width": 768, "height": 768,
                                 "transform": src.window_transform(window)}
        with rasterio.open(out, "w", **profile) as dst:
            dst.write(src.read(window=window))
    return out


@pytest.mark.slow
def test_bf16_probabilities_match_fp32(tmp_path: Path, bundled: LoadedModel) -> None:
    if native_bf16_units() is None:
        pytest.skip(NO_BF16 + ": bf16 would be emulated and is never chosen here")
    image = _crop(tmp_path)
    results = {}
    for name in ("fp32", "bf16"):
        output = tmp_path / f"{name}.tif"
        result = predict(image, output, bundled,
                         EngineOptions(device="cpu", precision=name, threads=2,
                                       overviews=False))
        assert f", {name}" in result.device
        with rasterio.open(output) as src:
            results[name] = src.read().astype(np.int16)
            assert name in src.tags()[DEVICE_TAG]
    difference = np.abs(results["bf16"] - results["fp32"])
    assert difference.max() > 0  # the two really ran in different precisions
    assert (difference <= 2).mean() >= 0.999
    for band, cls in enumerate(bundled.spec.classes):
        level = threshold_to_byte(cls.threshold)
        masks = [results[n][band] >= level for n in ("fp32", "bf16")]
        assert (masks[0] != masks[1]).mean() <= 0.002, cls.name


def test_tta_averages_the_eight_symmetries(tiny_model: LoadedModel) -> None:
    """A flip of the input gives a flipped output: TTA's mean is invariant to it."""
    from unet_gis.inference.backend import TorchBackend

    device = select_device("cpu", 1, "fp32")
    tiles = np.random.default_rng(0).normal(0, 1, (1, 3, 64, 64)).astype(np.float32)
    plain = TorchBackend(tiny_model.network, device).infer(tiles)
    tta = TorchBackend(tiny_model.network, device, tta=True)
    averaged = tta.infer(tiles)
    flipped = tta.infer(np.ascontiguousarray(tiles[..., ::-1]))
    assert np.abs(averaged.astype(int) - flipped[..., ::-1].astype(int)).max() <= 1
    assert np.abs(averaged.astype(int) - plain.astype(int)).max() > 0
