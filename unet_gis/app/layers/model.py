"""Layers as plain Python objects, and the ordered stack the widgets subscribe to.

The canvas and the layers panel never own state: they draw these objects and change them
through :meth:`LayerStack.update`, which tells every subscriber what changed.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from unet_gis.app.canvas.render import PreviewRaster
from unet_gis.app.canvas.sources import RasterSource, Stretch, default_bands
from unet_gis.app.geo import Bounds
from unet_gis.raster.probability import FULL_SCALE

_ids = itertools.count(1)


@dataclass(eq=False, kw_only=True)
class Layer:
    name: str
    visible: bool = True
    opacity: float = 1.0
    problem: str | None = None  # why it cannot be drawn (e.g. cannot be aligned)
    id: int = field(default_factory=lambda: next(_ids))

    @property
    def kind(self) -> str:
        return "layer"

    def bounds(self) -> Bounds | None:
        """Extent in the view CRS, or ``None`` when unknown/unaligned."""
        return None

    def set_view_crs(self, crs: Any) -> None:
        """Align with the map's CRS; sets :attr:`problem` when that is impossible."""

    def close(self) -> None:
        """Release files and handles."""


@dataclass(eq=False, kw_only=True)
class ImageLayer(Layer):
    source: RasterSource
    bands: tuple[int, ...] = ()
    stretch: Stretch | None = None

    def __post_init__(self) -> None:
        if not self.bands:
            self.bands = default_bands(self.source)
        self.stretch = Stretch(self.source, self.bands)

    @property
    def kind(self) -> str:
        return "image"

    @property
    def path(self) -> Path:
        return self.source.path

    def bounds(self) -> Bounds | None:
        return None if self.problem else self.source.display.bounds

    def set_view_crs(self, crs: Any) -> None:
        self.problem = self.source.set_view_crs(crs)

    def close(self) -> None:
        self.source.close()


@dataclass(eq=False, kw_only=True)
class ResultLayer(Layer):
    """One class of a probability raster (a file, or a live preview during a run)."""

    class_name: str
    band: int
    color: tuple[int, int, int]
    threshold: float = 0.5
    source: RasterSource | None = None
    preview: PreviewRaster | None = None
    run_id: int | None = None  # the run that is filling the preview
    opacity: float = 0.75
    full_scale: int = FULL_SCALE  # the stored value of probability 1 (255 in old rasters)

    @property
    def kind(self) -> str:
        return "result"

    @property
    def path(self) -> Path | None:
        return self.source.path if self.source is not None else None

    def bounds(self) -> Bounds | None:
        if self.problem:
            return None
        if self.source is not None:
            return self.source.display.bounds
        return self.preview.grid.bounds if self.preview is not None else None

    def set_view_crs(self, crs: Any) -> None:
        if self.source is not None:
            self.problem = self.source.set_view_crs(crs)
        elif self.preview is not None:
            same = self.preview.crs == crs
            self.problem = None if same else "preview in another CRS; shown when the run ends"

    def close(self) -> None:
        # the source is shared by the classes of one raster; MainWindow closes it when the
        # last class using it is removed (see LayerStack.remove)
        pass


@dataclass(eq=False, kw_only=True)
class VectorLayer(Layer):
    path: Path
    layer: str | None = None  # the layer inside a multi-layer file (GeoPackage)
    color: tuple[int, int, int] = (0, 200, 255)
    view_crs: Any = None
    geometry_type: str = ""
    features: int = 0
    extent: Bounds | None = None  # in the view CRS, known once loaded

    @property
    def kind(self) -> str:
        return "vector"

    def bounds(self) -> Bounds | None:
        return self.extent

    def set_view_crs(self, crs: Any) -> None:
        self.view_crs = crs


@dataclass(frozen=True)
class LayerEvent:
    kind: str  # "added", "removed", "moved", "changed"
    layer: Layer
    fields: tuple[str, ...] = ()


Listener = Callable[[LayerEvent], None]


class LayerStack:
    """Layers in drawing order (first is at the bottom) plus the map's CRS."""

    def __init__(self) -> None:
        self._layers: list[Layer] = []
        self._listeners: list[Listener] = []
        self.crs: Any = None
        self.crs_set = False

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def _emit(self, event: LayerEvent) -> None:
        for listener in list(self._listeners):
            listener(event)

    def __iter__(self) -> Iterator[Layer]:
        return iter(list(self._layers))

    def __len__(self) -> int:
        return len(self._layers)

    def index(self, layer: Layer) -> int:
        return self._layers.index(layer)

    def of_kind(self, kind: str) -> list[Layer]:
        return [layer for layer in self._layers if layer.kind == kind]

    def add(self, layer: Layer, crs: Any = None, has_crs_info: bool = True) -> None:
        """Add on top; the first layer with georeferencing fixes the map's CRS."""
        if not self.crs_set and has_crs_info:
            self.crs, self.crs_set = crs, True
        layer.set_view_crs(self.crs)
        self._layers.append(layer)
        self._emit(LayerEvent("added", layer))

    def remove(self, layer: Layer) -> None:
        if layer not in self._layers:
            return
        self._layers.remove(layer)
        layer.close()
        if isinstance(layer, ResultLayer) and layer.source is not None and not any(
                isinstance(other, ResultLayer) and other.source is layer.source
                for other in self._layers):
            layer.source.close()
        if not self._layers:
            self.crs, self.crs_set = None, False
        self._emit(LayerEvent("removed", layer))

    def move(self, layer: Layer, steps: int) -> None:
        """Move up (towards the top of the drawing order) by ``steps``."""
        index = self._layers.index(layer)
        target = max(0, min(len(self._layers) - 1, index + steps))
        if target != index:
            self._layers.insert(target, self._layers.pop(index))
            self._emit(LayerEvent("moved", layer))

    def update(self, layer: Layer, **changes: Any) -> None:
        for name, value in changes.items():
            if not hasattr(layer, name):
                raise AttributeError(f"{type(layer).__name__} has no {name}")
            setattr(layer, name, value)
        if "bands" in changes and isinstance(layer, ImageLayer):
            layer.stretch = Stretch(layer.source, layer.bands)
        self._emit(LayerEvent("changed", layer, tuple(changes)))

    def bounds(self) -> Bounds | None:
        from unet_gis.app.geo import union

        return union([b for layer in self._layers if (b := layer.bounds()) is not None])
