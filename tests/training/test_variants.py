"""scripts/compare_variants.py: every variant is default.toml with only its change."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from unet_gis.training.config import load_config

REPO = Path(__file__).resolve().parents[2]


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("compare_variants",
                                                  REPO / "scripts" / "compare_variants.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["compare_variants"] = module
    spec.loader.exec_module(module)
    return module


def test_each_variant_changes_only_what_it_names(data_root: Path, tmp_path: Path) -> None:
    script = _script()
    configs = {}
    for name in script.VARIANTS:
        path = tmp_path / f"{name}.toml"
        path.write_text(script.variant_config(name, data_root))
        configs[name] = load_config(path)
    base = configs["base"]
    assert base.training.lr == 2e-3 and base.model.base_width == 16
    val_scenes = {s.name: len(s.images) for s in base.sources if s.split == "val"}
    assert val_scenes["massachusetts_sample"] == 3
    assert configs["width24"].model.base_width == 24
    assert configs["width32"].model.base_width == 32
    assert configs["percentile"].model.input_scaling == "percentile"
    assert configs["no_cldice"].training.cldice_weight == {}
    assert configs["light_aug"].training.scale_jitter == 0.1
    road_only = configs["road_only"]
    assert road_only.model.classes == ("road",)
    assert {s.name for s in road_only.sources} == {s.name for s in base.sources}
    assert configs["base_seed2"].training.seed != base.training.seed
    for name, config in configs.items():  # nothing else moved
        if name != "base_seed2":
            assert config.training.seed == base.training.seed, name
        assert config.training.batch_size == base.training.batch_size, name
