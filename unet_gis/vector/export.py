"""Writing layers as Shapefile, GeoPackage or GeoJSON, batch by batch and atomically.

Features arrive in batches while the raster is read (finished features leave memory as
soon as they are known), so a :class:`LayerStore` appends each batch to a *staging*
GeoPackage in a hidden temporary folder beside the target.  :meth:`LayerStore.commit`
then streams each staged layer into the requested format (GeoJSON is reprojected to
longitude/latitude by GDAL, as RFC 7946 asks) and renames the finished files into place,
so an error or a cancel never leaves a half-written layer (or a Shapefile missing its
``.dbf``) behind.  Existing files are refused unless ``overwrite`` is set, and this is
checked before any work starts.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from unet_gis.errors import UserError
from unet_gis.fileio import check_output_path, remove_stale_temporaries, temporary_prefix
from unet_gis.inference.progress import CancelToken, check
from unet_gis.vector.options import OUTPUT_FORMATS

if TYPE_CHECKING:
    import geopandas as gpd

_DRIVERS = {"shp": ("ESRI Shapefile", True), "gpkg": ("GPKG", False),
            "geojson": ("GeoJSON", True)}
#: vector format name -> (OGR driver, file suffix, one file per layer)
FORMATS: dict[str, tuple[str, str, bool]] = {
    name: (driver, OUTPUT_FORMATS[name][1], per_layer)
    for name, (driver, per_layer) in _DRIVERS.items()}
MASK_FORMAT = "tif"
_SUFFIXES = {".shp": "shp", ".gpkg": "gpkg", ".geojson": "geojson", ".json": "geojson",
             ".tif": MASK_FORMAT, ".tiff": MASK_FORMAT}
_SHAPEFILE_PARTS = (".shp", ".shx", ".dbf", ".prj", ".cpg")
#: Features per batch when a staged layer is streamed into its final format.
_COPY_BATCH = 20_000


@dataclass(frozen=True)
class LayerSchema:
    """A layer's name, the geometry type it declares and an empty frame of its columns.

    The layer is created from ``template`` first, so it has its schema even when no
    feature is ever added.
    """

    name: str
    geometry_type: str
    template: gpd.GeoDataFrame


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


class LayerStore:
    """Layers staged batch by batch, committed into ``path`` in ``fmt`` all at once.

    Use as a context manager: the staging folder is always removed on exit, and nothing
    reaches ``path`` unless :meth:`commit` completed.
    """

    def __init__(self, path: Path, fmt: str, schemas: Sequence[LayerSchema],
                 overwrite: bool, inputs: tuple[Path, ...]) -> None:
        self.path, self.fmt, self.overwrite = path, fmt, overwrite
        self.schemas = {schema.name: schema for schema in schemas}
        self.targets = layer_paths(path, fmt, list(self.schemas))
        check_outputs(path, fmt, list(self.schemas), overwrite, inputs)
        remove_stale_temporaries(path)
        self.folder = Path(tempfile.mkdtemp(prefix=temporary_prefix(path), suffix=".tmp",
                                            dir=path.parent))
        gpkg_target = next(iter(self.targets.values())).name
        self.staging = self.folder / (gpkg_target if fmt == "gpkg" else "staging.gpkg")
        try:
            for schema in schemas:
                self._write(schema.template, schema, append=False)
        except BaseException:
            self.discard()
            raise

    def __enter__(self) -> LayerStore:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.discard()

    def _write(self, frame: gpd.GeoDataFrame, schema: LayerSchema, append: bool) -> None:
        with warnings.catch_warnings():
            # pixel-space layers have no CRS on purpose (the summary says so)
            warnings.filterwarnings("ignore", "'crs' was not provided", UserWarning)
            frame.to_file(self.staging, driver="GPKG", layer=schema.name, engine="pyogrio",
                          geometry_type=schema.geometry_type, append=append)

    def append(self, name: str, frame: gpd.GeoDataFrame) -> None:
        """Add ``frame``'s features to layer ``name``."""
        if len(frame):
            self._write(frame, self.schemas[name], append=True)

    def _convert(self, schema: LayerSchema) -> None:
        """Stream one staged layer into its final file in the staging folder."""
        from pyogrio.raw import open_arrow, write_arrow

        driver, _, _ = FORMATS[self.fmt]
        options: dict[str, object] = {}
        if self.fmt == "geojson":
            options["layer_options"] = {"RFC7946": "YES"}  # GDAL reprojects to EPSG:4326
        if self.fmt == "shp":
            options["encoding"] = "UTF-8"
        with open_arrow(self.staging, layer=schema.name, use_pyarrow=False,
                        batch_size=_COPY_BATCH) as (meta, stream):
            write_arrow(stream, self.folder / self.targets[schema.name].name, driver=driver,
                        geometry_name=meta["geometry_name"] or "geometry",
                        geometry_type=schema.geometry_type, crs=meta["crs"], **options)

    def commit(self, cancel: CancelToken | None = None) -> list[Path]:
        """Move every layer into place; return the paths of the written layer files."""
        if self.fmt != "gpkg":
            for schema in self.schemas.values():
                check(cancel)
                self._convert(schema)
        check(cancel)
        check_outputs(self.path, self.fmt, list(self.schemas), self.overwrite, ())
        finals = sorted({f for target in self.targets.values()
                         for f in files_of(target, self.fmt)})
        moved: list[Path] = []
        try:
            for final in finals:
                if (self.folder / final.name).exists():
                    os.replace(self.folder / final.name, final)
                    moved.append(final)
        except BaseException:
            for final in moved:
                final.unlink(missing_ok=True)
            raise
        return sorted(set(self.targets.values()))

    def discard(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)
