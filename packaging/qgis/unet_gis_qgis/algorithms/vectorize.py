"""*Vectorize probabilities*: a probability raster -> vehicles, road polygons, centerlines."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from qgis.core import (
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProcessingOutputString,
    QgsProcessingParameterRasterLayer,
)

from . import params
from .base import UnetGisAlgorithm
from .run import fill_sinks, run, vector_workspace


def add_vector_outputs(alg: UnetGisAlgorithm) -> None:
    params.add_vector_outputs(alg)
    alg.addOutput(QgsProcessingOutputString(params.SUMMARY, "Summary"))


def vector_results(alg: UnetGisAlgorithm, parameters: dict[str, Any],
                   context: QgsProcessingContext, result: dict[str, Any],
                   probabilities: str) -> dict[str, Any]:
    """The sinks filled from the worker's GeoPackage, the summary, the GeoPackage if
    the user asked for one."""
    outputs = fill_sinks(alg, parameters, context, result, probabilities)
    outputs[params.SUMMARY] = result["summary"]
    if alg.parameterAsFileOutput(parameters, params.OUTPUT, context):
        outputs[params.OUTPUT] = result["output"]
    return outputs


class VectorizeProbabilities(UnetGisAlgorithm):
    NAME = "vectorizeprobabilities"
    LABEL = "Vectorize probabilities"
    HELP = ("<p>Turns a probability raster written by Segment raster (or <code>unet-gis "
            "predict</code>) into vehicles, road polygons and road centerlines. Same as "
            "<code>unet-gis vectorize</code>.</p>" + params.VECTOR_HELP)

    def initAlgorithm(self, config: Any = None) -> None:  # noqa: N802 - QGIS's name
        self.addParameter(QgsProcessingParameterRasterLayer(
            params.INPUT, "Probability raster (from Segment raster)"))
        params.add_vector_inputs(self)
        add_vector_outputs(self)

    def processAlgorithm(self, parameters: dict[str, Any], context: QgsProcessingContext,  # noqa: N802
                         feedback: QgsProcessingFeedback) -> dict[str, Any]:
        layer = self.parameterAsRasterLayer(parameters, params.INPUT, context)
        if layer is None:
            raise QgsProcessingException(self.invalidRasterError(parameters, params.INPUT))
        source = layer.source().split("|")[0]
        job = params.read_vectorize(self, parameters, context)
        stem = Path(source).stem.removesuffix(params.PROBABILITY_SUFFIX.removesuffix(".tif"))
        output = vector_workspace(parameters, params.OUTPUT, context, self, stem or "image")
        result = run({"vectorize": job | {"probabilities": source, "output": str(output)}},
                     feedback)
        return vector_results(self, parameters, context, result["vectorize"], source)
