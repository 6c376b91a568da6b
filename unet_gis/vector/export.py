"""Writing layers as Shapefile, GeoPackage or GeoJSON, batch by batch and atomically.

Features arrive in batches while the raster is read (finished features leave memory as
soon as they are known), so a :class:`LayerStore` appends each batch to a *staging*
GeoPackage in a hidden temporary folder beside the target.  :meth:`LayerStore.commit`
then streams each staged layer into the requested format (GeoJSON is reprojected to
longitude/latitude by GDAL, as RFC 7946 asks) and renames the finished files into place,
so an error or a cancel never leaves a half-written layer (or a Shapefile missing its
``.dbf``) behind.  Existing files are refused unless ``overwrite`` is set, and this is
checked before any work starts.

Each layer's style travels with it (see :mod:`unet_gis.vector.styles`): a QGIS ``.qml``
and an SLD beside a Shapefile or GeoJSON file, a ``layer_styles`` table in a GeoPackage.
GeoPackages are written as version 1.2, which GDAL 3.6 and QGIS 3.22 read without a
warning; GeoJSON features get ``id`` 1..N in the order they were written.
"""

from __future__ import annotations

import os
import shutil
import struct
import tempfile
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from unet_gis.errors import UserError
from unet_gis.fileio import (
    check_output_path,
    note_written,
    remove_stale_temporaries,
    temporary_prefix,
)
from unet_gis.inference.progress import CancelToken, check
from unet_gis.model.spec import ClassSpec
from unet_gis.vector.options import OUTPUT_FORMATS
from unet_gis.vector.styles import LayerStyle, qml, sld, store_in_geopackage

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
#: Style files written beside each Shapefile or GeoJSON file (QGIS loads NAME.qml itself).
_STYLE_PARTS = (".qml", ".sld")
#: Features per batch when a staged layer is streamed into its final format (and
#: records per batch when a ``.dbf`` is rewritten).
_COPY_BATCH = 20_000
#: GeoPackage 1.2: GDAL 3.6 (Debian 12's, under QGIS 3.22) warns about newer versions.
_GPKG_VERSION = "1.2"


@dataclass(frozen=True)
class LayerSchema:
    """One layer: what it is, how it is stored and drawn, an empty frame of its columns.

    ``key`` (``vehicles``, ``road_centerlines``) names the layer's file in per-layer
    formats (``OUT_<key>.shp``); ``name`` is the layer's name in a GeoPackage.  The layer
    is created from ``template`` first, so it has its schema even when no feature is ever
    added.  ``spec`` gives its style's colour; ``decimals`` is ``(field, width,
    decimals)`` for the numeric fields, the Shapefile field widths.
    """

    key: str
    name: str
    geometry_type: str
    template: gpd.GeoDataFrame
    spec: ClassSpec
    decimals: tuple[tuple[str, int, int], ...] = ()


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
    """The files one layer path stands for (a Shapefile is five, and its two styles)."""
    styles = [] if fmt == "gpkg" else [target.with_suffix(part) for part in _STYLE_PARTS]
    if fmt == "shp":
        return [target.with_suffix(part) for part in _SHAPEFILE_PARTS] + styles
    return [target, *styles]


def check_outputs(path: Path, fmt: str, names: Sequence[str], overwrite: bool,
                  inputs: tuple[Path, ...]) -> None:
    """Refuse before any work an output that exists, is an input or cannot be written."""
    for target in sorted(set(layer_paths(path, fmt, names).values())):
        for file in files_of(target, fmt):
            check_output_path(file, overwrite, inputs)


