"""The optional ONNX Runtime backend: same probabilities as torch fp32, exported once."""

from __future__ import annotations

import builtins
from pathlib import Path

import numpy as np
import pytest

from unet_gis.errors import UserError
from unet_gis.inference.backend import TorchBackend, create_backend
from unet_gis.inference.device import select_device
from unet_gis.inference.engine import EngineOptions, predict
from unet_gis.model.checkpoint import LoadedModel

from ..conftest import random_rgb


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("UNET_GIS_CACHE", str(folder))
    return folder


def test_onnx_matches_torch_fp32_and_is_exported_once(tiny_model: LoadedModel,
                                                      cache: Path) -> None:
    pytest.importorskip("onnxruntime")
    tiles = np.random.default_rng(1).normal(0, 1, (2, 3, 96, 128)).astype(np.float32)
    onnx = create_backend(tiny_model, "cpu", "auto", 2, "onnx")
    assert onnx.device.precision == "fp32" and "ONNX Runtime" in onnx.device.description
    reference = TorchBackend(tiny_model.network, select_device("cpu", 2, "fp32")).infer(tiles)
    result = onnx.infer(tiles)
    assert result.shape == reference.shape == (2, 2, 96, 128) and result.dtype == np.uint8
    assert np.abs(result.astype(int) - reference.astype(int)).max() <= 1
    (exported,) = (cache / "onnx").glob("*.onnx")
    stamp = exported.stat().st_mtime_ns
    create_backend(tiny_model, "cpu", "fp32", 2, "onnx")  # reused, not exported again
    assert exported.stat().st_mtime_ns == stamp
    assert exported.read_bytes()[:2] != b"\x80\x04"  # a protobuf graph, not a pickle


def test_onnx_engine_run_and_bad_combinations(tiny_model: LoadedModel, cache: Path,
                                              make_geotiff, tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    image = make_geotiff(random_rgb(150, 170))
    result = predict(image, tmp_path / "p.tif", tiny_model,
                     EngineOptions(device="cpu", backend="onnx", threads=2))
    assert "ONNX Runtime" in result.device
    with pytest.raises(UserError, match="runs fp32 on the CPU"):
        create_backend(tiny_model, "cpu", "bf16", 2, "onnx")
    with pytest.raises(UserError, match="torch backend only"):
        create_backend(tiny_model, "cpu", "auto", 2, "onnx", tta=True)


def test_missing_onnxruntime_is_one_clear_message(tiny_model: LoadedModel, cache: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    real_import = builtins.__import__

    def no_onnxruntime(name: str, *args: object, **kwargs: object) -> object:
        if name == "onnxruntime":
            raise ImportError("No module named 'onnxruntime'")
        return real_import(name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(builtins, "__import__", no_onnxruntime)
    with pytest.raises(UserError, match=r"pip install 'unet-gis\[onnx\]'"):
        create_backend(tiny_model, "cpu", "auto", 2, "onnx")
