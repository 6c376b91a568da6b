"""Is the road output a network?  Share of centerline length in the largest connected piece.

Vectorizes each probability raster's roads (the same code as ``unet-gis vectorize``) and
prints, per raster, the number of pieces and the share of length in the largest one
(goal of issue 13: >= 85 % on the bundled sample and on each Massachusetts validation
scene).  Rasters come from ``unet-gis predict`` or ``unet-gis evaluate --keep DIR``.

    python benchmarks/road_network.py PROBABILITIES.tif [...] [--threshold 0.5]
        [--labels MASK_FOLDER]

``--labels`` also measures the label masks (``<stem>.png``/``.tif`` for
``<stem>_probabilities.tif``, road = 255) drawn into the same grid: the share a perfect
output would have, since roads that leave a tile and come back are pieces there too.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import pyogrio

from unet_gis.vector.connectivity import largest_piece_share
from unet_gis.vector.options import VectorizeOptions
from unet_gis.vector.vectorize import vectorize


def network_share(probabilities: Path, threshold: float | None) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "roads.gpkg"
        thresholds = (("road", threshold),) if threshold is not None else ()
        summary = vectorize(probabilities, out, VectorizeOptions(
            classes=("road",), thresholds=thresholds, format="gpkg", workers=1))
        if "road_centerlines" not in summary.layers:
            return {"pieces": 0, "length_m": 0.0, "share": float("nan")}
        frame = pyogrio.read_dataframe(out, layer=summary.layers["road_centerlines"])
    result = largest_piece_share(frame.geometry, frame["length_m"])
    return {"pieces": result.pieces, "length_m": round(result.total_m, 1),
            "share": round(result.share, 3)}


def label_raster(probabilities: Path, masks: Path, folder: Path) -> Path:
    """The label mask of ``probabilities``' scene as a probability raster on its grid
    (road 1, everything else 0)."""
    import numpy as np
    import rasterio
    from PIL import Image

    stem = probabilities.name.removesuffix("_probabilities.tif")
    found = [masks / f"{stem}{suffix}" for suffix in (".png", ".tif", ".tiff")]
    mask_file = next((m for m in found if m.exists()), None)
    if mask_file is None:
        raise SystemExit(f"no label mask for {stem} in {masks}")
    from unet_gis.raster.probability import full_scale_of

    with rasterio.open(probabilities) as source:
        profile, scales, full = source.profile.copy(), source.scales, full_scale_of(source)
        tags, band_tags = source.tags(), [source.tags(i + 1) for i in range(source.count)]
        descriptions, shape = source.descriptions, (source.height, source.width)
    with Image.open(mask_file) as handle:
        road = np.asarray(handle.convert("L").resize(shape[::-1], Image.Resampling.NEAREST))
    data = np.zeros((profile["count"], *shape), np.uint8)
    data[0] = np.where(road == 255, full, 0)
    out = folder / probabilities.name
    with rasterio.open(out, "w", **profile) as target:
        target.write(data)
        target.update_tags(**tags)
        target.scales = scales
        target.descriptions = descriptions
        for band, band_tag in enumerate(band_tags, start=1):
            target.update_tags(band, **band_tag)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rasters", nargs="+", type=Path)
    parser.add_argument("--threshold", type=float, help="road threshold (default: the model's)")
    parser.add_argument("--labels", type=Path, metavar="MASK_FOLDER",
                        help="also measure the label masks in this folder")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    results = {}
    for raster in args.rasters:
        results[raster.name] = network_share(raster, args.threshold)
        r = results[raster.name]
        line = (f"{raster.name}: {r['pieces']} pieces, {r['length_m']:.0f} m, largest piece "
                f"{r['share']:.1%}")
        if args.labels is not None:
            with tempfile.TemporaryDirectory() as tmp:
                truth = network_share(label_raster(raster, args.labels, Path(tmp)), 0.5)
            results[raster.name + " labels"] = truth
            line += (f"; labels {truth['pieces']} pieces, {truth['length_m']:.0f} m, largest "
                     f"{truth['share']:.1%}")
        print(line, flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
