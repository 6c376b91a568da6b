"""Running unet-gis for an algorithm: the worker process, its errors, the styled results.

The engine never runs in QGIS's process (see :mod:`..worker_process`): each algorithm
builds the worker's request, relays its progress, and turns its result into QGIS
outputs: the probability raster with its ``.qml``, and the three vector sinks filled
from the GeoPackage the worker wrote, styled with the model's colours.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from qgis.core import (
    QgsFeature,
    QgsFeatureSink,
    QgsField,
    QgsFields,
    QgsMapLayer,
    QgsMapLayerStyle,
    QgsProcessingAlgorithm,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProcessingLayerPostProcessorInterface,
    QgsProcessingUtils,
    QgsRasterLayer,
    QgsSettings,
    QgsVectorLayer,
    QgsWkbTypes,
)
from qgis.PyQt.QtCore import QVariant

from .. import bootstrap
from ..worker_process import WorkerError, run_request
from .params import CENTERLINES_OUT, ROADS, VEHICLES

#: Sink parameter -> (the vectorizer's layer key, geometry, the measure field).
SINKS = {VEHICLES: ("vehicles", QgsWkbTypes.MultiPolygon, "area_m2"),
         ROADS: ("roads", QgsWkbTypes.MultiPolygon, "area_m2"),
         CENTERLINES_OUT: ("road_centerlines", QgsWkbTypes.MultiLineString, "length_m")}


@contextmanager
def guarded() -> Iterator[None]:
    """The worker's one-line message (a :class:`~unet_gis.errors.UserError`'s text,
    "Cancelled; nothing was written.", a full disk) as a :class:`QgsProcessingException`;
    a bug in the worker also logs its traceback."""
    try:
        yield
    except WorkerError as exc:
        if exc.details:
            from qgis.core import QgsMessageLog

            QgsMessageLog.logMessage(exc.details, bootstrap.LOG_TAG)
        raise QgsProcessingException(str(exc)) from None


def run(request: Mapping[str, Any], feedback: QgsProcessingFeedback) -> Any:
    """Run ``request`` in a worker with the configured Python; its result."""
    settings = QgsSettings()
    with guarded():
        return run_request(request, feedback,
                           settings.value(bootstrap.PYTHON_SETTING, "", type=str),
                           settings.value(bootstrap.SETTING, "", type=str))


class StyleOnLoad(QgsProcessingLayerPostProcessorInterface):
    """Gives a layer Processing loads unet-gis's style and, for a sink, its name.

    With no ``style`` (XML), the style unet-gis wrote beside the layer (the probability
    raster's ``.qml``).  Make one with :func:`post_processor`: one instance per layer, as
    the context deletes each one it holds (a shared instance would be deleted twice and
    crash QGIS), and a Python reference kept, or sip drops the Python half and QGIS calls
    an empty shell.
    """

    def __init__(self, style: str | None = None, name: str | None = None) -> None:
        super().__init__()
        self.style, self.name = style, name

    def postProcessLayer(self, layer: QgsMapLayer, context: QgsProcessingContext,  # noqa: N802
                         feedback: QgsProcessingFeedback) -> None:
        if self.style is None:
            layer.loadDefaultStyle()
        else:
            QgsMapLayerStyle(self.style).writeToLayer(layer)
        if self.name:
            layer.setName(self.name)
        layer.triggerRepaint()


#: The post-processors handed out lately (see :class:`StyleOnLoad`); layers load right
#: after their algorithm finishes, so a few hundred cover any batch.
_ALIVE: deque[StyleOnLoad] = deque(maxlen=256)


def post_processor(style: str | None = None, name: str | None = None) -> StyleOnLoad:
    processor = StyleOnLoad(style, name)
    _ALIVE.append(processor)
    return processor


def style_on_load(context: QgsProcessingContext, path: Path | str, style: str | None = None,
                  name: str | None = None) -> None:
    """Give the layer loaded from ``path`` (if one is) unet-gis's style."""
    if context.willLoadLayerOnCompletion(str(path)):
        context.layerToLoadOnCompletionDetails(str(path)).setPostProcessor(
            post_processor(style, name))


def vector_workspace(parameters: dict[str, Any], name: str, context: QgsProcessingContext,
                     alg: QgsProcessingAlgorithm, stem: str) -> Path:
    """Where the worker writes every layer: the optional GeoPackage output, else a
    temporary ``<stem>.gpkg`` (named after the image, as the layers are)."""
    chosen = alg.parameterAsFileOutput(parameters, name, context)
    if chosen:
        path = Path(chosen)
        if path.suffix.lower() != ".gpkg":
            raise QgsProcessingException(f"{path.name}: the vector layers are written as a "
                                         "GeoPackage; name the output *.gpkg.")
        return path
    folder = Path(QgsProcessingUtils.generateTempFilename("vectors")).parent
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{stem}.gpkg"


def _fallback_fields(measure: str) -> QgsFields:
    fields = QgsFields()
    fields.append(QgsField("class", QVariant.String))
    fields.append(QgsField(measure, QVariant.Double))
    fields.append(QgsField("score", QVariant.Double))
    return fields


def fill_sinks(alg: QgsProcessingAlgorithm, parameters: dict[str, Any],
               context: QgsProcessingContext, result: Mapping[str, Any],
               crs_source: str) -> dict[str, Any]:
    """Copy the worker's layers into the three sinks (a layer it did not write, as with
    centerlines off or classes left out, gives an empty sink with the same fields); the
    outputs' values.  Loaded layers get the GeoPackage's style and the layer's name."""
    geopackage = result["output"]
    layers: Mapping[str, str] = result.get("layers", {})
    outputs: dict[str, Any] = {}
    crs = QgsRasterLayer(crs_source, "probabilities").crs()
    for parameter, (key, geometry, measure) in SINKS.items():
        source: QgsVectorLayer | None = None
        style = None
        if key in layers:
            source = QgsVectorLayer(f"{geopackage}|layername={layers[key]}", layers[key],
                                    "ogr")
            if not source.isValid():
                raise QgsProcessingException(f"{geopackage}: cannot read {layers[key]}.")
            source.loadDefaultStyle()
            keep = QgsMapLayerStyle()
            keep.readFromLayer(source)
            style = keep.xmlData()
        fields = QgsFields()
        if source is not None:
            for field in source.fields():
                if field.name() != "fid":
                    fields.append(field)
        else:
            fields = _fallback_fields(measure)
        sink, destination = alg.parameterAsSink(
            parameters, parameter, context, fields,
            source.wkbType() if source is not None else geometry,
            source.crs() if source is not None else crs)
        if sink is None:  # the user skipped this output
            continue
        if source is not None:
            names = fields.names()
            for feature in source.getFeatures():
                copy = QgsFeature(fields)
                copy.setGeometry(feature.geometry())
                copy.setAttributes([feature[name] for name in names])
                if not sink.addFeature(copy, QgsFeatureSink.FastInsert):
                    raise QgsProcessingException(
                        f"Cannot write to {destination}: {sink.lastError()}")
        del sink  # flushes a file sink
        outputs[parameter] = destination
        style_on_load(context, destination, style, layers.get(key))
    return outputs
