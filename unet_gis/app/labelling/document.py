"""The labels of one image, as plain Python: a :class:`LabelSet` in the image's CRS.

The Qt side (the tool, the undo commands) only calls :meth:`LabelDocument.add`,
:meth:`LabelDocument.remove` and :meth:`LabelDocument.replace`; listeners hear about every
change.  Geometries on the map
are converted to and from the image's CRS by a :class:`Projector`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from unet_gis.training.labels import (
    CHECKED_LAYER,
    LabelSet,
    labels_path,
    load_labels,
    save_labels,
)

CHECKED = CHECKED_LAYER  # the target name of checked areas


@dataclass(frozen=True)
class Shape:
    layer: str  # a class name, or CHECKED
    geometry: Any  # shapely, in the image's CRS


class Projector:
    """Geometries between the map's CRS and the image's (identity when they agree)."""

    def __init__(self, image_crs: Any, map_crs: Any) -> None:
        self._to_image: Any = None
        self._to_map: Any = None
        if image_crs is not None and map_crs is not None and image_crs != map_crs:
            from pyproj import CRS, Transformer

            src, dst = CRS.from_wkt(map_crs.to_wkt()), CRS.from_wkt(image_crs.to_wkt())
            self._to_image = Transformer.from_crs(src, dst, always_xy=True)
            self._to_map = Transformer.from_crs(dst, src, always_xy=True)

    @staticmethod
    def _apply(transformer: Any, geometry: Any) -> Any:
        if transformer is None:
            return geometry
        import numpy as np
        import shapely

        return shapely.transform(geometry, lambda xy: np.column_stack(
            transformer.transform(xy[:, 0], xy[:, 1])))

    def to_image(self, geometry: Any) -> Any:
        return self._apply(self._to_image, geometry)

    def to_map(self, geometry: Any) -> Any:
        return self._apply(self._to_map, geometry)


def nearest_vertex(geometry: Any, x: float, y: float,
                   tolerance: float) -> tuple[float, float] | None:
    """The vertex of ``geometry`` nearest (x, y), if it is within ``tolerance``."""
    import numpy as np
    import shapely

    coords = shapely.get_coordinates(geometry)
    if not len(coords):
        return None
    distance = np.hypot(coords[:, 0] - x, coords[:, 1] - y)
    index = int(np.argmin(distance))
    if distance[index] > tolerance:
        return None
    return float(coords[index, 0]), float(coords[index, 1])


def move_vertex(geometry: Any, old: tuple[float, float], new: tuple[float, float]) -> Any:
    """``geometry`` with its vertex ``old`` (every copy of it: a ring's first and last) at
    ``new``; None when that leaves a polygon without area.  A polygon that crosses itself
    is made valid (split into parts)."""
    import numpy as np
    import shapely

    def shift(xy: np.ndarray) -> np.ndarray:
        out: np.ndarray = np.array(xy, dtype=float)
        out[(xy[:, 0] == old[0]) & (xy[:, 1] == old[1])] = new
        return out

    moved = shapely.transform(geometry, shift)
    if not moved.is_valid:
        moved = shapely.make_valid(moved)
        if moved.geom_type == "GeometryCollection":  # keep the areas, drop slivers of line
            moved = shapely.union_all([g for g in moved.geoms if g.area > 0])
    if geometry.area > 0 and moved.area <= 0:
        return None
    return moved


class LabelDocument:
    """Labels of ``image`` (saved to :func:`labels_path`), one list per class."""

    def __init__(self, image: Path, crs: Any, class_names: Sequence[str] = ()) -> None:
        self.image = image
        self.path = labels_path(image)
        self.labels = LabelSet(crs, {name: [] for name in class_names}, [])
        self.listeners: list[Callable[[LabelDocument], None]] = []

    @classmethod
    def open(cls, image: Path, crs: Any, class_names: Sequence[str] = ()) -> LabelDocument:
        """The saved labels of ``image`` if there are any, else an empty document."""
        document = cls(image, crs, class_names)
        if document.path.is_file():
            loaded = load_labels(document.path)
            for name, geometries in loaded.classes.items():
                document.labels.classes[name] = list(geometries)
            document.labels.checked = list(loaded.checked)
            if loaded.crs is not None:
                document.labels.crs = loaded.crs
        return document

    def add_classes(self, names: Sequence[str]) -> None:
        for name in names:
            self.labels.classes.setdefault(name, [])

    def _list(self, layer: str) -> list[Any]:
        if layer == CHECKED:
            return self.labels.checked
        return self.labels.classes.setdefault(layer, [])

    def shapes(self) -> Iterator[Shape]:
        """Checked areas first (they are drawn under the labels)."""
        for geometry in self.labels.checked:
            yield Shape(CHECKED, geometry)
        for name, geometries in self.labels.classes.items():
            for geometry in geometries:
                yield Shape(name, geometry)

    def count(self, layer: str | None = None) -> int:
        if layer is None:
            return self.labels.count() + len(self.labels.checked)
        return len(self._list(layer))

    def add(self, shape: Shape, index: int | None = None) -> None:
        items = self._list(shape.layer)
        items.insert(len(items) if index is None else index, shape.geometry)
        self._changed()

    def remove(self, shape: Shape) -> int:
        """Remove ``shape`` (this very geometry); its former index, for undo."""
        items = self._list(shape.layer)
        index = next(i for i, g in enumerate(items) if g is shape.geometry)
        del items[index]
        self._changed()
        return index

    def replace(self, old: Shape, new: Any) -> Shape:
        """Put geometry ``new`` where ``old`` is (same layer, same place in the list)."""
        items = self._list(old.layer)
        index = next(i for i, g in enumerate(items) if g is old.geometry)
        items[index] = new
        self._changed()
        return Shape(old.layer, new)

    def shape_at(self, x: float, y: float, tolerance: float) -> Shape | None:
        """The last-drawn label (else checked area) within ``tolerance`` of (x, y), image
        CRS."""
        import shapely

        point = shapely.Point(x, y)
        hits = [s for s in self.shapes() if s.geometry.distance(point) <= tolerance]
        labels = [s for s in hits if s.layer != CHECKED]
        return (labels or hits)[-1] if hits else None

    def save(self) -> Path:
        return save_labels(self.path, self.labels)

    def _changed(self) -> None:
        for listener in list(self.listeners):
            listener(self)
