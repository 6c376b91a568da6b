"""Set a trained model's default thresholds and tile size (what ships in its spec).

    python scripts/set_spec.py MODEL.safetensors OUT.safetensors [--threshold road=0.5,...]
        [--tile 768] [--name NAME] [--note TEXT]

The weights and the training record are kept; the choice is recorded in the record's
``spec_changes`` (with ``--note`` saying how the thresholds were chosen).
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

from unet_gis.cli.vectorize import parse_thresholds
from unet_gis.model.checkpoint import load_checkpoint, read_metadata, save_checkpoint
from unet_gis.training.train import RECORD_KEY


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--threshold", type=parse_thresholds, default=())
    parser.add_argument("--tile", type=int)
    parser.add_argument("--name")
    parser.add_argument("--note", default="")
    args = parser.parse_args()
    model = load_checkpoint(args.model)
    spec = model.spec
    wanted = dict(args.threshold)
    classes = tuple(replace(c, threshold=wanted.get(c.name, c.threshold), role=c.kind)
                    for c in spec.classes)
    spec = replace(spec, classes=classes)
    if args.tile:
        spec = spec.with_tiling(args.tile)
    if args.name:
        spec = replace(spec, name=args.name)
    record = json.loads(read_metadata(args.model).get(RECORD_KEY, "{}"))
    record.setdefault("spec_changes", []).append({
        "utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "thresholds": {c.name: c.threshold for c in classes}, "tile": spec.tile,
        "note": args.note})
    spec = replace(spec, training=record)
    save_checkpoint(args.out, model.network, spec, {RECORD_KEY: json.dumps(record)})
    print(f"wrote {args.out}: " + ", ".join(f"{c.name} {c.threshold}" for c in classes)
          + f"; tile {spec.tile}, halo {spec.halo}")


if __name__ == "__main__":
    main()
