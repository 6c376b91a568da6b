"""View geometry without Qt: the visible window of the map, CRS helpers, the scale bar.

The view is a centre in the view CRS and a resolution (view-CRS units per screen
pixel); screen y grows downward, world y grows upward (north up).  Layers without a CRS
are drawn in pixel space with y = -row, so they also read north up.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

Bounds = tuple[float, float, float, float]  # minx, miny, maxx, maxy


@dataclass(frozen=True)
class ViewState:
    """What the canvas shows: ``res`` world units per pixel around ``(cx, cy)``.

    ``aspect`` stretches x: a screen pixel spans ``res / aspect`` world units across and
    ``res`` up.  It is 1 in projected CRSs; in a geographic CRS it is the cosine of the
    map's latitude, so that a degree of longitude (shorter on the ground than a degree of
    latitude) is drawn shorter too and ground shapes keep their aspect.
    """

    cx: float = 0.0
    cy: float = 0.0
    res: float = 1.0
    width: int = 800
    height: int = 600
    aspect: float = 1.0

    @property
    def res_x(self) -> float:
        """World x units per screen pixel."""
        return self.res / self.aspect

    def to_screen(self, x: float, y: float) -> tuple[float, float]:
        return ((x - self.cx) / self.res_x + self.width / 2.0,
                (self.cy - y) / self.res + self.height / 2.0)

    def to_world(self, px: float, py: float) -> tuple[float, float]:
        return (self.cx + (px - self.width / 2.0) * self.res_x,
                self.cy - (py - self.height / 2.0) * self.res)

    @property
    def bounds(self) -> Bounds:
        half_w, half_h = self.width * self.res_x / 2.0, self.height * self.res / 2.0
        return self.cx - half_w, self.cy - half_h, self.cx + half_w, self.cy + half_h

    def resized(self, width: int, height: int) -> ViewState:
        return replace(self, width=max(1, width), height=max(1, height))

    def panned(self, dx_px: float, dy_px: float) -> ViewState:
        """Move the content by (dx, dy) screen pixels (a drag to the right moves it right)."""
        return replace(self, cx=self.cx - dx_px * self.res_x, cy=self.cy + dy_px * self.res)

    def zoomed(self, factor: float, px: float | None = None, py: float | None = None) -> ViewState:
        """Zoom in by ``factor`` (> 1 zooms in) keeping the world point under (px, py) fixed."""
        px = self.width / 2.0 if px is None else px
        py = self.height / 2.0 if py is None else py
        wx, wy = self.to_world(px, py)
        res = self.res / factor
        cx = wx - (px - self.width / 2.0) * res / self.aspect
        cy = wy + (py - self.height / 2.0) * res
        return replace(self, cx=cx, cy=cy, res=res)

    def fitted(self, bounds: Bounds, margin: float = 0.02) -> ViewState:
        minx, miny, maxx, maxy = bounds
        span_x, span_y = max(maxx - minx, 1e-12), max(maxy - miny, 1e-12)
        res = max(span_x * self.aspect / self.width, span_y / self.height) * (1.0 + 2 * margin)
        return replace(self, cx=(minx + maxx) / 2.0, cy=(miny + maxy) / 2.0, res=res)


def ground_aspect(crs: Any, bounds: Bounds | None) -> float:
    """:attr:`ViewState.aspect` for a map in ``crs`` around ``bounds``: the cosine of the
    latitude of their centre in a geographic CRS, else 1."""
    if crs is None or bounds is None or not getattr(crs, "is_geographic", False):
        return 1.0
    latitude = (bounds[1] + bounds[3]) / 2.0
    if not math.isfinite(latitude):
        return 1.0
    return max(0.01, math.cos(math.radians(min(90.0, abs(latitude)))))


def union(boxes: list[Bounds]) -> Bounds | None:
    if not boxes:
        return None
    return (min(b[0] for b in boxes), min(b[1] for b in boxes),
            max(b[2] for b in boxes), max(b[3] for b in boxes))


def intersects(a: Bounds, b: Bounds) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


@lru_cache(maxsize=32)
def _to_lonlat(crs_wkt: str) -> Any:
    from pyproj import CRS, Transformer

    return Transformer.from_crs(CRS.from_wkt(crs_wkt), CRS.from_epsg(4326), always_xy=True)


def lonlat(crs: Any, x: float, y: float) -> tuple[float, float] | None:
    """Longitude/latitude of a point in ``crs`` (``None`` without a CRS or off the globe)."""
    if crs is None:
        return None
    try:
        lon, lat = _to_lonlat(crs.to_wkt()).transform(x, y)
    except Exception:  # pyproj raises ProjError for points outside the projection's domain
        return None
    if not (math.isfinite(lon) and math.isfinite(lat)):
        return None
    return float(lon), float(lat)


def crs_label(crs: Any) -> str:
    if crs is None:
        return "pixels"
    epsg = crs.to_epsg()
    return f"EPSG:{epsg}" if epsg else (crs.to_string()[:40] or "custom CRS")


def metres_per_pixel(view: ViewState, crs: Any) -> float | None:
    """Ground metres per screen pixel at the view's centre (geodesic), or ``None``."""
    if crs is None:
        return None
    from pyproj import Geod

    step = 50.0 * view.res_x  # 50 screen pixels across
    a = lonlat(crs, view.cx, view.cy)
    b = lonlat(crs, view.cx + step, view.cy)
    if a is None or b is None:
        return None
    _, _, dist = Geod(ellps="WGS84").inv(a[0], a[1], b[0], b[1])
    if not math.isfinite(dist) or dist <= 0:
        return None
    return float(dist) / 50.0


