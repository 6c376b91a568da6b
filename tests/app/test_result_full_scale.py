"""The app's overlay thresholds a probability raster by the file's own full scale."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.vector.conftest import write_probabilities
from unet_gis.app.layers.model import ResultLayer
from unet_gis.app.opener import layers_for
from unet_gis.raster.probability import threshold_to_byte


@pytest.mark.parametrize(("legacy", "full_scale"), [(True, 255), (False, 254)])
def test_result_layers_carry_the_rasters_full_scale(tmp_path: Path, legacy: bool,
                                                    full_scale: int) -> None:
    road = np.full((32, 32), 0.497)  # 127 of 255 is below 0.5; of 254 it is 0.5
    path = write_probabilities(tmp_path / "p.tif", road, legacy=legacy)
    layers, _, _ = layers_for(path, {})
    try:
        results = [layer for layer in layers if isinstance(layer, ResultLayer)]
        assert [r.full_scale for r in results] == [full_scale, full_scale]
        # what the canvas compares the stored bytes with (view.py)
        assert threshold_to_byte(0.5, results[0].full_scale) == (128 if legacy else 127)
    finally:
        for layer in layers:
            if isinstance(layer, ResultLayer) and layer.source is not None:
                layer.source.close()
