"""*Segment and vectorize*: an image -> probability raster -> styled layers, one step."""

from __future__ import annotations

from typing import Any

from qgis.core import QgsProcessingContext, QgsProcessingFeedback

from . import params
from .base import UnetGisAlgorithm
from .run import run, style_on_load, vector_workspace
from .vectorize import add_vector_outputs, vector_results


class SegmentAndVectorize(UnetGisAlgorithm):
    NAME = "segmentandvectorize"
    LABEL = "Segment and vectorize"
    HELP = ("<p>Segment raster, then Vectorize probabilities on its result, in one worker "
            "(the model loads once). Cancelling while vectorizing keeps the finished "
            "probability raster. Same as <code>unet-gis predict --vector</code>.</p>"
            + params.SEGMENT_HELP + params.VECTOR_HELP)

    def initAlgorithm(self, config: Any = None) -> None:  # noqa: N802 - QGIS's name
        params.add_segment_inputs(self)
        params.add_vector_inputs(self)
        params.add_probability_output(self, params.PROBABILITIES)
        add_vector_outputs(self)

    def processAlgorithm(self, parameters: dict[str, Any], context: QgsProcessingContext,  # noqa: N802
                         feedback: QgsProcessingFeedback) -> dict[str, Any]:
        request = params.read_segment(self, parameters, context)
        job = params.read_vectorize(self, parameters, context)
        probabilities = params.probability_output(self, parameters, params.PROBABILITIES,
                                                  context, request.stem)
        output = vector_workspace(parameters, params.OUTPUT, context, self, request.stem)
        result = run({"segment": request.job | {"output": str(probabilities)},
                      "vectorize": job | {"output": str(output)}}, feedback)
        style_on_load(context, probabilities)
        outputs = vector_results(self, parameters, context, result["vectorize"],
                                 str(probabilities))
        outputs[params.PROBABILITIES] = str(probabilities)
        return outputs
