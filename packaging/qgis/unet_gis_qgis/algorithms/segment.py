"""*Segment raster*: an image -> its probability raster (styled by the ``.qml`` beside it)."""

from __future__ import annotations

from typing import Any

from qgis.core import QgsProcessingContext, QgsProcessingFeedback

from . import params
from .base import UnetGisAlgorithm
from .run import run, style_on_load


class SegmentRaster(UnetGisAlgorithm):
    NAME = "segmentraster"
    LABEL = "Segment raster"
    HELP = ("<p>Runs the U-Net over the raster with a sliding window and writes a "
            "probability raster, styled as a colour ramp of its first network class (roads). "
            "Nothing is written when "
            "the run fails or is cancelled. Same as <code>unet-gis predict</code>.</p>"
            + params.SEGMENT_HELP)

    def initAlgorithm(self, config: Any = None) -> None:  # noqa: N802 - QGIS's name
        params.add_segment_inputs(self)
        params.add_probability_output(self, params.OUTPUT)

    def processAlgorithm(self, parameters: dict[str, Any], context: QgsProcessingContext,  # noqa: N802
                         feedback: QgsProcessingFeedback) -> dict[str, Any]:
        request = params.read_segment(self, parameters, context)
        output = params.probability_output(self, parameters, params.OUTPUT, context,
                                           request.stem)
        run({"segment": request.job | {"output": str(output)}}, feedback)
        style_on_load(context, output)
        return {params.OUTPUT: str(output)}
