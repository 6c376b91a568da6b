"""One rule turns a threshold into a stored byte, for the overlay, vectors and scores."""

from __future__ import annotations

import numpy as np

from unet_gis.app.canvas.render import threshold_rgba
from unet_gis.raster.probability import threshold_to_byte
from unet_gis.training.evaluate import score_class
from unet_gis.vector.masks import threshold as class_mask


def test_zero_is_never_above_a_threshold_anywhere() -> None:
    assert threshold_to_byte(0.0) == 1 and threshold_to_byte(0.5) == 127
    assert threshold_to_byte(1.0) == 254  # probability 1 is stored as 254, nodata as 255
    # rasters written before nodata stored probability 1 as 255
    assert threshold_to_byte(0.5, 255) == 128 and threshold_to_byte(1.0, 255) == 255
    probabilities = np.array([[0, 1, 126, 127, 254]], np.uint8)
    for threshold in (0.0, 0.5, 1.0):
        vector = class_mask(probabilities, threshold)
        overlay = threshold_rgba(probabilities, None, threshold_to_byte(threshold),
                                 (255, 0, 0))[..., 3] > 0
        labels = np.ones_like(probabilities)
        scored = score_class(probabilities, labels, threshold, 0.3, False, False, 2.0)
        assert scored is not None
        assert np.array_equal(vector, overlay)
        assert scored.pixel.tp == int(vector.sum())
