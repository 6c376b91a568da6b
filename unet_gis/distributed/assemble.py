"""Client side: write a scene's blocks, in order, into one tiled GeoTIFF (memory flat).

The dataset is opened, written, tagged and given overviews exactly as the local engine
does it (the same profile, the engine's own ``_Writer``, the same overview factors), so
the file matches a local run's.  It lives under a temporary name until ``finish``; any
exception (``Cancelled`` included) removes it.
"""

from __future__ import annotations

import contextlib
from types import TracebackType

import numpy as np
import rasterio
from rasterio.windows import Window

from unet_gis.fileio import atomic_path
from unet_gis.inference.output import BlockCallback, BlockWriter, finish_output
from unet_gis.inference.plan import RunPlan
from unet_gis.inference.progress import CancelToken
from unet_gis.raster.styles import style_probability_raster


class SceneOutput:
    """``with SceneOutput(scene, ...) as out: out.write(...); out.finish(cancel)``."""

    def __init__(self, scene: RunPlan, overviews: bool,
                 on_block: BlockCallback | None) -> None:
        self.scene, self.overviews, self.on_block = scene, overviews, on_block
        self._stack = contextlib.ExitStack()

    def __enter__(self) -> SceneOutput:
        stack = self._stack.__enter__()
        try:
            tmp = stack.enter_context(atomic_path(self.scene.output, ".tif"))
            self.dst = stack.enter_context(rasterio.open(tmp, "w", **self.scene.profile))
        except BaseException:
            self._stack.close()
            raise
        self.writer = BlockWriter(self.dst, self.scene.region, self.on_block)
        return self

    def write(self, core: Window, probabilities: np.ndarray | None,
              valid: np.ndarray | None) -> None:
        self.writer.write(core, probabilities, valid)

    def finish(self, cancel: CancelToken | None, device: str | None = None,
               model_sha256: str | None = None) -> None:
        """Tags, band descriptions and overviews, as the local engine writes them."""
        finish_output(self.dst, self.scene, self.overviews, cancel, device, model_sha256,
                      self.writer.wrote_nodata)

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> bool | None:
        suppressed = self._stack.__exit__(kind, exc, tb)
        if kind is None:  # the raster is in place: its style goes beside it
            style_probability_raster(self.scene.output, self.scene.spec.classes)
        return suppressed
