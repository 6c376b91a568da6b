import pickle
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from unet_gis.errors import UserError
from unet_gis.model.checkpoint import load_checkpoint, load_spec, read_metadata, save_checkpoint
from unet_gis.model.spec import ClassSpec, ModelSpec, Scaling, default_spec
from unet_gis.model.unet import build_unet

from ..conftest import tiny_spec


def test_round_trip_keeps_weights_and_spec(tmp_path: Path, tiny_model) -> None:
    path = save_checkpoint(tmp_path / "m.safetensors", tiny_model.network, tiny_model.spec,
                           extra_metadata={"training": {"epochs": 3}})
    loaded = load_checkpoint(path)
    assert loaded.spec == tiny_model.spec
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(loaded.network(x), tiny_model.network(x))
    assert read_metadata(path)["training"] == '{"epochs": 3}'


def test_spec_json_round_trip_with_all_fields() -> None:
    spec = default_spec(classes=(ClassSpec("road", (1, 2, 3), 0.4),), bands=("pan",),
                        scaling=Scaling("fixed", (10.0,), (2037.0,), mean=(0.4,), std=(0.2,)),
                        gsd_m=0.5, name="x", training={"a": [1, 2]})
    assert ModelSpec.from_json(spec.to_json()) == spec


@pytest.mark.parametrize("suffix", [".pt", ".pth"])
def test_pickle_files_are_refused_without_unpickling(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"model{suffix}"
    torch.save({"w": torch.zeros(1)}, path)
    with pytest.raises(UserError, match="pickle"):
        load_checkpoint(path)


def test_pickle_renamed_to_safetensors_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "sneaky.safetensors"
    path.write_bytes(pickle.dumps({"a": 1}))
    with pytest.raises(UserError, match="pickle"):
        load_checkpoint(path)


def test_not_a_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "notes.safetensors"
    path.write_text("hello, I am not a model")
    with pytest.raises(UserError, match="not a readable safetensors"):
        load_checkpoint(path)


def test_safetensors_without_spec_is_explained(tmp_path: Path) -> None:
    path = tmp_path / "bare.safetensors"
    save_file({"w": torch.zeros(2)}, str(path))
    with pytest.raises(UserError, match="no unet-gis model spec"):
        load_spec(path)


def test_band_count_mismatch_is_a_clear_error(tmp_path: Path) -> None:
    spec = tiny_spec()
    four_band_net = build_unet(4, 2, spec.architecture)
    path = save_checkpoint(tmp_path / "m.safetensors", four_band_net, spec)
    with pytest.raises(UserError, match="3 bands, 2 classes"):
        load_checkpoint(path)


def test_missing_weights_are_a_clear_error(tmp_path: Path, tiny_model) -> None:
    path = tmp_path / "m.safetensors"
    state = {k: v for k, v in tiny_model.network.state_dict().items() if "head" not in k}
    save_file(state, str(path), metadata={"unet_gis.spec": tiny_model.spec.to_json()})
    with pytest.raises(UserError, match="missing weights"):
        load_checkpoint(path)


def test_spec_validation() -> None:
    with pytest.raises(UserError, match="multiple of 4"):
        tiny_spec(tile=130)
    with pytest.raises(UserError, match="unique"):
        default_spec(classes=(ClassSpec("a", (0, 0, 0)), ClassSpec("a", (0, 0, 0))))


def test_safetensors_whose_header_length_starts_with_0x80_loads(tmp_path: Path,
                                                                tiny_model) -> None:
    """The first byte of a safetensors file is its header length's lowest byte; 0x80 is
    also the pickle protocol marker, which must not get a valid checkpoint refused."""
    path = tmp_path / "m.safetensors"
    for pad in range(300):
        save_checkpoint(path, tiny_model.network, tiny_model.spec,
                        extra_metadata={"pad": "x" * pad})
        if path.read_bytes()[:1] == b"\x80":
            break
    else:
        pytest.fail("no padding gave a header length ending in 0x80")
    assert load_checkpoint(path).spec == tiny_model.spec
