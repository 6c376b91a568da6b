"""Writing layers as Shapefile, GeoPackage or GeoJSON, atomically.

Every file is first written into a hidden temporary folder beside the target and only
renamed into place once all layers are complete, so an error or a cancel never leaves a
half-written layer (or a Shapefile missing its ``.dbf``) behind.  Existing files are
refused unless ``overwrite`` is set, and this is checked before any work starts.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from unet_gis.errors import UserError
from unet_gis.fileio import check_output_path
from unet_gis.inference.progress import CancelToken, check

if TYPE_CHECKING:
    import geopandas as gpd

#: format name -> (OGR driver, file suffix, one file per layer)
FORMATS: dict[str, tuple[str, str, bool]] = {
    "shp": ("ESRI Shapefile", ".shp", True),
    "gpkg": ("GPKG", ".gpkg", False),
    "geojson": ("GeoJSON", ".geojson", True),
}
MASK_FORMAT = "tif"
_SUFFIXES = {".shp": "shp", ".gpkg": "gpkg", ".geojson": "geojson", ".json": "geojson",
             ".tif": MASK_FORMAT, ".tiff": MASK_FORMAT}
_SHAPEFILE_PARTS = (".shp", ".shx", ".dbf", ".prj", ".cpg")


@dataclass(frozen=True)
class Layer:
    """A named table of features and the geometry type it declares (even when empty)."""

    name: str
    frame: gpd.GeoDataFrame
    geometry_type: str


def resolve_format(path: Path, fmt: str | None) -> str:
    """``fmt`` if given, else the format that ``path``'s extension names."""
    if fmt:
        fmt = fmt.lower().lstrip(".")
        if fmt not in (*FORMATS, MASK_FORMAT):
            raise UserError(f"Unknown format {fmt!r}; use one of "
                            f"{', '.join((*FORMATS, MASK_FORMAT))}.")
        return fmt
    try:
        return _SUFFIXES[path.suffix.lower()]
    except KeyError:
        raise UserError(f"Cannot tell the format of {path.name} from its extension; use "
                        ".shp, .gpkg, .geojson or .tif, or pass --format.") from None


def layer_paths(path: Path, fmt: str, names: Sequence[str]) -> dict[str, Path]:
    """Where each layer goes: ``NAME_layer.ext`` per layer, or all in one GeoPackage."""
    driver, suffix, per_layer = FORMATS[fmt]
    if not per_layer:
        return {name: path.with_suffix(suffix) if not path.suffix else path for name in names}
    stem = path.stem if path.suffix.lower() in _SUFFIXES else path.name
    return {name: path.parent / f"{stem}_{name}{suffix}" for name in names}


def files_of(target: Path, fmt: str) -> list[Path]:
    """The files one layer path stands for (a Shapefile is five)."""
    if fmt == "shp":
        return [target.with_suffix(part) for part in _SHAPEFILE_PARTS]
    return [target]


def check_outputs(path: Path, fmt: str, names: Sequence[str], overwrite: bool,
                  inputs: tuple[Path, ...]) -> None:
    """Refuse before any work an output that exists, is an input or cannot be written."""
    for target in sorted(set(layer_paths(path, fmt, names).values())):
        for file in files_of(target, fmt):
            check_output_path(file, overwrite, inputs)


def write_layers(path: Path, fmt: str, layers: Sequence[Layer], overwrite: bool,
                 cancel: CancelToken | None = None) -> list[Path]:
    """Write ``layers`` in ``fmt``; return the paths of the written layer files."""
    driver, _, _ = FORMATS[fmt]
    targets = layer_paths(path, fmt, [layer.name for layer in layers])
    check_outputs(path, fmt, list(targets), overwrite, ())
    folder = Path(tempfile.mkdtemp(prefix=f".{path.stem}.", suffix=".tmp", dir=path.parent))
    moved: list[Path] = []
    try:
        for layer in layers:
            check(cancel)
            frame = layer.frame
            options: dict[str, object] = {}
            if fmt == "geojson":
                if frame.crs is not None:
                    frame = frame.to_crs(4326)
                options["layer_options"] = {"RFC7946": "YES"}
            if fmt == "shp":
                options["encoding"] = "UTF-8"
            with warnings.catch_warnings():
                # pixel-space layers have no CRS on purpose (the summary says so)
                warnings.filterwarnings("ignore", "'crs' was not provided", UserWarning)
                frame.to_file(folder / targets[layer.name].name, driver=driver,
                              layer=layer.name if fmt == "gpkg" else None, engine="pyogrio",
                              geometry_type=layer.geometry_type, **options)
        check(cancel)
        finals = sorted({f for target in targets.values() for f in files_of(target, fmt)})
        for final in finals:
            if (folder / final.name).exists():
                os.replace(folder / final.name, final)
                moved.append(final)
    except BaseException:
        for final in moved:
            final.unlink(missing_ok=True)
        raise
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return sorted(set(targets.values()))
