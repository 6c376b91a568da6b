"""Labels to pixels: vector features burned onto an image grid, YOLO boxes as ellipses.

Label rasters use three values per class: ``0`` background, ``1`` the class, ``255``
ignore (no-data, box rims, anything the source does not label).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from rasterio.crs import CRS
from rasterio.transform import Affine
from rasterio.windows import Window

from unet_gis.errors import UserError
from unet_gis.vector.measure import metric_crs_for

BACKGROUND, POSITIVE, IGNORE = 0, 1, 255


def read_label_geometries(path: Path, crs: CRS | None, buffer_m: float,
                          raster_crs: CRS | None) -> list[object]:
    """Read a vector file and return shapes in ``raster_crs`` ready to burn.

    Lines are buffered by ``buffer_m`` on each side, points become discs of that radius and
    polygons are kept as they are.  Buffering happens in a local metric CRS (UTM), so a
    2 m buffer is 2 m on the ground whatever the data's CRS.
    """
    import geopandas as gpd

    try:
        frame = gpd.read_file(path)
    except Exception as exc:  # pyogrio raises several types
        raise UserError(f"Cannot read labels {path} ({exc}).") from exc
    frame = frame[frame.geometry.notna() & ~frame.geometry.is_empty]
    if frame.empty:
        return []
    if frame.crs is None:
        frame = frame.set_crs(crs or raster_crs)
    return buffer_geometries(frame, buffer_m, raster_crs)


def buffer_geometries(frame: object, buffer_m: float, raster_crs: CRS | None) -> list[object]:
    """Buffer lines/points of a GeoDataFrame in metres and reproject to ``raster_crs``."""
    import geopandas as gpd

    assert isinstance(frame, gpd.GeoDataFrame)
    kinds = frame.geometry.geom_type
    polygons = frame[kinds.str.contains("Polygon")]
    others = frame[~kinds.str.contains("Polygon")]
    parts: list[gpd.GeoSeries] = []
    if not others.empty:
        if buffer_m <= 0:
            raise UserError("Lines and points need a buffer_m > 0 to become areas.")
        if others.crs is None:
            raise UserError("Vector labels without a CRS cannot be buffered in metres.")
        lon0, lat0, lon1, lat1 = others.to_crs("EPSG:4326").total_bounds
        # the same metric CRS the exporter measures in (a CRS in feet is not metric)
        metric = metric_crs_for(others.crs, ((lon0 + lon1) / 2, (lat0 + lat1) / 2))
        buffered = others.to_crs(metric).geometry.buffer(buffer_m, quad_segs=8)
        parts.append(buffered.to_crs(raster_crs) if raster_crs else buffered)
    if not polygons.empty:
        parts.append(polygons.geometry.to_crs(raster_crs) if raster_crs else polygons.geometry)
    return [g for series in parts for g in series if g is not None and not g.is_empty]


def burn_geometries(shapes: list[object], height: int, width: int, transform: Affine,
                    window_size: int = 2048) -> np.ndarray:
    """Burn ``shapes`` (in the grid's CRS) into a ``uint8`` 0/1 mask, window by window."""
    from rasterio import features, windows
    from shapely import STRtree, box

    out = np.zeros((height, width), np.uint8)
    if not shapes:
        return out
    tree = STRtree(shapes)
    for row in range(0, height, window_size):
        for col in range(0, width, window_size):
            window = Window(col, row, min(window_size, width - col),
                            min(window_size, height - row))
            bounds = windows.bounds(window, transform)
            hits = tree.query(box(*bounds))
            if len(hits) == 0:
                continue
            wt = windows.transform(window, transform)
            part = features.rasterize(((shapes[i], 1) for i in hits),
                                      out_shape=(int(window.height), int(window.width)),
                                      transform=wt, fill=0, dtype="uint8")
            out[row:row + int(window.height), col:col + int(window.width)] = part
    return out


def read_yolo(path: Path) -> list[tuple[int, float, float, float, float]]:
    """YOLO lines ``class xc yc w h`` (normalised); a missing file means no boxes."""
    if not path.is_file():
        return []
    boxes = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 5:
            raise UserError(f"{path.name} line {number}: expected 5 YOLO fields.")
        x, y, w, h = (float(p) for p in parts[1:])
        boxes.append((int(parts[0]), x, y, w, h))
    return boxes


def burn_boxes(boxes: list[tuple[float, float, float, float]], height: int, width: int,
               ellipse_scale: float = 1.0) -> np.ndarray:
    """Boxes ``(x0, y0, x1, y1)`` in pixel coordinates (edges, not centres) to labels.

    Each box's inscribed ellipse (scaled by ``ellipse_scale``) is the object; the rest of the
    box is ignore; everything else background.  Boxes are clamped to the image.
    """
    out = np.zeros((height, width), np.uint8)
    ellipses = []
    for x0, y0, x1, y1 in boxes:
        c0, r0 = max(0, int(np.floor(x0))), max(0, int(np.floor(y0)))
        c1, r1 = min(width, int(np.ceil(x1))), min(height, int(np.ceil(y1)))
        if c1 <= c0 or r1 <= r0:
            continue
        out[r0:r1, c0:c1] = IGNORE
        ellipses.append((x0, y0, x1, y1, c0, r0, c1, r1))
    for x0, y0, x1, y1, c0, r0, c1, r1 in ellipses:
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        ax = max((x1 - x0) / 2 * ellipse_scale, 0.5)
        ay = max((y1 - y0) / 2 * ellipse_scale, 0.5)
        rows = np.arange(r0, r1)[:, None] + 0.5
        cols = np.arange(c0, c1)[None, :] + 0.5
        inside = ((cols - cx) / ax) ** 2 + ((rows - cy) / ay) ** 2 <= 1.0
        region = out[r0:r1, c0:c1]
        region[inside] = POSITIVE
    return out


def yolo_to_pixel_boxes(records: list[tuple[int, float, float, float, float]],
                        class_ids: set[int], width: int,
                        height: int) -> list[tuple[float, float, float, float]]:
    """Normalised YOLO records of the wanted class ids to pixel-edge boxes."""
    boxes = []
    for cls, xc, yc, w, h in records:
        if cls not in class_ids:
            continue
        boxes.append(((xc - w / 2) * width, (yc - h / 2) * height,
                      (xc + w / 2) * width, (yc + h / 2) * height))
    return boxes
