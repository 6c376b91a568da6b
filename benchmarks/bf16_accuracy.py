"""How far bf16 probabilities are from fp32 on real scenes (the issue-12 accuracy check).

    python benchmarks/bf16_accuracy.py IMAGE [IMAGE ...] [--model FILE]

For each image, runs the engine in fp32 and in bf16 (CPU) and prints the share of
probability pixels within 2 steps (2/254) of fp32 (target >= 99.9 %) and, per class, the share of
pixels whose mask at the model's threshold differs (target <= 0.2 %).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import rasterio

from unet_gis.inference.engine import EngineOptions, predict
from unet_gis.inference.precision import native_bf16_units
from unet_gis.model.checkpoint import load_checkpoint
from unet_gis.model.zoo import default_model_path
from unet_gis.raster.probability import threshold_to_byte


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("images", nargs="+")
    parser.add_argument("--model", help="checkpoint (default: the bundled model)")
    args = parser.parse_args()
    units = native_bf16_units()
    if units is None:
        sys.exit("this CPU has no native bf16 units: bf16 would be emulated and never chosen")
    model = load_checkpoint(args.model or default_model_path())
    print(f"model {model.spec.name}; native bf16: {units}")
    with tempfile.TemporaryDirectory() as tmp:
        for image in args.images:
            bands = {}
            for precision in ("fp32", "bf16"):
                out = Path(tmp) / f"{Path(image).stem}_{precision}.tif"
                predict(image, out, model, EngineOptions(device="cpu", precision=precision,
                                                         overviews=False))
                with rasterio.open(out) as src:
                    bands[precision] = src.read(masked=True).astype(np.int16)
            difference = np.abs(bands["bf16"] - bands["fp32"]).compressed()
            line = [f"{Path(image).name}: {100 * (difference <= 2).mean():.3f} % within 2/254"
                    f" (max {difference.max()})"]
            for band, cls in enumerate(model.spec.classes):
                level = threshold_to_byte(cls.threshold)
                masks = [np.ma.filled(bands[p][band] >= level, False) for p in ("fp32", "bf16")]
                differs = 100 * (masks[0] != masks[1]).mean()
                line.append(f"{cls.name} mask differs on {differs:.3f} %")
            print("; ".join(line))


if __name__ == "__main__":
    main()
