"""Client side: cut a planned scene into task rectangles of whole cores.

Scenes are planned with the local engine's own :func:`~unet_gis.inference.engine.plan_predict`,
so a cluster run reads the same bands, on the same grid, scaled by the same percentiles
(measured once, on the client).
"""

from __future__ import annotations

import math
from collections.abc import Iterator

from rasterio.windows import Window


def task_regions(region: Window, core: int, cores_per_task: int) -> Iterator[Window]:
    """Cut ``region`` into rectangles of whole cores, row-major, about ``cores_per_task``
    cores each (a whole row of cores is split when it alone is longer).

    Every rectangle starts a whole number of cores from the region's origin and keeps the
    region's right and bottom edges, so ``tile_windows`` over a rectangle yields exactly
    the windows ``tile_windows`` over the whole region yields there.
    """
    rows = math.ceil(region.height / core)
    cols = math.ceil(region.width / core)
    per_row = max(1, min(cols, cores_per_task))
    row_step = max(1, cores_per_task // per_row)
    row0, col0 = int(region.row_off), int(region.col_off)
    for r in range(0, rows, row_step):
        for c in range(0, cols, per_row):
            top, left = row0 + r * core, col0 + c * core
            bottom = min(row0 + (r + row_step) * core, row0 + int(region.height))
            right = min(col0 + (c + per_row) * core, col0 + int(region.width))
            yield Window(left, top, right - left, bottom - top)
