"""The algorithms' parameters: defined once, read once, shared by all three algorithms.

Reading the parameters gives the worker's request (see
:mod:`unet_gis.integrations.worker`); values are checked here first with the pure-Python
mapping of :mod:`unet_gis.integrations.processing` (tested without QGIS), so that a bad
value fails before a worker starts.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qgis.core import (
    QgsFeature,
    QgsFields,
    QgsGeometry,
    QgsProcessing,
    QgsProcessingAlgorithm,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterDefinition,
    QgsProcessingParameterEnum,
    QgsProcessingParameterExtent,
    QgsProcessingParameterFeatureSink,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterFile,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterDestination,
    QgsProcessingParameterRasterLayer,
    QgsProcessingParameterString,
    QgsProcessingUtils,
    QgsVectorFileWriter,
    QgsWkbTypes,
)

from unet_gis.errors import UserError
from unet_gis.inference.choices import DEVICE_CHOICES, PRECISION_CHOICES
from unet_gis.integrations.processing import (
    aoi_bounds,
    choice,
    parse_class_text,
    vectorize_options,
)
from unet_gis.model.zoo import default_model_path
from unet_gis.vector.options import VectorizeOptions

INPUT = "INPUT"
MODEL = "MODEL"
DEVICE = "DEVICE"
PRECISION = "PRECISION"
EXTENT = "EXTENT"
AOI = "AOI"
CLASSES = "CLASSES"
VEHICLES = "VEHICLES"
ROADS = "ROADS"
CENTERLINES_OUT = "ROAD_CENTERLINES"
TILE = "TILE"
PROBABILITIES = "PROBABILITIES"
THRESHOLDS = "THRESHOLDS"
MIN_AREA = "MIN_AREA"
SIMPLIFY = "SIMPLIFY"
CENTERLINES = "CENTERLINES"
OUTPUT = "OUTPUT"
SUMMARY = "SUMMARY"

#: The parameters explained, for the algorithms' help panels.
SEGMENT_HELP = ("<p><b>Model file</b>: a unet-gis checkpoint; it carries its classes, input "
                "bands, value scaling and pixel size. Default: the bundled roads and "
                "vehicles model (0.3 m). <b>Device</b>: auto picks CUDA or Apple MPS when "
                "there is one. <b>Only this extent</b>: segment that part only (any CRS). "
                "<b>Only inside these polygons</b>: an area of interest layer (any CRS); "
                "the output covers its polygons' bounds, and blocks that do not touch a "
                "polygon are skipped (with an extent too: the polygons' part inside it). "
                "<b>Probability raster</b>: a tiled GeoTIFF, one band per class "
                "(probability 0-1 through the band scale, no-data where nothing was "
                "predicted), in the input's CRS.</p>")
VECTOR_HELP = ("<p><b>Classes</b>: the classes to vectorize, e.g. vehicle (blank: all). "
               "<b>Thresholds</b>: CLASS=P pairs for the classes to override; the others "
               "keep the model's, which the probability raster stores. <b>Minimum polygon "
               "area</b>: smaller polygons are dropped and smaller holes filled. "
               "<b>Road centerlines</b>: also a network of lines meeting at junctions. "
               "Vehicles become one polygon each, road surfaces polygons; attributes: "
               "class, area_m2 or length_m (in metres), score (mean probability). "
               "<b>Vehicles</b>, <b>Road polygons</b>, <b>Road centerlines</b>: feature "
               "outputs (temporary layers or any vector format), loaded with the model's "
               "colours; a class left out or centerlines off gives an empty layer. "
               "<b>All layers (GeoPackage)</b>, optional: every layer the vectorizer "
               "writes (other classes of other models too), each with its style.</p>")

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
    alg.addParameter(QgsProcessingParameterFeatureSource(
        AOI, "Only inside these polygons", [QgsProcessing.TypeVectorPolygon], optional=True))
    alg.addParameter(_advanced(QgsProcessingParameterNumber(
        TILE, "Tile size in pixels (0: the model's)", QgsProcessingParameterNumber.Integer,
        defaultValue=0, minValue=0)))


def add_vector_inputs(alg: QgsProcessingAlgorithm) -> None:
    """Classes (blank: all), thresholds (blank: the model's), minimum area,
    simplification, centerlines."""
    defaults = VectorizeOptions()
    alg.addParameter(QgsProcessingParameterString(
        CLASSES, "Classes, e.g. vehicle (blank: all)", defaultValue="", optional=True))
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


def add_vector_outputs(alg: QgsProcessingAlgorithm) -> None:
    """The three feature sinks, and the optional GeoPackage with every layer."""
    alg.addParameter(QgsProcessingParameterFeatureSink(
        VEHICLES, "Vehicles", QgsProcessing.TypeVectorPolygon, optional=True))
    alg.addParameter(QgsProcessingParameterFeatureSink(
        ROADS, "Road polygons", QgsProcessing.TypeVectorPolygon, optional=True))
    alg.addParameter(QgsProcessingParameterFeatureSink(
        CENTERLINES_OUT, "Road centerlines", QgsProcessing.TypeVectorLine, optional=True))
    alg.addParameter(QgsProcessingParameterFileDestination(
        OUTPUT, "All layers (GeoPackage)", fileFilter=GEOPACKAGE_FILTER, optional=True,
        createByDefault=False))


@dataclass(frozen=True)
class SegmentRequest:
    """What to segment: ``job`` is the worker's ``segment`` request, less its output."""

    image: str
    stem: str
    job: dict[str, Any]


def write_aoi(alg: QgsProcessingAlgorithm, parameters: dict[str, Any],
              context: QgsProcessingContext) -> str | None:
    """The AOI layer's polygons (clipped to the extent when there is one) in a temporary
    GeoPackage for the worker, or ``None`` without an AOI layer."""
    source = alg.parameterAsSource(parameters, AOI, context)
    if source is None:
        return None
    crs = source.sourceCrs()
    rect = alg.parameterAsExtent(parameters, EXTENT, context, crs)
    clip = None if rect.isNull() or rect.isEmpty() else QgsGeometry.fromRect(rect)
    path = QgsProcessingUtils.generateTempFilename("aoi.gpkg")
    options = QgsVectorFileWriter.SaveVectorOptions()
    options.driverName = "GPKG"
    writer = QgsVectorFileWriter.create(path, QgsFields(), QgsWkbTypes.MultiPolygon, crs,
                                        context.transformContext(), options)
    if writer.hasError():
        raise QgsProcessingException(f"Cannot write the area of interest: "
                                     f"{writer.errorMessage()}")
    for feature in source.getFeatures():
        geometry = feature.geometry()
        if clip is not None:
            geometry = geometry.intersection(clip)
        if geometry.isEmpty():
            continue
        geometry.convertToMultiType()
        copy = QgsFeature()
        copy.setGeometry(geometry)
        writer.addFeature(copy)
    del writer  # closes the file; the worker reprojects to the raster's CRS
    return str(path)


def read_segment(alg: QgsProcessingAlgorithm, parameters: dict[str, Any],
                 context: QgsProcessingContext) -> SegmentRequest:
    layer = alg.parameterAsRasterLayer(parameters, INPUT, context)
    if layer is None:
        raise QgsProcessingException(alg.invalidRasterError(parameters, INPUT))
    if layer.providerType() != "gdal":
        raise QgsProcessingException(f"{layer.name()} is a {layer.providerType()} layer; "
                                     "unet-gis reads raster files (GDAL layers) only.")
    rect = alg.parameterAsExtent(parameters, EXTENT, context, layer.crs())
    extent = None if rect.isNull() or rect.isEmpty() else aoi_bounds(
        (rect.xMinimum(), rect.yMinimum(), rect.xMaximum(), rect.yMaximum()))
    model = alg.parameterAsFile(parameters, MODEL, context)
    device = alg.parameterAsEnum(parameters, DEVICE, context)
    precision = alg.parameterAsEnum(parameters, PRECISION, context)
    try:
        choice(DEVICE_CHOICES, device, "The device")
        choice(PRECISION_CHOICES, precision, "The precision")
    except UserError as exc:
        raise QgsProcessingException(str(exc)) from None
    source = layer.source()
    job = {"image": source.split("|")[0], "model": model or None, "device": device,
           "precision": precision, "extent": extent,
           "aoi": write_aoi(alg, parameters, context),
           "tile": alg.parameterAsInt(parameters, TILE, context)}
    return SegmentRequest(source, Path(source.split("|")[0]).stem or "image", job)


def read_vectorize(alg: QgsProcessingAlgorithm, parameters: dict[str, Any],
                   context: QgsProcessingContext) -> dict[str, Any]:
    """The worker's ``vectorize`` request (less its paths), checked as the CLI checks it."""
    job = {"thresholds": alg.parameterAsString(parameters, THRESHOLDS, context),
           "min_area_m2": alg.parameterAsDouble(parameters, MIN_AREA, context),
           "simplify_m": alg.parameterAsDouble(parameters, SIMPLIFY, context),
           "centerlines": alg.parameterAsBool(parameters, CENTERLINES, context),
           "classes": parse_class_text(alg.parameterAsString(parameters, CLASSES, context))}
    try:
        vectorize_options(job["thresholds"], job["min_area_m2"], job["simplify_m"],
                          job["centerlines"], job["classes"])
    except UserError as exc:
        raise QgsProcessingException(str(exc)) from None
    return job


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

