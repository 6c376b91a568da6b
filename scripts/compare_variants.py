"""Short training runs that compare recipe variants of the default model (issue 13).

Every variant starts from random weights and trains the same number of steps, with the same
seed, chips and learning-rate schedule as the others; only the named change differs from
``configs/default.toml``.  Each is then scored with ``unet-gis evaluate --sweep`` on the
same validation scenes (three of the seven Massachusetts scenes, to keep the evaluation
short) and the table gives each variant at its own best mean threshold per class.

    python scripts/compare_variants.py run [--steps 600] [--only base,width24]
    python scripts/compare_variants.py table

Runs go to ``runs/variants/<name>/`` (config, log, model, eval.json); a finished step is
not repeated, so the script can be stopped and started again.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "runs" / "variants"
DEFAULT = ROOT / "configs" / "default.toml"
UNET_GIS = [sys.executable, "-m", "unet_gis"]  # this interpreter's, whatever PATH says

#: shared by every variant: a from-scratch schedule (default.toml's is a fine-tuning leg's)
COMMON = [("lr = 5e-4", "lr = 2e-3"),
          ('images = ["massachusetts_roads_sample/images/*.png"]',
           'images = ["massachusetts_roads_sample/images/10078660_15.png", '
           '"massachusetts_roads_sample/images/10228795_15.png", '
           '"massachusetts_roads_sample/images/10678810_15.png"]')]

def _road_frames(name: str, folder: str, frames: list[str], gsd_m: float, val: str) -> str:
    """A road-only source of hand-drawn road surfaces (0 background, 1 road, 255 ignore)."""
    images = ",\n          ".join(f'"{folder}/images/{frame}"' for frame in frames)
    return (f'\n[[sources]]\nname = "{name}"\nkind = "mask"\nimages = [{images}]\n'
            f'labels = "aerial_roads_handmade/masks"\ngsd_m = {gsd_m}\nclasses = ["road"]\n'
            f'values = {{ road = [1] }}\nignore_values = [255]\nsplit = "train"\n'
            f'val_patterns = ["{val}"]\n')


#: road surfaces drawn on the drone and aerial frames, as road-only sources (the joint
#: config reads them as extra masks of the vehicle sources)
ROAD_ONLY_FRAMES = _road_frames(
    "minsk_drone", "minsk_drone_cars", ["DJI-00760-00001.jpg", "DJI_0005-0018.jpg",
                                        "DJI_0013-0023.jpg", "DJI_0762-00001.jpg",
                                        "DJI_0762-00024.jpg"], 0.058, "DJI_0762-*") + \
    _road_frames("kit_ais_munich", "kit_ais_munich_cars",
                 ["MOS155.png", "MOS92.png", "MunichStreet02-MOS74.png",
                  "MunichStreet02-MOS89.png"], 0.13, "MunichStreet02-*")

VEHICLE_SOURCES_FROM = "# --- vehicles ----"

#: name -> (what changes, text replacements on default.toml)
VARIANTS: dict[str, tuple[str, list[tuple[str, str]]]] = {
    "base": ("default.toml's recipe: joint heads, width 16, clDice 0.5, full augmentation", []),
    "road_only": ("road head only (the vehicle sources' road surfaces kept)", [
        ('classes = ["road", "vehicle"]', 'classes = ["road"]'),
        ("class_balance = { road = 0.5, vehicle = 0.3 }", "class_balance = { road = 0.5 }"),
        ("pos_weight = { road = 1.5, vehicle = 1.0 }", "pos_weight = { road = 1.5 }"),
        ("background_beyond_m = { vehicle = 10.0 }\n", ""),
    ]),
    "width24": ("base width 24 (2.2x the parameters)", [("base_width = 16", "base_width = 24")]),
    "width32": ("base width 32 (4x the parameters)", [("base_width = 16", "base_width = 32")]),
    "percentile": ("per-image input scaling: each image stretched between its own 2-98 %", [
        ("base_width = 16", 'base_width = 16\ninput_scaling = "percentile"')]),
    "no_cldice": ("no soft clDice road term", [
        ("cldice_weight = { road = 0.5 }", "cldice_weight = {}")]),
    "base_seed2": ("base again with another seed (other chips and initial weights): how far "
                   "two runs of one recipe differ", [("seed = 2031", "seed = 2032")]),
    "light_aug": ("light augmentation: GSD jitter 10 %, no degradations, no panchromatic looks", [
        ("scale_jitter = 0.4", "scale_jitter = 0.1"),
        ("grey_probability = 0.25", "grey_probability = 0.0"),
        ("degrade_probability = 0.25", "degrade_probability = 0.0")]),
}


def variant_config(name: str, data_root: Path) -> str:
    """default.toml with the variant's changes; every replacement must apply."""
    text = DEFAULT.read_text()
    _, changes = VARIANTS[name]
    for old, new in [*COMMON, *changes, ('data_root = "../../shared/data"',
                                         f'data_root = "{data_root}"')]:
        if old not in text:
            raise SystemExit(f"variant {name}: {old!r} is not in {DEFAULT.name}")
        text = text.replace(old, new)
    if name == "road_only":
        text = text[:text.index(VEHICLE_SOURCES_FROM)] + ROAD_ONLY_FRAMES
    return text


