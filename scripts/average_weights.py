"""Average the weights of snapshots of one training run (unet_gis.training.average).

    python scripts/average_weights.py OUT.safetensors SNAPSHOT [SNAPSHOT ...]

e.g. the last 16 epochs of a leg:  runs/leg7/model.epoch0{70..85}.safetensors
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

from unet_gis.model.checkpoint import save_checkpoint
from unet_gis.training.average import average_checkpoints
from unet_gis.training.train import RECORD_KEY


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("snapshots", type=Path, nargs="+")
    args = parser.parse_args()
    model, record = average_checkpoints(args.snapshots)
    spec = replace(model.spec, training=record)
    save_checkpoint(args.out, model.network, spec, {RECORD_KEY: json.dumps(record)})
    print(f"wrote {args.out}: the mean of {len(args.snapshots)} snapshots")


if __name__ == "__main__":
    main()
