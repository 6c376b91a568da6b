"""``unet-gis info``: describe a raster and how the current model would read it."""

from __future__ import annotations

import argparse
from pathlib import Path

from unet_gis.errors import UserError
from unet_gis.raster.io import as_source


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "info", help="describe a raster, or a model checkpoint",
        description="Print size, bands, dtype, CRS, GSD in metres, nodata and overviews of "
                    "IMAGE, and how the model would read it. With no IMAGE, describe the model.")
    parser.add_argument("image", nargs="?", type=as_source, metavar="IMAGE")
    parser.add_argument("--model", metavar="FILE", help="checkpoint (default: bundled model)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from unet_gis.model.metadata import load_spec
    from unet_gis.model.zoo import resolve_model_path

    spec = None
    image = args.image
    if isinstance(image, Path) and image.suffix.lower() == ".safetensors":
        if args.model:
            raise UserError(f"{image} is a model: give it alone, or as --model with an "
                            "IMAGE.")
        args.model, args.image = str(image), None  # `info MODEL.safetensors`
    try:
        model_path = resolve_model_path(args.model)
        spec = load_spec(model_path)
        classes = ", ".join(f"{c.name} (threshold {c.threshold:g})" for c in spec.classes)
        print(f"model:      {model_path.name}: {classes}; bands {', '.join(spec.bands)}; "
              f"{spec.gsd_m:g} m; tile {spec.tile}, halo {spec.halo}")
    except UserError as exc:
        if args.model or args.image is None:
            raise
        print(f"model:      none ({exc})")
    if args.image is not None:
        for line in describe_raster(args.image, spec):
            print(line)
    return 0


def describe_raster(path: Path, spec: object | None) -> list[str]:
    from unet_gis.model.spec import ModelSpec
    from unet_gis.raster.grid import plan_grid
    from unet_gis.raster.io import build_scaler, choose_bands, open_raster

    with open_raster(path) as ds:
        grid_gsd = plan_grid(ds, 1.0).source.gsd_m
        crs = ds.crs.to_string() if ds.crs else "none (pixel space)"
        gsd = f"{grid_gsd[0]:.3f} x {grid_gsd[1]:.3f} m" if grid_gsd else "unknown (no CRS)"
        overviews = ds.overviews(1)
        lines = [
            f"file:       {path}",
            f"driver:     {ds.driver}",
            f"size:       {ds.width} x {ds.height} px, {ds.count} band(s)",
            f"dtype:      {', '.join(sorted(set(ds.dtypes)))}",
            f"bands:      {', '.join(ci.name for ci in ds.colorinterp)}",
            f"crs:        {crs}",
            f"pixel size: {ds.res[0]:.6g} x {ds.res[1]:.6g} CRS units; GSD {gsd}",
            f"bounds:     {', '.join(f'{v:.6f}' for v in ds.bounds)}",
            f"nodata:     {ds.nodata if ds.nodata is not None else 'none'}; masks "
            f"{', '.join(sorted({f.name for flags in ds.mask_flag_enums for f in flags}))}",
            f"overviews:  {', '.join(map(str, overviews)) if overviews else 'none'}",
        ]
        if isinstance(spec, ModelSpec):
            try:
                bands = choose_bands(ds, spec)
                plan = plan_grid(ds, spec.gsd_m)
                scaler = build_scaler(ds, bands, spec)
            except UserError as exc:  # a probability raster, a mask: still described
                lines.append(f"model reads: nothing ({exc})")
                return lines
            read = (f"resampled to {plan.working.width} x {plan.working.height} at "
                    f"{spec.gsd_m:g} m" if plan.resampled else "at native resolution")
            lines.append(f"model reads: {bands.description}; {scaler.description}; {read}")
    return lines