class LayerStore:
    """Layers staged batch by batch, committed into ``path`` in ``fmt`` all at once.

    Use as a context manager: the staging folder is always removed on exit, and nothing
    reaches ``path`` unless :meth:`commit` completed.  Layers are addressed by their
    :attr:`LayerSchema.key`.
    """

    def __init__(self, path: Path, fmt: str, schemas: Sequence[LayerSchema],
                 overwrite: bool, inputs: tuple[Path, ...]) -> None:
        self.path, self.fmt, self.overwrite = path, fmt, overwrite
        self.schemas = {schema.key: schema for schema in schemas}
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

    def layer_names(self) -> dict[str, str]:
        """Key -> the layer's name as GIS software shows it (a file's stem if per layer)."""
        if self.fmt == "gpkg":
            return {key: schema.name for key, schema in self.schemas.items()}
        return {key: target.stem for key, target in self.targets.items()}

    def _write(self, frame: gpd.GeoDataFrame, schema: LayerSchema, append: bool) -> None:
        options = {} if append else {"dataset_options": {"VERSION": _GPKG_VERSION}}
        with warnings.catch_warnings():
            # pixel-space layers have no CRS on purpose (the summary says so)
            warnings.filterwarnings("ignore", "'crs' was not provided", UserWarning)
            frame.to_file(self.staging, driver="GPKG", layer=schema.name, engine="pyogrio",
                          geometry_type=schema.geometry_type, append=append, **options)

    def append(self, key: str, frame: gpd.GeoDataFrame) -> None:
        """Add ``frame``'s features to layer ``key``."""
        if len(frame):
            self._write(frame, self.schemas[key], append=True)

    def _convert(self, schema: LayerSchema) -> None:
        """Stream one staged layer into its final file in the staging folder."""
        from pyogrio.raw import open_arrow, write_arrow

        driver, _, _ = FORMATS[self.fmt]
        target = self.folder / self.targets[schema.key].name
        options: dict[str, object] = {}
        if self.fmt == "shp":
            options["encoding"] = "UTF-8"
        with open_arrow(self.staging, layer=schema.name, use_pyarrow=False,
                        batch_size=_COPY_BATCH, return_fids=self.fmt == "geojson"
                        ) as (meta, stream):
            if self.fmt == "geojson":  # GDAL reprojects to EPSG:4326; the staged fid: id
                options["layer_options"] = {"RFC7946": "YES", "ID_TYPE": "Integer",
                                            "ID_FIELD": meta["fid_column"] or "OGC_FID"}
            write_arrow(stream, target, driver=driver,
                        geometry_name=meta["geometry_name"] or "geometry",
                        geometry_type=schema.geometry_type, crs=meta["crs"], **options)
        if self.fmt == "shp" and schema.decimals:
            fix_dbf_decimals(target.with_suffix(".dbf"),
                             {field: (width, places) for field, width, places
                              in schema.decimals})

    def _write_styles(self) -> None:
        """Each layer's style: in the GeoPackage, or as files beside each layer file."""
        if self.fmt == "gpkg":
            store_in_geopackage(self.staging, [
                LayerStyle(schema.name, schema.spec, schema.geometry_type)
                for schema in self.schemas.values()])
            return
        names = self.layer_names()
        for key, schema in self.schemas.items():
            target = self.folder / self.targets[key].name
            target.with_suffix(".qml").write_text(qml(schema.spec, schema.geometry_type),
                                                  encoding="utf-8")
            target.with_suffix(".sld").write_text(
                sld(schema.spec, schema.geometry_type, names[key]), encoding="utf-8")

    def commit(self, cancel: CancelToken | None = None) -> list[Path]:
        """Move every layer into place; return the paths of the written layer files."""
        if self.fmt != "gpkg":
            for schema in self.schemas.values():
                check(cancel)
                self._convert(schema)
        check(cancel)
        self._write_styles()
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
        for final in moved:
            note_written(final)
        return sorted(set(self.targets.values()))

    def discard(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def _record_batches(src: IO[bytes], start: int, count: int,
                    size: int) -> Iterator[NDArray[np.uint8]]:
    src.seek(start)
    for first in range(0, count, _COPY_BATCH):
        rows = min(_COPY_BATCH, count - first)
        yield np.frombuffer(src.read(rows * size), dtype=np.uint8).reshape(rows, size)


def _values(block: NDArray[np.uint8], offset: int, length: int) -> NDArray[np.float64]:
    """One numeric column of a batch of records; NaN where it is empty (null)."""
    text = np.char.strip(np.ascontiguousarray(block[:, offset:offset + length])
                         .view(f"S{length}")[:, 0])
    null = (text == b"") | np.char.startswith(text, b"*")
    return np.where(null, np.nan, np.where(null, b"0", text).astype(np.float64))


def _formatted(values: NDArray[np.float64], width: int, places: int) -> NDArray[np.uint8]:
    text = np.char.mod(f"%{width}.{places}f", np.nan_to_num(values)).astype(f"S{width}")
    text[np.isnan(values)] = b"*" * width
    return text.view(np.uint8).reshape(len(values), width)


def fix_dbf_decimals(path: Path, formats: dict[str, tuple[int, int]]) -> None:
    """Give the numeric fields of ``path`` named in ``formats`` (width, decimals).

    GDAL writes a Shapefile's Real fields 24 characters wide with 15 decimals, so 8.36 is
    stored as ``8.359999999999999`` and every GIS shows that; pyogrio cannot set a field's
    width or precision.  So the finished ``.dbf`` is rewritten, in batches of records,
    with each value printed to its field's decimals (a field is widened where a value
    needs it).  The header, the other fields and the record order stay as they were.
    """
    with path.open("rb") as src:
        header = bytearray(src.read(32))
        count, header_size, record_size = struct.unpack("<IHH", header[4:12])
        descriptors = bytearray(src.read(header_size - 32))
        fields: list[tuple[str, int, int, int]] = []  # name, offset, length, descriptor
        offset = 1  # each record starts with its deletion flag
        for at in range(0, len(descriptors) - 31, 32):
            if descriptors[at] == 0x0D:
                break
            name = bytes(descriptors[at:at + 11]).split(b"\0")[0].decode("ascii", "replace")
            fields.append((name, offset, descriptors[at + 16], at))
            offset += descriptors[at + 16]
        chosen = {name: formats[name] for name, *_ in fields if name in formats}
        widths = dict.fromkeys(chosen, 0)
        for block in _record_batches(src, header_size, count, record_size):
            for name, start, length, _ in fields:
                if name in chosen:
                    values = np.nan_to_num(_values(block, start, length))
                    if len(values):
                        longest = np.char.str_len(np.char.mod(f"%.{chosen[name][1]}f",
                                                              values)).max()
                        widths[name] = max(widths[name], int(longest))
        layout: list[tuple[str, int, int, int]] = []  # name, old offset, old and new length
        for name, start, length, at in fields:
            new = max(chosen[name][0], widths[name]) if name in chosen else length
            if name in chosen:
                descriptors[at + 16], descriptors[at + 17] = new, chosen[name][1]
            layout.append((name, start, length, new))
        new_size = 1 + sum(new for *_, new in layout)
        header[10:12] = struct.pack("<H", new_size)
        rewritten = path.with_name(path.name + ".tmp")
        with rewritten.open("wb") as dst:
            dst.write(header + descriptors)
            for block in _record_batches(src, header_size, count, record_size):
                out = np.empty((len(block), new_size), dtype=np.uint8)
                out[:, 0] = block[:, 0]
                position = 1
                for name, start, length, new in layout:
                    out[:, position:position + new] = (
                        _formatted(_values(block, start, length), new, chosen[name][1])
                        if name in chosen else block[:, start:start + length])
                    position += new
                dst.write(out.tobytes())
            dst.write(b"\x1a")
    os.replace(rewritten, path)
