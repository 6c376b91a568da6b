"""The class mask GeoTIFF: one uint8 band of class ids, for users who want rasters.

Class id ``i`` is the ``i``-th class of the probability raster (band ``i``), 0 is
background and 255 nodata.  Classes may overlap (a car on a road): where several classes
are above their thresholds the pixel takes the class whose role comes first in
:data:`PRIORITY` (objects such as a vehicle over a network such as the road it stands on,
over other surfaces), then the class that comes first in band order.  The file is tiled,
deflated, has a colour table and nearest-neighbour overviews, and is written atomically;
a QGIS style and GDAL category names go beside it (:mod:`unet_gis.raster.styles`).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import rasterio
from rasterio.enums import MaskFlags, Resampling
from rasterio.io import DatasetReader
from rasterio.windows import Window

from unet_gis.fileio import atomic_path, check_output_path
from unet_gis.inference.progress import CancelToken, ProgressCallback, ProgressReporter, check
from unet_gis.raster.grid import build_overviews
from unet_gis.raster.probability import ProbabilityInfo
from unet_gis.raster.styles import style_class_mask
from unet_gis.vector.masks import threshold
from unet_gis.vector.options import VectorSummary

#: Where classes overlap, objects (a car) win over networks (the road it stands on),
#: which win over other surfaces; within a role, the raster's band order decides.
PRIORITY = ("objects", "network", "surface")
NODATA = 255
BLOCK = 512


def paint_order(names: list[str], info: ProbabilityInfo) -> list[str]:
    """Classes from lowest to highest priority (the last painted wins)."""
    kinds = {c.name: c.kind for c in info.classes}
    ranked = sorted(names, key=lambda n: (PRIORITY.index(kinds[n]), names.index(n)))
    return ranked[::-1]


def write_class_mask(dataset: DatasetReader, info: ProbabilityInfo,
                     thresholds: Mapping[str, float], out_path: Path, overwrite: bool,
                     window: int, progress: ProgressCallback | None = None,
                     cancel: CancelToken | None = None) -> VectorSummary:
    """Write the class-id mask of ``dataset`` (an open probability raster) to ``out_path``."""
    check_output_path(out_path, overwrite, (Path(dataset.name),))
    order = paint_order(list(thresholds), info)
    size = max(BLOCK, window // BLOCK * BLOCK)
    profile = {
        "driver": "GTiff", "width": dataset.width, "height": dataset.height, "count": 1,
        "dtype": "uint8", "crs": dataset.crs, "transform": dataset.transform,
        "nodata": NODATA, "tiled": True, "blockxsize": BLOCK, "blockysize": BLOCK,
        "compress": "deflate", "BIGTIFF": "IF_SAFER",
    }
    has_nodata = MaskFlags.all_valid not in dataset.mask_flag_enums[0]
    rows = range(0, dataset.height, size)
    cols = range(0, dataset.width, size)
    reporter = ProgressReporter("mask", len(rows) * len(cols) + 1, progress)
    counts = dict.fromkeys(order, 0)
    with atomic_path(out_path) as tmp:
        with rasterio.open(tmp, "w", **profile) as dst:
            dst.write_colormap(1, {0: (0, 0, 0, 0), NODATA: (0, 0, 0, 0), **{
                info.band_of(c.name): (*c.color, 255) for c in info.classes}})
            dst.update_tags(**{f"CLASS_{i}": name for i, name in
                               enumerate(info.class_names, start=1)})
            dst.update_tags(UNET_GIS_PRIORITY=",".join(reversed(order)))
            for row in rows:
                for col in cols:
                    check(cancel)
                    win = Window(col, row, min(size, dataset.width - col),
                                 min(size, dataset.height - row))
                    ids = np.zeros((int(win.height), int(win.width)), dtype=np.uint8)
                    for cls in order:
                        band = info.band_of(cls)
                        hit = threshold(dataset.read(band, window=win), thresholds[cls],
                                        info.full_scale)
                        ids[hit] = band
                    if has_nodata:
                        ids[dataset.read_masks(1, window=win) == 0] = NODATA
                    for cls in order:
                        counts[cls] += int(np.count_nonzero(ids == info.band_of(cls)))
                    dst.write(ids, 1, window=win)
                    reporter.advance(pixels=ids.size)
            factors = [f for f in (2, 4, 8, 16, 32, 64) if max(dst.width, dst.height) // f >= 256]
            if factors:
                build_overviews(dst, factors, Resampling.nearest)
        check(cancel)
    style_class_mask(out_path, info.classes)
    reporter.advance()
    messages = tuple(f"Nothing of class {c!r} at or above {thresholds[c]:.2f}."
                     for c, n in counts.items() if n == 0)
    return VectorSummary(features={f"{c}_pixels": n for c, n in counts.items()},
                         outputs=(out_path,), messages=messages)
