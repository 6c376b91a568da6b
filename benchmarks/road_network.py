"""Is the road output a network?  Share of centerline length in the largest connected piece.

Vectorizes each probability raster's roads (the same code as ``unet-gis vectorize``) and
prints, per raster, the number of pieces and the share of length in the largest one
(goal of issue 13: >= 85 % on the bundled sample and on each Massachusetts validation
scene).  Rasters come from ``unet-gis predict`` or ``unet-gis evaluate --keep DIR``.

    python benchmarks/road_network.py PROBABILITIES.tif [...] [--threshold 0.5]
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rasters", nargs="+", type=Path)
    parser.add_argument("--threshold", type=float, help="road threshold (default: the model's)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    results = {}
    for raster in args.rasters:
        results[raster.name] = network_share(raster, args.threshold)
        r = results[raster.name]
        print(f"{raster.name}: {r['pieces']} pieces, {r['length_m']:.0f} m, largest piece "
              f"{r['share']:.1%}", flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
