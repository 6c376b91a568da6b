"""Many tiles as one raster: a GDAL VRT mosaic written by the tool.

Imagery comes as tiles (SpaceNet chips, 1 km orthophoto sheets).  Run one by one, every
road is cut at every tile border and a vehicle on a border is counted twice.  As a VRT the
tiles are one raster to GDAL, so the engine's sliding window crosses tile borders with its
usual halo, the vectorizer sees one map, and memory stays flat in the number of tiles
(GDAL opens the tiles lazily, a bounded pool at a time).

The mosaic's grid is the first tile's CRS and pixel size, over the union of the tiles'
bounds; tiles with another pixel size are resampled into it (bilinear), tiles in another
CRS are refused (naming them), as are rotated tiles.  Gaps between tiles are no-data: the
VRT's mask is the union of the tiles' own masks.  Paths in the VRT are absolute, so a Dask
cluster that sees the same file system reads the same mosaic.
"""

from __future__ import annotations

import glob
import math
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import rasterio
from rasterio.crs import CRS
from rasterio.transform import Affine

from unet_gis.errors import UserError
from unet_gis.fileio import atomic_path
from unet_gis.raster.io import open_raster

#: File name endings taken from a folder (case-insensitive).
RASTER_SUFFIXES = (".tif", ".tiff", ".jp2", ".img", ".vrt", ".png", ".jpg", ".jpeg")
#: numpy dtype names -> VRT data types
_VRT_TYPES = {"uint8": "Byte", "uint16": "UInt16", "int16": "Int16", "uint32": "UInt32",
              "int32": "Int32", "float32": "Float32", "float64": "Float64"}
#: Largest relative difference of pixel sizes that still counts as "the same GSD".
SAME_GSD = 0.001


