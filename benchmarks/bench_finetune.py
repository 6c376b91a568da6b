"""How much fine-tuning on a user's labels helps, for 1, 5 and 10 minutes (issue 18).

    python benchmarks/bench_finetune.py IMAGE MASK --gsd M [--minutes 1 5 10]
        [--road-value V] [--ignore-value V] [--white-nodata | --no-white-nodata]

Stands in for a user who labelled one scene where the default model is weak: the scene
(a plain image at ``--gsd`` metres per pixel) is written as a GeoTIFF on a synthetic metric
grid, its road mask polygonized into a labels GeoPackage, and the scene cut into
``--strips`` vertical checked strips, so :func:`~unet_gis.training.finetune.finetune` keeps
one (20 %) aside.  For each budget it fine-tunes the bundled model from scratch of the
budget and prints the held-out road relaxed F1 before and after, the steps and the time.

Mask values (read with ``--road-value`` and ``--ignore-value``, else detected):

- 0 / 255 masks (Massachusetts roads): 255 is road, nothing is ignored;
- 0 / 1 / 255 masks (``aerial_roads_handmade``): 1 is road, 255 is ignore.

Ignored pixels are cut out of the checked strips (holes: unknown, neither road nor
background), as are pure white pixels (RGB 255, 255, 255: the no-data of the Massachusetts
tiles) unless ``--no-white-nodata``; by default white is no-data for 0 / 255 masks only.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from unet_gis.training.finetune import FinetuneSettings, finetune

MASSACHUSETTS = "0/255 (road 255)"
HANDMADE = "0/1/255 (road 1, ignore 255)"


@dataclass(frozen=True)
class MaskValues:
    road: int
    ignore: int | None  # None: nothing is ignored
    white_nodata: bool
    convention: str = "given"


def read_mask(path: Path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as image:
        if image.mode not in ("L", "P", "I", "I;16"):
            image = image.convert("L")
        return np.asarray(image)


def mask_values(mask: np.ndarray, road: int | None, ignore: int | None,
                white_nodata: bool | None) -> MaskValues:
    """What the values of ``mask`` mean: given, else detected from the values present."""
    present = {int(v) for v in np.unique(mask)}
    if present <= {0, 255}:
        convention = MASSACHUSETTS
        auto_road, auto_ignore, auto_white = 255, None, True
    elif present <= {0, 1, 255}:
        convention = HANDMADE
        auto_road, auto_ignore, auto_white = 1, 255, False
    else:
        if road is None:
            raise SystemExit(f"mask values {sorted(present)[:8]}: give --road-value (and "
                             "--ignore-value if some value means 'unknown').")
        convention, auto_road, auto_ignore, auto_white = "given", road, None, False
    road_value = auto_road if road is None else road
    ignore_value = auto_ignore if ignore is None else (None if ignore < 0 else ignore)
    if ignore_value == road_value:
        raise SystemExit(f"--road-value and --ignore-value are both {road_value}.")
    if road_value not in present:
        raise SystemExit(f"no pixel of the mask has the road value {road_value} "
                         f"(values {sorted(present)[:8]}).")
    return MaskValues(road_value, ignore_value,
                      auto_white if white_nodata is None else white_nodata,
                      convention if road is None and ignore is None else "given")


def _polygons(pixels: np.ndarray, transform: Any) -> list[Any]:
    import shapely
    from rasterio import features

    if not pixels.any():
        return []
    return [shapely.geometry.shape(g) for g, v in
            features.shapes(pixels.astype(np.uint8), mask=pixels, transform=transform) if v]


def labels_from_mask(mask: np.ndarray, rgb: np.ndarray, values: MaskValues, image_tif: Path,
                     out: Path, strips: int = 5) -> tuple[Path, dict[str, float]]:
    """The labels GeoPackage of ``mask`` (road polygons, checked strips with the ignored
    pixels cut out); and the road, ignore and white no-data shares of the image."""
    import rasterio
    import shapely

    from unet_gis.training.labels import LabelSet, save_labels

    road = mask == values.road
    ignore = mask == values.ignore if values.ignore is not None else np.zeros_like(road)
    white = (rgb == 255).all(axis=-1) if values.white_nodata else np.zeros_like(road)
    unknown = ignore | white
    road &= ~unknown
    with rasterio.open(image_tif) as src:
        transform, crs, width, height = src.transform, src.crs, src.width, src.height
    holes = shapely.union_all(_polygons(unknown, transform))
    x0, y1 = transform * (0, 0)
    x1, y0 = transform * (width, height)
    step = (x1 - x0) / strips
    checked = [shapely.box(x0 + i * step, y0, x0 + (i + 1) * step, y1).difference(holes)
               for i in range(strips)]
    labels = LabelSet(crs, {"road": _polygons(road, transform)},
                      [g for g in checked if not g.is_empty])
    shares = {"road": float(road.mean()), "ignore": float(ignore.mean()),
              "white no-data": float(white.mean())}
    return save_labels(out, labels), shares


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("image", type=Path)
    parser.add_argument("mask", type=Path)
    parser.add_argument("--gsd", type=float, required=True,
                        help="metres per pixel of IMAGE")
    parser.add_argument("--minutes", type=float, nargs="+", default=[1, 5, 10])
    parser.add_argument("--road-value", type=int, default=None,
                        help="mask value of road (default: 255 in 0/255 masks, 1 in 0/1/255)")
    parser.add_argument("--ignore-value", type=int, default=None,
                        help="mask value of 'unknown' (default: 255 in 0/1/255 masks, none "
                             "in 0/255 masks; a negative value: none)")
    parser.add_argument("--white-nodata", action=argparse.BooleanOptionalAction, default=None,
                        help="treat pure white image pixels as no-data (default: for 0/255 "
                             "masks)")
    parser.add_argument("--strips", type=int, default=5, help="checked strips (default 5)")
    parser.add_argument("--lr", type=float, nargs="+", default=[FinetuneSettings.lr],
                        help="peak learning rates to compare (default: the app's)")
    parser.add_argument("--max-steps", type=int, default=None,
                        help="also stop each run after this many steps (compare rates on "
                             "equal steps on a busy machine)")
    args = parser.parse_args()
    from PIL import Image

    from unet_gis.model.zoo import default_model_path
    from unet_gis.training.evaluate import write_synthetic_geotiff

    mask = read_mask(args.mask)
    with Image.open(args.image) as handle:
        rgb = np.asarray(handle.convert("RGB"))
    if mask.shape != rgb.shape[:2]:
        raise SystemExit(f"the mask is {mask.shape[1]}x{mask.shape[0]} px, the image "
                         f"{rgb.shape[1]}x{rgb.shape[0]}.")
    values = mask_values(mask, args.road_value, args.ignore_value, args.white_nodata)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
          f"scene {args.image.name} at {args.gsd} m")
    with tempfile.TemporaryDirectory(prefix="unet-gis-ft-") as tmp:
        folder = Path(tmp)
        image = write_synthetic_geotiff(args.image, args.gsd, folder / f"{args.image.stem}.tif")
        labels, shares = labels_from_mask(mask, rgb, values, image, folder / "labels.gpkg",
                                          args.strips)
        print(f"mask {args.mask.name}: {values.convention}; road value {values.road}, ignore "
              f"value {values.ignore}, white no-data {'on' if values.white_nodata else 'off'}; "
              + ", ".join(f"{k} {v:.1%}" for k, v in shares.items()), flush=True)
        for minutes in args.minutes:
            for lr in args.lr:
                out = folder / f"tuned_{minutes:g}_{lr:g}.safetensors"
                result = finetune([(image, labels)], default_model_path(), out,
                                  FinetuneSettings(minutes=minutes, lr=lr,
                                                   max_steps=args.max_steps))
                before, after = result.before.get("road"), result.after.get("road")
                print(f"{minutes:g} min, lr {lr:g}: {result.steps} steps in "
                      f"{result.seconds:.0f} s; held-out road relaxed F1 {before:.3f} -> "
                      f"{after:.3f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
