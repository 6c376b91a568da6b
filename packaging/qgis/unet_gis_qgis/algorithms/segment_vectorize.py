"""*Segment and vectorize*: an image -> probability raster -> styled GeoPackage, one step."""

from __future__ import annotations

from typing import Any

from qgis.core import QgsProcessingContext, QgsProcessingFeedback

from unet_gis.integrations.processing import SEGMENT_SHARE

from . import params
from .base import UnetGisAlgorithm
from .run import guarded, load_vector_layers, segment, style_on_load, vectorize
from .vectorize import add_vector_outputs


class SegmentAndVectorize(UnetGisAlgorithm):
    NAME = "segmentandvectorize"
    LABEL = "Segment and vectorize"
    HELP = ("<p>Segment raster, then Vectorize probabilities on its result. Cancelling "
            "while vectorizing keeps the finished probability raster. Same as "
            "<code>unet-gis predict --vector</code>.</p>" + params.SEGMENT_HELP
            + params.VECTOR_HELP)

    def initAlgorithm(self, config: Any = None) -> None:  # noqa: N802 - QGIS's name
        params.add_segment_inputs(self)
        params.add_vector_inputs(self)
        params.add_probability_output(self, params.PROBABILITIES)
        params.add_geopackage_output(self)
        add_vector_outputs(self)

    def processAlgorithm(self, parameters: dict[str, Any], context: QgsProcessingContext,  # noqa: N802
                         feedback: QgsProcessingFeedback) -> dict[str, Any]:
        with guarded():
            request = params.read_segment(self, parameters, context)
            options = params.read_vectorize(self, parameters, context)
            probabilities = params.probability_output(self, parameters, params.PROBABILITIES,
                                                      context, request.stem)
            output = params.geopackage_output(self, parameters, context)
        with guarded(probabilities):
            segment(request, probabilities, feedback, 0.0, SEGMENT_SHARE)
        style_on_load(context, probabilities)
        with guarded(output):
            summary = vectorize(probabilities, output, options, feedback, SEGMENT_SHARE)
        return {params.PROBABILITIES: str(probabilities), params.OUTPUT: str(output),
                params.SUMMARY: summary.line(),
                params.LAYERS: load_vector_layers(context, output, summary)}
