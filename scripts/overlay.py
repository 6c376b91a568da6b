"""Render a probability raster over its image as a PNG, to look at a model's output.

    python scripts/overlay.py IMAGE PROBABILITIES.tif OUT.png [--max-side 1600]

Roads and vehicles above their thresholds (the raster's own, from the model spec) are
tinted in the class colours over the image, read on the probability raster's grid (plain
images without a CRS are stretched to it).  Not part of the package: a reviewing aid.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import rasterio
from PIL import Image
from rasterio.enums import Resampling

from unet_gis.raster.probability import full_scale_of, threshold_to_byte


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("image", type=Path)
    parser.add_argument("probabilities", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--max-side", type=int, default=1600)
    args = parser.parse_args()
    with rasterio.open(args.probabilities) as prob:
        scale = min(1.0, args.max_side / max(prob.width, prob.height))
        shape = (max(1, int(prob.height * scale)), max(1, int(prob.width * scale)))
        bands = prob.read(out_shape=(prob.count, *shape), resampling=Resampling.average)
        valid = prob.read_masks(1, out_shape=shape) > 0  # nodata (or an old raster's mask)
        classes = json.loads(prob.tags()["UNET_GIS_CLASSES"])
        full_scale = full_scale_of(prob)
    with Image.open(args.image) if args.image.suffix.lower() in (".png", ".jpg", ".jpeg") \
            else _rasterio_rgb(args.image) as picture:
        rgb = np.asarray(picture.convert("RGB").resize(shape[::-1], Image.Resampling.BILINEAR),
                         np.float32)
    out = rgb.copy()
    for band, cls in zip(bands, classes, strict=True):
        on = (band >= threshold_to_byte(cls["threshold"], full_scale)) & valid
        colour = np.asarray(cls["color"], np.float32)
        out[on] = 0.45 * out[on] + 0.55 * colour
    args.out.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.concatenate([rgb, out], 1).astype(np.uint8)).save(args.out)
    print(f"wrote {args.out} ({shape[1] * 2}x{shape[0]})")


def _rasterio_rgb(path: Path) -> Image.Image:
    with rasterio.open(path) as src:
        indexes = [1, 2, 3] if src.count >= 3 else [1, 1, 1]
        data = src.read(indexes).astype(np.float32)
    low, high = np.percentile(data, 2), np.percentile(data, 98)
    scaled = np.clip((data - low) / max(high - low, 1e-6) * 255, 0, 255).astype(np.uint8)
    return Image.fromarray(scaled.transpose(1, 2, 0))


if __name__ == "__main__":
    main()
