"""The algorithms' parameters: defined once, read once, shared by all three algorithms.

Reading a parameter turns it into unet-gis's own request objects through
:mod:`unet_gis.integrations.processing` (where the mapping is tested without QGIS).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qgis.core import (
    QgsProcessingAlgorithm,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterDefinition,
    QgsProcessingParameterEnum,
    QgsProcessingParameterExtent,
    QgsProcessingParameterFile,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterDestination,
    QgsProcessingParameterRasterLayer,
    QgsProcessingParameterString,
    QgsProcessingUtils,
)

from unet_gis.inference.choices import DEVICE_CHOICES, PRECISION_CHOICES
from unet_gis.integrations.processing import engine_options, vectorize_options
from unet_gis.model.zoo import default_model_path
from unet_gis.vector.options import VectorizeOptions

INPUT = "INPUT"
MODEL = "MODEL"
DEVICE = "DEVICE"
PRECISION = "PRECISION"
EXTENT = "EXTENT"
TILE = "TILE"
PROBABILITIES = "PROBABILITIES"
THRESHOLDS = "THRESHOLDS"
MIN_AREA = "MIN_AREA"
SIMPLIFY = "SIMPLIFY"
CENTERLINES = "CENTERLINES"
OUTPUT = "OUTPUT"
LAYERS = "LAYERS"
SUMMARY = "SUMMARY"

#: The parameters explained, for the algorithms' help panels.
SEGMENT_HELP = ("<p><b>Model file</b>: a unet-gis checkpoint; it carries its classes, input "
                "bands, value scaling and pixel size. Default: the bundled roads and "
                "vehicles model (0.3 m). <b>Device</b>: auto picks CUDA or Apple MPS when "
                "there is one. <b>Only this extent</b>: segment that part only (any CRS). "
                "<b>Probability raster</b>: a tiled GeoTIFF, one band per class "
                "(0-255 = probability 0-1), in the input's CRS.</p>")
VECTOR_HELP = ("<p><b>Thresholds</b>: CLASS=P pairs for the classes to override; the others "
               "keep the model's, which the probability raster stores. <b>Minimum polygon "
               "area</b>: smaller polygons are dropped and smaller holes filled. "
               "<b>Road centerlines</b>: also a network of lines meeting at junctions. "
               "Vehicles become one polygon each, road surfaces polygons; attributes: "
               "class, area_m2 or length_m (in metres), score (mean probability). The "
               "GeoPackage carries each layer's style.</p>")

GEOPACKAGE_FILTER = "GeoPackage (*.gpkg *.GPKG)"
PROBABILITY_SUFFIX = "_probabilities.tif"


def _advanced(parameter: QgsProcessingParameterDefinition) -> QgsProcessingParameterDefinition:
    parameter.setFlags(parameter.flags() | QgsProcessingParameterDefinition.FlagAdvanced)
    return parameter


def add_segment_inputs(alg: QgsProcessingAlgorithm, image_label: str = "Input raster") -> None:
    """Image, model (default: the bundled one), device, precision, extent, tile size."""
    alg.addParameter(QgsProcessingParameterRasterLayer(INPUT, image_label))
    bundled = default_model_path()
    alg.addParameter(QgsProcessingParameterFile(
        MODEL, "Model file (.safetensors)",
        behavior=QgsProcessingParameterFile.File, extension="safetensors",
        defaultValue=str(bundled) if bundled.is_file() else None, optional=True))
    alg.addParameter(QgsProcessingParameterEnum(DEVICE, "Device", options=list(DEVICE_CHOICES),
                                                defaultValue=0))
    alg.addParameter(QgsProcessingParameterEnum(PRECISION, "Precision",
                                                options=list(PRECISION_CHOICES), defaultValue=0))
    alg.addParameter(QgsProcessingParameterExtent(
        EXTENT, "Only this extent", optional=True))
    alg.addParameter(_advanced(QgsProcessingParameterNumber(
        TILE, "Tile size in pixels (0: the model's)", QgsProcessingParameterNumber.Integer,
        defaultValue=0, minValue=0)))


def add_vector_inputs(alg: QgsProcessingAlgorithm) -> None:
    """Thresholds (blank: the model's), minimum area, simplification, centerlines."""
    defaults = VectorizeOptions()
    alg.addParameter(QgsProcessingParameterString(
        THRESHOLDS, "Thresholds, e.g. road=0.5 (blank: the model's)",
        defaultValue="", optional=True))
    alg.addParameter(QgsProcessingParameterNumber(
        MIN_AREA, "Minimum polygon area (m²)", QgsProcessingParameterNumber.Double,
        defaultValue=defaults.min_area_m2, minValue=0.0))
    alg.addParameter(QgsProcessingParameterNumber(
        SIMPLIFY, "Simplification tolerance (m; 0: none)", QgsProcessingParameterNumber.Double,
        defaultValue=defaults.simplify_m, minValue=0.0))
    alg.addParameter(QgsProcessingParameterBoolean(
        CENTERLINES, "Road centerlines", defaultValue=defaults.centerlines))


def add_probability_output(alg: QgsProcessingAlgorithm, name: str) -> None:
    alg.addParameter(QgsProcessingParameterRasterDestination(name, "Probability raster"))


def add_geopackage_output(alg: QgsProcessingAlgorithm) -> None:
    alg.addParameter(QgsProcessingParameterFileDestination(
        OUTPUT, "Vector layers (GeoPackage)", fileFilter=GEOPACKAGE_FILTER))


@dataclass(frozen=True)
class SegmentRequest:
    """What to segment, with which model, how."""

    image: str
    stem: str
    model: Path | None
    options: Any  # unet_gis.inference.engine.EngineOptions


def read_segment(alg: QgsProcessingAlgorithm, parameters: dict[str, Any],
                 context: QgsProcessingContext) -> SegmentRequest:
    layer = alg.parameterAsRasterLayer(parameters, INPUT, context)
    if layer is None:
        raise QgsProcessingException(alg.invalidRasterError(parameters, INPUT))
    if layer.providerType() != "gdal":
        raise QgsProcessingException(f"{layer.name()} is a {layer.providerType()} layer; "
                                     "unet-gis reads raster files (GDAL layers) only.")
    rect = alg.parameterAsExtent(parameters, EXTENT, context, layer.crs())
    extent = None if rect.isNull() or rect.isEmpty() else (
        rect.xMinimum(), rect.yMinimum(), rect.xMaximum(), rect.yMaximum())
    model = alg.parameterAsFile(parameters, MODEL, context)
    options = engine_options(alg.parameterAsEnum(parameters, DEVICE, context),
                             alg.parameterAsEnum(parameters, PRECISION, context), extent,
                             alg.parameterAsInt(parameters, TILE, context))
    source = layer.source()
    return SegmentRequest(source, Path(source.split("|")[0]).stem or "image",
                          Path(model) if model else None, options)


def read_vectorize(alg: QgsProcessingAlgorithm, parameters: dict[str, Any],
                   context: QgsProcessingContext) -> Any:
    """The :class:`~unet_gis.vector.options.VectorizeOptions` the dialog asks for."""
    return vectorize_options(alg.parameterAsString(parameters, THRESHOLDS, context),
                             alg.parameterAsDouble(parameters, MIN_AREA, context),
                             alg.parameterAsDouble(parameters, SIMPLIFY, context),
                             alg.parameterAsBool(parameters, CENTERLINES, context))


def geopackage_output(alg: QgsProcessingAlgorithm, parameters: dict[str, Any],
                      context: QgsProcessingContext) -> Path:
    path = Path(alg.parameterAsFileOutput(parameters, OUTPUT, context))
    if path.suffix.lower() != ".gpkg":
        raise QgsProcessingException(f"{path.name}: the vector layers are written as a "
                                     "GeoPackage; name the output *.gpkg.")
    return path


def probability_output(alg: QgsProcessingAlgorithm, parameters: dict[str, Any], name: str,
                       context: QgsProcessingContext, stem: str) -> Path:
    """The probability raster's path.  A temporary output is named
    ``<image>_probabilities.tif`` (in its own temporary folder), so the layers vectorized
    from it are named after the image, as the CLI names them."""
    path = Path(alg.parameterAsOutputLayer(parameters, name, context))
    if path.suffix.lower() not in (".tif", ".tiff"):
        raise QgsProcessingException(f"{path.name}: the probability raster is a GeoTIFF; "
                                     "name the output *.tif.")
    temporary = Path(QgsProcessingUtils.tempFolder()).resolve()
    if temporary not in path.resolve().parents:  # the user's own file name: keep it
        return path
    renamed = path.with_name(stem + PROBABILITY_SUFFIX)
    layers = context.layersToLoadOnCompletion()
    if str(path) in layers:
        details = layers.pop(str(path))
        details.name = stem + " probabilities"
        layers[str(renamed)] = details
        context.setLayersToLoadOnCompletion(layers)
    return renamed