@dataclass(frozen=True)
class TileInfo:
    path: Path
    width: int
    height: int
    count: int
    dtype: str
    crs: CRS | None
    transform: Affine
    nodata: float | None
    colorinterp: tuple[str, ...]
    masked: bool  # the tile has nodata, an alpha band or a mask of its own

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(left, bottom, right, top) of a north-up tile."""
        left, top = self.transform.c, self.transform.f
        right = left + self.width * self.transform.a
        bottom = top + self.height * self.transform.e
        return left, bottom, right, top


def expand_inputs(items: Iterable[str | Path]) -> list[Path]:
    """Tiles named as files, folders (their rasters, sorted), glob patterns or text files
    that list one path per line (``#`` comments; relative paths are relative to the list)."""
    found: list[Path] = []
    for item in items:
        text = str(item)
        path = Path(text)
        if path.is_dir():
            found.extend(sorted(p for p in path.iterdir()
                                if p.suffix.lower() in RASTER_SUFFIXES and p.is_file()))
        elif path.suffix.lower() == ".txt" and path.is_file():
            for line in path.read_text(encoding="utf-8").splitlines():
                line = line.split("#", 1)[0].strip()
                if line:
                    listed = Path(line)
                    found.extend(expand_inputs([listed if listed.is_absolute()
                                                else path.parent / listed]))
        elif any(ch in text for ch in "*?[") and not path.exists():
            matches = sorted(glob.glob(text, recursive=True))
            if not matches:
                raise UserError(f"No files match {text}.")
            found.extend(Path(m) for m in matches)
        else:
            found.append(path)
    unique = list(dict.fromkeys(p.resolve() for p in found))
    if not unique:
        raise UserError("No tiles given (the folders or lists named hold no rasters).")
    return unique


def read_tile(path: Path) -> TileInfo:
    with open_raster(path) as dataset:
        if not dataset.transform.is_rectilinear:
            raise UserError(f"{path.name} is rotated; a mosaic needs north-up tiles "
                            "(gdalwarp it first).")
        from rasterio.enums import MaskFlags

        return TileInfo(path, dataset.width, dataset.height, dataset.count,
                        dataset.dtypes[0], dataset.crs, dataset.transform, dataset.nodata,
                        tuple(ci.name for ci in dataset.colorinterp),
                        MaskFlags.all_valid not in dataset.mask_flag_enums[0])


def check_compatible(tiles: Sequence[TileInfo]) -> None:
    """Refuse tiles that cannot share the first tile's grid, saying which and why."""
    first = tiles[0]
    other_crs = [t.path.name for t in tiles[1:] if t.crs != first.crs]
    if other_crs:
        shown = ", ".join(other_crs[:5]) + (" …" if len(other_crs) > 5 else "")
        raise UserError(f"{len(other_crs)} tile(s) are not in {first.path.name}'s CRS "
                        f"({first.crs or 'none'}): {shown}. Warp them to one CRS first "
                        "(gdalwarp -t_srs).")
    bands = [t.path.name for t in tiles[1:] if (t.count, t.dtype) != (first.count, first.dtype)]
    if bands:
        raise UserError(f"{', '.join(bands[:5])} differ(s) from {first.path.name} in band count "
                        f"or pixel type ({first.count} x {first.dtype}).")
    if first.crs is None:
        raise UserError(f"{first.path.name} has no CRS: tiles without georeferencing cannot "
                        "be placed in a mosaic.")


def _mosaic_grid(tiles: Sequence[TileInfo]) -> tuple[Affine, int, int]:
    res_x, res_y = tiles[0].transform.a, tiles[0].transform.e  # e < 0: north up
    lefts, bottoms, rights, tops = zip(*(t.bounds for t in tiles), strict=True)
    left, top = min(lefts), max(tops)
    width = max(1, math.ceil((max(rights) - left) / res_x - 1e-6))
    height = max(1, math.ceil((min(bottoms) - top) / res_y - 1e-6))
    return Affine(res_x, 0.0, left, 0.0, res_y, top), width, height


def _dst_rect(tile: TileInfo, grid: Affine) -> dict[str, str]:
    left, bottom, right, top = tile.bounds
    col = (left - grid.c) / grid.a
    row = (top - grid.f) / grid.e
    return {"xOff": f"{col:.6f}", "yOff": f"{row:.6f}",
            "xSize": f"{(right - left) / grid.a:.6f}", "ySize": f"{(bottom - top) / grid.e:.6f}"}


def _source(parent: ET.Element, tile: TileInfo, band: str, grid: Affine,
            resample: bool) -> None:
    source = ET.SubElement(parent, "ComplexSource" if resample else "SimpleSource",
                           {"resampling": "bilinear"} if resample else {})
    ET.SubElement(source, "SourceFilename", {"relativeToVRT": "0"}).text = str(tile.path)
    ET.SubElement(source, "SourceBand").text = band
    ET.SubElement(source, "SourceProperties", {
        "RasterXSize": str(tile.width), "RasterYSize": str(tile.height),
        "DataType": _VRT_TYPES.get(tile.dtype, "Float32")})
    ET.SubElement(source, "SrcRect", {"xOff": "0", "yOff": "0", "xSize": str(tile.width),
                                      "ySize": str(tile.height)})
    ET.SubElement(source, "DstRect", _dst_rect(tile, grid))
    if tile.nodata is not None and band != "mask,1":
        ET.SubElement(source, "NODATA").text = repr(float(tile.nodata))


def _needs_mask(tiles: Sequence[TileInfo], grid: Affine, width: int, height: int) -> bool:
    import shapely

    if any(t.masked for t in tiles):
        return True
    covered = shapely.union_all([shapely.box(*t.bounds) for t in tiles])
    whole = abs(width * grid.a * height * grid.e)
    return bool(covered.area < whole * (1 - 1e-9))


def mosaic_vrt(tiles: Sequence[TileInfo]) -> str:
    """The VRT XML of ``tiles`` (checked with :func:`check_compatible`)."""
    first = tiles[0]
    grid, width, height = _mosaic_grid(tiles)
    root = ET.Element("VRTDataset", {"rasterXSize": str(width), "rasterYSize": str(height)})
    ET.SubElement(root, "SRS").text = first.crs.to_wkt() if first.crs else ""
    ET.SubElement(root, "GeoTransform").text = ", ".join(
        f"{v:.12g}" for v in (grid.c, grid.a, grid.b, grid.f, grid.d, grid.e))
    data_type = _VRT_TYPES.get(first.dtype, "Float32")
    resample = {t.path: abs(t.transform.a / grid.a - 1) > SAME_GSD or
                abs(t.transform.e / grid.e - 1) > SAME_GSD for t in tiles}
    for band in range(1, first.count + 1):
        element = ET.SubElement(root, "VRTRasterBand", {"dataType": data_type,
                                                        "band": str(band)})
        if band <= len(first.colorinterp):
            ET.SubElement(element, "ColorInterp").text = first.colorinterp[band - 1].title()
        for tile in tiles:
            _source(element, tile, str(band), grid, resample[tile.path])
    # one mask for the mosaic: valid where a tile has valid pixels, no-data in the gaps
    # (left out when the tiles cover the rectangle and have no no-data: reading a mask of
    # 64 tiles costs as much as reading a band, for nothing)
    if _needs_mask(tiles, grid, width, height):
        mask = ET.SubElement(ET.SubElement(root, "MaskBand"), "VRTRasterBand",
                             {"dataType": "Byte"})
        for tile in tiles:
            _source(mask, tile, "mask,1", grid, resample[tile.path])
    ET.indent(root)
    return ET.tostring(root, encoding="unicode") + "\n"


def build_mosaic(inputs: Iterable[str | Path], vrt_path: Path) -> Path:
    """Write the VRT mosaic of ``inputs`` (see :func:`expand_inputs`) to ``vrt_path``."""
    paths = expand_inputs(inputs)
    tiles = [read_tile(p) for p in paths]
    check_compatible(tiles)
    with atomic_path(vrt_path) as tmp:
        tmp.write_text(mosaic_vrt(tiles), encoding="utf-8")
    with rasterio.open(vrt_path) as check:  # GDAL reads it back, or the user hears why
        if check.count != tiles[0].count:
            raise UserError(f"GDAL read {vrt_path.name} with {check.count} bands, expected "
                            f"{tiles[0].count}.")
    return vrt_path
