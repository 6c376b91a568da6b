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


def test_a_failed_gui_run_leaves_no_empty_results_folder(tmp_path: Path, tiny_model) -> None:
    # `gui BROKEN.tif --run` left an empty BROKEN_unet_gis folder beside the image
    from unet_gis.app.jobs import RunRequest, run_model
    from unet_gis.errors import UserError
    from unet_gis.inference.progress import CancelToken

    good = write_geotiff(tmp_path / "good.tif", random_rgb(256, 256))
    broken = tmp_path / "broken.tif"
    data = good.read_bytes()
    broken.write_bytes(data[: len(data) // 3])
    folder = tmp_path / "broken_unet_gis"
    request = RunRequest(image=broken, output=folder / "broken_probabilities.tif",
                         device="cpu", tile=128, halo=32)
    with pytest.raises(UserError):
        run_model(request, tiny_model, lambda progress: None, CancelToken(),
                  lambda *args: None)
    assert not folder.exists()


def test_overview_child_keeps_library_warnings_off_stderr(tmp_path: Path) -> None:
    # a raster without georeferencing printed rasterio's NotGeoreferencedWarning (2 lines)
    import warnings

    import rasterio

    from unet_gis.app.overview_build import child_main, temporary_paths

    path = tmp_path / "plain.tif"
    with rasterio.open(path, "w", driver="GTiff", width=256, height=256, count=1,
                       dtype="uint8") as dst:
        dst.write(np.zeros((1, 256, 256), np.uint8))

    class Results(list):  # type: ignore[type-arg]
        put = list.append

    results = Results()
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        child_main(str(path), [2], str(temporary_paths(path)[0]), results)
    assert results == [""]
    assert [str(w.message) for w in seen] == []


def test_closing_the_app_during_an_overview_build_logs_no_failure(tmp_path: Path,
                                                                  caplog) -> None:
    # `gui IMG --run --screenshot` ended with "WARNING: building overviews for ... failed:
    # the overview builder stopped (exit code -15)": the app stopped it on exit
    import logging
    import threading
    import time

    import rasterio

    from unet_gis.app.overviews import OverviewBuilder

    path = tmp_path / "big.tif"
    side = 6144
    with rasterio.open(path, "w", driver="GTiff", width=side, height=side, count=3,
                       dtype="uint8", tiled=True) as dst:
        dst.write(random_rgb(side, side))
    builder = OverviewBuilder()
    caplog.set_level(logging.INFO, logger="unet_gis.app.overviews")
    before = set(threading.enumerate())
    assert builder.start(path, [2, 4, 8, 16])
    build = builder.running[path]
    end = time.monotonic() + 60
    while build._process is None or not build._process.is_alive():
        assert time.monotonic() < end, "the builder never started"
        time.sleep(0.02)
    builder.shutdown()
    for thread in set(threading.enumerate()) - before:
        thread.join(30)
    assert [r.getMessage() for r in caplog.records if "failed" in r.getMessage()] == []
    assert not Path(f"{path}.ovr").exists()


def test_info_describes_any_raster_and_a_model_file(capsys, tmp_path: Path,
                                                    tiny_checkpoint: Path) -> None:
    # a probability raster (2 bands) was "has 2 usable band(s) but the model needs 3",
    # exit 1; `info MODEL.safetensors` was "not a raster GDAL can read"
    two_bands = write_geotiff(tmp_path / "p.tif", random_rgb(32, 32)[:2])
    assert main(["info", str(two_bands), "--model", str(tiny_checkpoint)]) == 0
    out = capsys.readouterr().out
    assert "size:       32 x 32 px, 2 band(s)" in out and "model reads: nothing (" in out
    assert main(["info", str(tiny_checkpoint)]) == 0
    assert capsys.readouterr().out.startswith("model:      tiny.safetensors: road")


def test_help_texts_show_no_doubled_percent(capsys) -> None:
    from unet_gis.cli.main import COMMANDS

    for command in COMMANDS:
        with pytest.raises(SystemExit):
            main([command, "--help"])
        assert "%%" not in capsys.readouterr().out, command


@pytest.mark.parametrize("value", [float("nan"), float("inf"), "2", None])
def test_vectorize_options_take_finite_numbers_only(value: object) -> None:
    # the QGIS worker's request {"min_area_m2": NaN} vectorized with every polygon dropped
    # (exit 0), and "nan" (a string) ended in a TypeError traceback
    from unet_gis.errors import UserError
    from unet_gis.vector.options import VectorizeOptions

    with pytest.raises(UserError, match="min_area_m2 must be a finite number"):
        VectorizeOptions(min_area_m2=value)  # type: ignore[arg-type]


def test_worker_reports_a_bad_number_in_one_line(tmp_path: Path) -> None:
    import json
    import subprocess
    import sys

    request = json.dumps({"vectorize": {"probabilities": str(tmp_path / "p.tif"),
                                        "output": str(tmp_path / "v.gpkg"),
                                        "min_area_m2": "nan"}})
    done = subprocess.run([sys.executable, "-m", "unet_gis.integrations.worker", request],
                          capture_output=True, text=True, timeout=120)
    last = json.loads(done.stdout.splitlines()[-1])
    assert done.returncode == 1 and "traceback" not in last, last
    assert "min_area_m2" in last["error"]


def test_an_interrupt_after_an_output_was_finished_says_what_was_kept(
        capsys, tmp_path: Path, monkeypatch, tiny_checkpoint: Path) -> None:
    # Ctrl-C while `predict --vector` vectorized said "nothing was written" beside the
    # probability raster it had just written
    import unet_gis.vector.vectorize as vectorizing

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    image = write_geotiff(tmp_path / "s.tif", random_rgb(32, 32))
    out = tmp_path / "out"
    out.mkdir()
    monkeypatch.setattr(vectorizing, "vectorize", interrupted)
    code = main(["predict", str(image), "-o", str(out), "--model", str(tiny_checkpoint),
                 "--device", "cpu", "--quiet", "--vector", str(out / "v.gpkg")])
    lines = [line for line in capsys.readouterr().err.splitlines()
             if line.startswith("unet-gis:")]
    assert code == 130 and len(lines) == 1, lines
    assert "kept the finished s_probabilities.tif" in lines[0], lines
    assert (out / "s_probabilities.tif").is_file()


def test_cancelled_is_one_line_not_a_traceback(capsys, monkeypatch) -> None:
    # `except Cancelled` came after `except Exception`, which re-raised it; and what an
    # earlier main() in this process wrote (the test above) is not claimed as kept
    import unet_gis.cli.info as info
    from unet_gis.errors import Cancelled

    def cancelled(args: object) -> int:
        raise Cancelled()

    monkeypatch.setattr(info, "run", cancelled)
    code, _, err = _run(capsys, "info")
    assert code == 130 and err.strip() == "unet-gis: cancelled; nothing was written."


@pytest.mark.slow
@pytest.mark.skipif(os.name == "nt", reason="POSIX signals")
@pytest.mark.parametrize("signum, code, word", [(15, 143, "terminated"),
                                                (2, 130, "interrupted")])
def test_signals_close_the_gui_and_leave_nothing(tmp_path: Path, tiny_checkpoint: Path,
                                                 signum: int, code: int, word: str) -> None:
    # SIGTERM killed the app mid-run with .NAME_probabilities.pidN.….tmp.tif left behind
    import subprocess
    import sys
    import time

    image = write_geotiff(tmp_path / "big.tif", random_rgb(2048, 2048, seed=3))
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "HOME": str(tmp_path / "home"),
           "XDG_CONFIG_HOME": str(tmp_path / "config"),
           "XDG_DATA_HOME": str(tmp_path / "data")}
    process = subprocess.Popen([sys.executable, "-m", "unet_gis", "gui", str(image), "--run",
                                "--model", str(tiny_checkpoint), "--device", "cpu"],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    folder = tmp_path / "big_unet_gis"
    end = time.monotonic() + 120
    while not (folder.is_dir() and any(folder.iterdir())):
        assert process.poll() is None and time.monotonic() < end, "the run never started"
        time.sleep(0.05)
    process.send_signal(signum)
    _, err = process.communicate(timeout=60)
    lines = [line for line in err.splitlines() if line.startswith("unet-gis")]
    assert process.returncode == code, err
    assert lines == [f"unet-gis: {word}; any running job was cancelled and left nothing "
                     "behind."], err
    assert not folder.exists() or not any(folder.iterdir())
