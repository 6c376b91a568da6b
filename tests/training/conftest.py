"""Fixtures for the training tests: generated scenes and where the shared data lives."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

torch.set_num_threads(2)

REPO = Path(__file__).resolve().parents[2]


def shared_data() -> Path | None:
    """The shared data folder (``UNET_GIS_DATA`` or ``../shared/data``), if present."""
    candidates = [os.environ.get("UNET_GIS_DATA"), str(REPO.parent / "shared" / "data")]
    for candidate in candidates:
        if candidate and Path(candidate).is_dir():
            return Path(candidate)
    return None


@pytest.fixture
def data_root() -> Path:
    root = shared_data()
    if root is None:
        pytest.skip("shared data not available (set UNET_GIS_DATA)")
    return root


def synthetic_scene(size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A trivially learnable scene: grey noisy ground, dark stripes (roads) and bright
    squares (vehicles).  Returns (H, W, 3) uint8 and (2, H, W) labels (0/1)."""
    rng = np.random.default_rng(seed)
    image = rng.normal(140, 12, (size, size, 3))
    labels = np.zeros((2, size, size), np.uint8)
    for _ in range(rng.integers(1, 3)):
        width = int(rng.integers(5, 9))
        if rng.random() < 0.5:
            r = int(rng.integers(0, size - width))
            image[r:r + width] = rng.normal(50, 8, (width, size, 3))
            labels[0, r:r + width] = 1
        else:
            c = int(rng.integers(0, size - width))
            image[:, c:c + width] = rng.normal(50, 8, (size, width, 3))
            labels[0, :, c:c + width] = 1
    for _ in range(rng.integers(4, 8)):
        side = int(rng.integers(8, 12))
        r, c = (int(v) for v in rng.integers(0, size - side, 2))
        image[r:r + side, c:c + side] = rng.normal(235, 8, (side, side, 3))
        labels[1, r:r + side, c:c + side] = 1
        labels[0, r:r + side, c:c + side] = 0
    return np.clip(image, 0, 255).astype(np.uint8), labels
