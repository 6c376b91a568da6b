"""*Vectorize probabilities*: a probability raster -> styled layers in a GeoPackage."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from qgis.core import (
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProcessingOutputMultipleLayers,
    QgsProcessingOutputString,
    QgsProcessingParameterRasterLayer,
)

from . import params
from .base import UnetGisAlgorithm
from .run import guarded, load_vector_layers, vectorize


def add_vector_outputs(alg: UnetGisAlgorithm) -> None:
    alg.addOutput(QgsProcessingOutputMultipleLayers(params.LAYERS, "Vector layers"))
    alg.addOutput(QgsProcessingOutputString(params.SUMMARY, "Summary"))


class VectorizeProbabilities(UnetGisAlgorithm):
    NAME = "vectorizeprobabilities"
    LABEL = "Vectorize probabilities"
    HELP = ("<p>Turns a probability raster written by Segment raster (or <code>unet-gis "
            "predict</code>) into vector layers in a GeoPackage. Same as <code>unet-gis "
            "vectorize</code>.</p>" + params.VECTOR_HELP)

    def initAlgorithm(self, config: Any = None) -> None:  # noqa: N802 - QGIS's name
        self.addParameter(QgsProcessingParameterRasterLayer(
            params.INPUT, "Probability raster (from Segment raster)"))
        params.add_vector_inputs(self)
        params.add_geopackage_output(self)
        add_vector_outputs(self)

    def processAlgorithm(self, parameters: dict[str, Any], context: QgsProcessingContext,  # noqa: N802
                         feedback: QgsProcessingFeedback) -> dict[str, Any]:
        layer = self.parameterAsRasterLayer(parameters, params.INPUT, context)
        if layer is None:
            raise QgsProcessingException(self.invalidRasterError(parameters, params.INPUT))
        with guarded():
            options = params.read_vectorize(self, parameters, context)
            output = params.geopackage_output(self, parameters, context)
        with guarded(output):
            summary = vectorize(Path(layer.source()), output, options, feedback)
        return {params.OUTPUT: str(output), params.SUMMARY: summary.line(),
                params.LAYERS: load_vector_layers(context, output, summary)}