def run(names: list[str], steps: int, data_root: Path) -> None:
    for name in names:
        folder = OUT / name
        folder.mkdir(parents=True, exist_ok=True)
        config = folder / "config.toml"
        config.write_text(variant_config(name, data_root))
        model = folder / "model.safetensors"
        epochs = max(1, steps // 100)
        done = folder / "trained"
        if not done.exists():
            resume = ["--resume", str(model)] if model.exists() else []
            began = time.time()
            subprocess.run([*UNET_GIS, "train", str(config), "-o", str(model), "--epochs",
                            str(epochs), "--steps-per-epoch", "100", "--log",
                            str(folder / "train.log"), *resume], check=True)
            done.write_text(f"{time.time() - began:.0f}\n")
        scores = folder / "eval.json"
        if not scores.exists():
            began = time.time()
            subprocess.run([*UNET_GIS, "evaluate", str(model), str(config), "--sweep",
                            "--json", str(scores)], check=True)
            (folder / "evaluated").write_text(f"{time.time() - began:.0f}\n")


def seconds_per_step(log: Path) -> float:
    """Training seconds per step from the log's last epoch line ("… 567s")."""
    done = [line for line in log.read_text().splitlines() if " done: " in line]
    steps = int(done[-1].split("epoch ")[1].split("/")[0]) * 100
    return int(done[-1].rsplit(" ", 1)[1].rstrip("s")) / steps


def table() -> str:
    """Markdown: per validation set, each variant at its own best mean threshold."""
    rows: list[tuple[str, dict[str, float], dict[str, tuple[float, float]], str]] = []
    sets: dict[str, list[str]] = {}
    for name in VARIANTS:
        path = OUT / name / "eval.json"
        if not path.exists():
            continue
        sweep = json.loads(path.read_text())["threshold_sweep"]
        cells: dict[str, float] = {}
        best: dict[str, tuple[float, float]] = {}
        for label, per_class in sweep.items():
            threshold, mean = per_class["best"]["threshold"], per_class["best"]["mean"]
            best[label] = (threshold, mean)
            for source, by_threshold in per_class["by_source"].items():
                key = f"{label}: {source}"
                sets.setdefault(label, [])
                if key not in sets[label]:
                    sets[label].append(key)
                cells[key] = by_threshold.get(str(threshold), math.nan)
        rows.append((name, cells, best, f"{seconds_per_step(OUT / name / 'train.log'):.2f}"))
    columns = [key for label in sorted(sets) for key in sets[label]]
    head = ["variant", "s/step", *columns, "road mean (thr)", "vehicle mean (thr)"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, cells, best, minutes in rows:
        means = [f"{best[c][1]:.3f} ({best[c][0]:g})" if c in best else "-"
                 for c in ("road", "vehicle")]
        lines.append("| " + " | ".join([name, minutes,
                                        *(f"{cells.get(k, math.nan):.3f}" for k in columns),
                                        *means]) + " |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("action", choices=("run", "table"))
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--only", default=",".join(VARIANTS))
    parser.add_argument("--data-root", type=Path, default=ROOT.parent / "shared" / "data")
    args = parser.parse_args()
    if args.action == "run":
        names = [n for n in args.only.split(",") if n]
        unknown = [n for n in names if n not in VARIANTS]
        if unknown:
            parser.error(f"unknown variant(s) {unknown}; known: {', '.join(VARIANTS)}")
        run(names, args.steps, args.data_root.resolve())
    else:
        print(table())
    return 0


if __name__ == "__main__":
    sys.exit(main())
