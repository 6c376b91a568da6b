"""Cases found by re-running issue 14 by hand as a hostile user: each ended in a traceback,
late (after the long work), or in a wrong place."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import numpy as np
import pytest

from unet_gis.cli.main import main

from ..conftest import random_rgb, write_geotiff


def _run(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, list[str], str]:
    """Exit code, the error lines and all of stderr (a traceback fails the test)."""
    try:
        code = main([str(a) for a in args])
    except SystemExit as exc:  # argparse
        code = int(exc.code or 0)
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, [line for line in err.splitlines() if line.startswith("unet-gis: error")], err


@pytest.fixture
def scene(tmp_path: Path) -> tuple[Path, Path]:
    """A plain image and its mask (same name, another folder), as evaluate wants them."""
    (tmp_path / "images").mkdir()
    (tmp_path / "masks").mkdir()
    image = write_geotiff(tmp_path / "images" / "s.tif", random_rgb(64, 64))
    mask = np.zeros((64, 64), np.uint8)
    mask[20:30] = 255
    labels = write_geotiff(tmp_path / "masks" / "s.tif", mask)
    return image, labels


def _evaluate(checkpoint: Path, image: Path, labels: Path, *more: object) -> list[object]:
    return ["evaluate", checkpoint, image, labels, "--device", "cpu", "--gsd", "0.3", *more]


def test_evaluate_finds_the_mask_of_relative_paths(capsys, tmp_path: Path, monkeypatch,
                                                   scene: tuple[Path, Path],
                                                   tiny_checkpoint: Path) -> None:
    # the mask folder was looked up beside the image: images/masks, "No mask for s.tif"
    monkeypatch.chdir(tmp_path)
    code, errors, _ = _run(capsys, *_evaluate(tiny_checkpoint, Path("images/s.tif"),
                                              Path("masks/s.tif")))
    assert (code, errors) == (0, [])


@pytest.mark.parametrize("option, value, fragment", [
    ("--json", ".", "is a folder"),           # traceback after the whole evaluation
    ("--keep", "images/s.tif", "is a file"),  # traceback (mkdir on a file)
    ("--keep", "images/s.tif/k", "is a file, not a folder"),
    ("--values", "abc", "--values abc"),      # ValueError traceback
    ("--values", "300", "0-255"),             # silently scored nothing
    ("--ignore-values", "1,x", "--ignore-values"),
])
def test_evaluate_outputs_and_values_are_checked_first(capsys, tmp_path: Path, monkeypatch,
                                                       scene: tuple[Path, Path],
                                                       tiny_checkpoint: Path, option: str,
                                                       value: str, fragment: str) -> None:
    import unet_gis.training.evaluate as evaluation

    def never(*args: object, **kwargs: object) -> None:
        raise AssertionError("the evaluation ran before its arguments were checked")

    monkeypatch.setattr(evaluation, "evaluate_items", never)
    monkeypatch.chdir(tmp_path)
    code, errors, _ = _run(capsys, *_evaluate(tiny_checkpoint, *scene, option, value))
    assert code == 1 and len(errors) == 1 and fragment in errors[0], errors


def test_evaluate_keeps_rasters_on_another_disk(capsys, tmp_path: Path, monkeypatch,
                                                scene: tuple[Path, Path],
                                                tiny_checkpoint: Path) -> None:
    # --keep on another file system than the temporary folder: "Invalid cross-device link"
    keep = tmp_path / "keep"
    real_replace, real_rename = os.replace, os.rename

    def other_disk(real):  # type: ignore[no-untyped-def]
        def move(src: object, dst: object, *args: object, **kwargs: object) -> None:
            if str(dst).startswith(str(keep)) and not str(src).startswith(str(keep)):
                raise OSError(errno.EXDEV, "Invalid cross-device link", str(src))
            real(src, dst, *args, **kwargs)
        return move

    monkeypatch.setattr(os, "replace", other_disk(real_replace))
    monkeypatch.setattr(os, "rename", other_disk(real_rename))
    code, errors, _ = _run(capsys, *_evaluate(tiny_checkpoint, *scene, "--keep", keep))
    assert (code, errors) == (0, [])
    assert (keep / "s_probabilities.tif").is_file()


def _must_not_run(monkeypatch: pytest.MonkeyPatch, module: object, name: str) -> None:
    def never(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"{name} ran before the outputs were checked")

    monkeypatch.setattr(module, name, never)


@pytest.mark.parametrize("vector, fragment", [
    ("exists.gpkg", "already exists"),              # found after the whole prediction
    ("image.tif/v.gpkg", "is a file, not a folder"),
])
def test_predict_checks_its_vector_output_before_predicting(
        capsys, tmp_path: Path, monkeypatch, tiny_checkpoint: Path, vector: str,
        fragment: str) -> None:
    import unet_gis.inference.engine as engine

    image = write_geotiff(tmp_path / "image.tif", random_rgb(32, 32))
    (tmp_path / "exists.gpkg").write_bytes(b"")
    out = tmp_path / "out"
    out.mkdir()
    _must_not_run(monkeypatch, engine, "predict")
    code, errors, _ = _run(capsys, "predict", image, "-o", out, "--model", tiny_checkpoint,
                           "--device", "cpu", "--quiet", "--vector", tmp_path / vector)
    assert code == 1 and len(errors) == 1 and fragment in errors[0], errors


@pytest.mark.parametrize("name", ["../escaped", "/tmp/abs", "a/b", ".."])
def test_mosaic_name_stays_in_outdir(capsys, tmp_path: Path, tiny_checkpoint: Path,
                                     name: str) -> None:
    # NAME went into the path as given: --mosaic ../x wrote x.vrt beside OUTDIR
    image = write_geotiff(tmp_path / "tile.tif", random_rgb(32, 32))
    out = tmp_path / "out"
    out.mkdir()
    code, errors, _ = _run(capsys, "predict", image, "--mosaic", name, "-o", out, "--model",
                           tiny_checkpoint, "--device", "cpu", "--quiet")
    assert code == 1 and len(errors) == 1 and "plain name" in errors[0], errors
    assert sorted(p.name for p in tmp_path.rglob("*.vrt")) == []


def test_train_checks_its_output_before_training(capsys, tmp_path: Path,
                                                 monkeypatch) -> None:
    import unet_gis.training.runner as runner

    config = tmp_path / "c.toml"
    config.write_text('[model]\nclasses = ["road"]\n')
    (tmp_path / "folder").mkdir()
    monkeypatch.setattr("unet_gis.training.config.load_config", lambda *a, **k: None)
    _must_not_run(monkeypatch, runner, "run_training")
    code, errors, _ = _run(capsys, "train", config, "-o", tmp_path / "folder",
                           "--device", "cpu")
    assert code == 1 and len(errors) == 1 and "is a folder" in errors[0], errors