def scale_text(view: ViewState, crs: Any, dpi: float) -> str:
    """The map scale for the status bar (``Scale 1:2,480``), "" in pixel space."""
    metres = metres_per_pixel(view, crs)
    if metres is None or dpi <= 0:
        return ""
    scale = metres * dpi / 0.0254  # a screen pixel is 1/dpi inches
    digits = max(0, len(str(int(scale))) - 3)  # three significant figures
    return f"Scale 1:{round(scale, -digits):,.0f}"


def nice_length(max_value: float) -> float:
    """The largest 1, 2 or 5 x 10^n not above ``max_value``."""
    if max_value <= 0:
        return 0.0
    exponent = math.floor(math.log10(max_value))
    for mantissa in (5.0, 2.0, 1.0):
        value = mantissa * 10.0**exponent
        if value <= max_value:
            return value
    return 10.0**exponent


def scale_bar(metres_per_px: float | None, res: float, max_px: float = 120.0
              ) -> tuple[float, str]:
    """(bar length in pixels, label) for a bar no longer than ``max_px``."""
    if metres_per_px is None:  # pixel space
        length = nice_length(max_px * res)
        return length / res, f"{length:g} px"
    metres = nice_length(max_px * metres_per_px)
    label = f"{metres / 1000:g} km" if metres >= 1000 else f"{metres:g} m"
    return metres / metres_per_px, label


@lru_cache(maxsize=32)
def _between(src_wkt: str, dst_wkt: str) -> Any:
    from pyproj import CRS, Transformer

    return Transformer.from_crs(CRS.from_wkt(src_wkt), CRS.from_wkt(dst_wkt), always_xy=True)


def _coords(crs: Any, x: float, y: float) -> str:
    geographic = bool(getattr(crs, "is_geographic", False))
    coords = f"{x:.6f}, {y:.6f}" if geographic else f"{x:.1f}, {y:.1f}"
    return f"{coords} ({crs_label(crs)})"


def format_position(crs: Any, x: float, y: float, layer_crs: Any = None) -> str:
    """Status-bar text for the cursor: map-CRS coordinates, the selected layer's own CRS
    when it differs, and latitude/longitude."""
    if crs is None:
        return f"col {x:.0f}, row {-y:.0f} (no CRS)"
    text = _coords(crs, x, y)
    if layer_crs is not None and layer_crs != crs:
        try:
            lx, ly = _between(crs.to_wkt(), layer_crs.to_wkt()).transform(x, y)
        except Exception:
            pass
        else:
            if math.isfinite(lx) and math.isfinite(ly):
                text += f"   layer: {_coords(layer_crs, lx, ly)}"
    ll = lonlat(crs, x, y)
    if ll is not None:
        lon, lat = ll
        text += f"   lat {lat:.6f}, lon {lon:.6f}"
    return text


def layer_bounds(source: Any, map_crs: Any, bounds: Bounds) -> Bounds:
    """Map bounds (``map_crs``) as bounds in the raster ``source``'s own CRS."""
    if source.crs is None:  # pixel space: through the pixel grid to the file's own units
        t, native = source.transform, source.native_transform
        cols = sorted(((bounds[0] - t.c) / t.a, (bounds[2] - t.c) / t.a))
        rows = sorted(((bounds[1] - t.f) / t.e, (bounds[3] - t.f) / t.e))
        left, top = native * (cols[0], rows[0])
        right, bottom = native * (cols[1], rows[1])
        return left, bottom, right, top  # rasterio's order, whichever way rows run
    if map_crs is not None and map_crs != source.crs:
        from rasterio.warp import transform_bounds

        left, bottom, right, top = transform_bounds(map_crs, source.crs, *bounds)
        return float(left), float(bottom), float(right), float(top)
    return bounds
