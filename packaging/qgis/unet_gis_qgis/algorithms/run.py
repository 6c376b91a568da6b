"""Running unet-gis inside an algorithm: feedback in, one-line errors out, layers loaded."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from qgis.core import (
    QgsMapLayer,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProcessingLayerPostProcessorInterface,
    QgsProcessingUtils,
)

from unet_gis.errors import first_line
from unet_gis.integrations.processing import (
    FeedbackCancelToken,
    FeedbackProgress,
    describe_thresholds,
    thresholds_in_use,
    user_message,
)

from .. import bootstrap
from .params import LAYERS, SegmentRequest


@contextmanager
def guarded(target: Path | None = None) -> Iterator[None]:
    """Turn unet-gis's errors into a :class:`QgsProcessingException` with the line the CLI
    prints (a :class:`~unet_gis.errors.UserError`'s text, "Cancelled; nothing was
    written.", a full disk); bugs keep their traceback."""
    try:
        yield
    except QgsProcessingException:
        raise
    except ImportError as exc:  # a dependency missing from (or broken in) QGIS's Python
        raise QgsProcessingException(
            f"unet-gis could not import {exc.name or 'a dependency'} in QGIS's Python "
            f"({first_line(exc)}); install it with `{bootstrap.qgis_python()} -m pip install "
            f"unet-gis`, or set {bootstrap.ENV_VAR} (see {bootstrap.DOCS}).") from exc
    except Exception as exc:
        message = user_message(exc, target)
        if message is None:
            raise
        raise QgsProcessingException(message) from None


def segment(request: SegmentRequest, output: Path, feedback: QgsProcessingFeedback,
            start: float = 0.0, end: float = 100.0) -> Any:
    """Run the model over ``request.image`` into ``output``; the engine's result."""
    from unet_gis.inference.engine import predict
    from unet_gis.model.checkpoint import load_checkpoint
    from unet_gis.model.zoo import resolve_model_path

    cancel = FeedbackCancelToken(feedback)
    feedback.setProgressText("Loading the model")
    model = load_checkpoint(resolve_model_path(request.model))
    cancel.raise_if_cancelled()
    feedback.setProgressText(f"Segmenting {Path(request.image).name}")
    result = predict(request.image, output, model, request.options,
                     progress=FeedbackProgress(feedback, start, end), cancel=cancel)
    for warning in result.warnings:
        feedback.pushWarning(warning)
    feedback.pushInfo(f"{result.width}x{result.height} px in {result.seconds:.1f} s = "
                      f"{result.megapixels_per_s:.2f} Mpx/s on {result.device}; "
                      f"{result.bands}; wrote {result.output}")
    return result


def vectorize(probabilities: Path, output: Path, options: Any,
              feedback: QgsProcessingFeedback, start: float = 0.0,
              end: float = 100.0) -> Any:
    """Vectorize ``probabilities`` into the GeoPackage ``output``; the summary."""
    from unet_gis.vector.vectorize import vectorize as run_vectorize

    feedback.pushInfo("Thresholds: " + describe_thresholds(thresholds_in_use(probabilities,
                                                                              options)))
    feedback.setProgressText(f"Vectorizing {probabilities.name}")
    summary = run_vectorize(probabilities, output, options,
                            progress=FeedbackProgress(feedback, start, end),
                            cancel=FeedbackCancelToken(feedback))
    for message in summary.messages:
        feedback.pushWarning(message)
    feedback.pushInfo(f"{summary.line()}; wrote {output}")
    return summary


class DefaultStyle(QgsProcessingLayerPostProcessorInterface):
    """Applies the style unet-gis wrote (the probability raster's ``.qml``, the
    GeoPackage's ``layer_styles`` table) to a layer Processing loads.

    Make one with :func:`default_style`: one instance per layer, as the context deletes
    each one it holds (a shared instance would be deleted twice and crash QGIS), and a
    Python reference kept, or sip drops the Python half and QGIS calls an empty shell.
    """

    def postProcessLayer(self, layer: QgsMapLayer, context: QgsProcessingContext,  # noqa: N802
                         feedback: QgsProcessingFeedback) -> None:
        layer.loadDefaultStyle()
        layer.triggerRepaint()


#: The post-processors handed out lately (see :class:`DefaultStyle`); layers load right
#: after their algorithm finishes, so a few hundred cover any batch.
_ALIVE: deque[DefaultStyle] = deque(maxlen=256)


def default_style() -> DefaultStyle:
    processor = DefaultStyle()
    _ALIVE.append(processor)
    return processor


def style_on_load(context: QgsProcessingContext, path: Path) -> None:
    """Give the layer loaded from ``path`` (if one is) unet-gis's style."""
    if context.willLoadLayerOnCompletion(str(path)):
        context.layerToLoadOnCompletionDetails(str(path)).setPostProcessor(default_style())


def load_vector_layers(context: QgsProcessingContext, geopackage: Path,
                       summary: Any) -> list[str]:
    """The layers written to ``geopackage`` (their URIs), loaded with their styles when
    the algorithm finishes in a project."""
    uris = []
    for name in summary.layers.values():
        uri = f"{geopackage}|layername={name}"
        uris.append(uri)
        if context.project() is not None:
            details = QgsProcessingContext.LayerDetails(
                name, context.project(), LAYERS, QgsProcessingUtils.LayerHint.Vector)
            details.setPostProcessor(default_style())
            context.addLayerToLoadOnCompletion(uri, details)
    return uris
