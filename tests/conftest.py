"""Shared fixtures: small generated GeoTIFFs and tiny models (never downloaded)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
import torch
import torch.nn.functional as F
from rasterio.transform import from_origin

from unet_gis.model.checkpoint import LoadedModel, save_checkpoint
from unet_gis.model.spec import Architecture, ModelSpec, default_spec
from unet_gis.model.unet import build_unet

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# the bf16 probe's verdict is cached per machine: tests keep it out of the user's home
if "UNET_GIS_CACHE" not in os.environ:
    import tempfile

    os.environ["UNET_GIS_CACHE"] = tempfile.mkdtemp(prefix="unet-gis-test-cache-")
torch.set_num_threads(2)

UTM_11N = "EPSG:32611"
# Las Vegas, like the bundled sample: 0.3 m in UTM, ~2.7e-6 degrees in EPSG:4326
PROJECTED = {"crs": UTM_11N, "transform": from_origin(666000.0, 4012000.0, 0.3, 0.3)}
GEOGRAPHIC = {"crs": "EPSG:4326", "transform": from_origin(-115.17, 36.24, 3.3e-6, 2.7e-6)}


def write_geotiff(path: Path, data: np.ndarray, crs: Any = UTM_11N,
                  transform: Any = PROJECTED["transform"], nodata: float | None = None,
                  **profile: Any) -> Path:
    """Write ``data`` (bands, rows, cols) as a GeoTIFF."""
    if data.ndim == 2:
        data = data[None]
    params = {"driver": "GTiff", "width": data.shape[2], "height": data.shape[1],
              "count": data.shape[0], "dtype": data.dtype, "crs": crs,
              "transform": transform, "nodata": nodata}
    params.update(profile)
    with rasterio.open(path, "w", **params) as dst:
        dst.write(data)
    return path


@pytest.fixture
def make_geotiff(tmp_path: Path) -> Callable[..., Path]:
    counter = iter(range(10_000))

    def factory(data: np.ndarray, name: str | None = None, **kwargs: Any) -> Path:
        return write_geotiff(tmp_path / (name or f"image_{next(counter)}.tif"), data, **kwargs)

    return factory


def random_rgb(height: int, width: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (3, height, width), dtype=np.uint8)


def tiny_spec(**overrides: Any) -> ModelSpec:
    params: dict[str, Any] = {"architecture": Architecture(base_width=4, depth=2,
                                                           batch_norm=True),
                              "tile": 128, "halo": 32}
    params.update(overrides)
    return default_spec(**params)


class NeighbourhoodThreshold(torch.nn.Module):
    """A model whose output is a known function of its input.

    road = 255 where the 3×3 maximum of band 1 is >= 128; vehicle = 255 where band 2 < 128.
    The 3×3 neighbourhood makes seams and mirror-padded edges visible if they are wrong.
    Inputs arrive standardised as (raw / 255 - 0.5) / 0.25, so raw >= 128 <=> x > 0.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        road = F.max_pool2d(x[:, :1], 3, stride=1, padding=1) > 0
        vehicle = x[:, 1:2] < 0
        return torch.cat([road, vehicle], dim=1).float() * 40.0 - 20.0


@pytest.fixture
def tiny_model() -> LoadedModel:
    """A randomly initialised 2-level U-Net: fast, deterministic for a fixed seed."""
    torch.manual_seed(0)
    spec = tiny_spec()
    return LoadedModel(build_unet(3, 2, spec.architecture).eval(), spec)


@pytest.fixture
def tiny_checkpoint(tmp_path: Path, tiny_model: LoadedModel) -> Path:
    return save_checkpoint(tmp_path / "tiny.safetensors", tiny_model.network, tiny_model.spec)
