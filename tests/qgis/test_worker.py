"""The engine's worker process and the plugin's side of it, without QGIS.

The worker (``python -m unet_gis.integrations.worker``) runs in a real subprocess on a
small generated GeoTIFF and a tiny random model; the plugin's runner
(``unet_gis_qgis.worker_process``) starts it as QGIS would, with a stand-in feedback.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from unet_gis_qgis import bootstrap
from unet_gis_qgis.worker_process import WorkerError, run_worker

from unet_gis.integrations.processing import CANCELLED_MESSAGE, SEGMENT_SHARE
from unet_gis.integrations.worker import CANCELLED, FAILED, OK

WORKER = [sys.executable, "-m", "unet_gis.integrations.worker"]


class Feedback:
    """What the runner tells QgsProcessingFeedback; cancels at the first progress when
    ``cancel_at_progress``."""

    def __init__(self, cancel_at_progress: bool = False) -> None:
        self.progress: list[float] = []
        self.texts: list[str] = []
        self.infos: list[str] = []
        self.warnings: list[str] = []
        self.cancel_at_progress = cancel_at_progress
        self.canceled = False

    def setProgress(self, value: float) -> None:  # noqa: N802 - QGIS's name
        self.progress.append(value)
        self.canceled = self.canceled or self.cancel_at_progress

    def setProgressText(self, text: str) -> None:  # noqa: N802 - QGIS's name
        self.texts.append(text)

    def pushInfo(self, text: str) -> None:  # noqa: N802 - QGIS's name
        self.infos.append(text)

    def pushWarning(self, text: str) -> None:  # noqa: N802 - QGIS's name
        self.warnings.append(text)

    def isCanceled(self) -> bool:  # noqa: N802 - QGIS's name
        return self.canceled


@pytest.fixture
def image(make_geotiff: Any) -> Path:
    path: Path = make_geotiff(np.random.default_rng(3).integers(0, 256, (3, 400, 400),
                                                                 np.uint8), name="scene.tif")
    return path


def request(image: Path, checkpoint: Path, folder: Path, **vectorize: Any) -> dict[str, Any]:
    return {"segment": {"image": str(image), "output": str(folder / "scene_probabilities.tif"),
                        "model": str(checkpoint), "device": 1, "tile": 128},
            "vectorize": {"output": str(folder / "scene.gpkg"), "min_area_m2": 0.0,
                          **vectorize}}


def lines(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines()]


def test_the_worker_segments_and_vectorizes_reporting_json_lines(
        image: Path, tiny_checkpoint: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    done = subprocess.run([*WORKER, json.dumps(request(image, tiny_checkpoint, out))],
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == OK, done.stderr[-3000:]
    messages = lines(done.stdout)  # every stdout line is a protocol line
    progress = [m["progress"] for m in messages if "progress" in m]
    assert progress == sorted(progress) and progress[-1] == 100.0 and SEGMENT_SHARE in progress
    result = messages[-1]["result"]
    assert result["segment"]["output"] == str(out / "scene_probabilities.tif")
    vector = result["vectorize"]
    assert vector["output"] == str(out / "scene.gpkg") and (out / "scene.gpkg").is_file()
    assert set(vector["layers"]) <= {"vehicles", "roads", "road_centerlines"}
    assert any(m.get("info", "").startswith("Thresholds: ") for m in messages)


def test_classes_reach_the_vectorizer(image: Path, tiny_checkpoint: Path,
                                      tmp_path: Path) -> None:
    from unet_gis.model.checkpoint import load_checkpoint

    first = load_checkpoint(tiny_checkpoint).spec.classes[0].name
    done = subprocess.run(
        [*WORKER, json.dumps(request(image, tiny_checkpoint, tmp_path, classes=[first]))],
        capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == OK, done.stderr[-3000:]
    messages = lines(done.stdout)
    thresholds = next(m["info"] for m in messages if m.get("info", "").startswith("Thres"))
    assert thresholds.count("(model)") == 1 and first in thresholds  # only that class
    bad = subprocess.run([*WORKER, json.dumps({"vectorize": {
        "probabilities": str(tmp_path / "scene_probabilities.tif"),
        "output": str(tmp_path / "other.gpkg"), "classes": ["x"]}})],
        capture_output=True, text=True, timeout=300, check=False)
    assert bad.returncode == FAILED
    assert "Unknown class 'x'" in lines(bad.stdout)[-1]["error"]
    assert not (tmp_path / "other.gpkg").exists()


def test_sigint_cancels_and_leaves_nothing(image: Path, tiny_checkpoint: Path,
                                           tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    process = subprocess.Popen([*WORKER, json.dumps(request(image, tiny_checkpoint, out))],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert process.stdout is not None
    seen = []
    for line in process.stdout:
        seen.append(json.loads(line))
        if "progress" in seen[-1]:
            process.send_signal(signal.SIGINT)
            break
    seen += [json.loads(line) for line in process.stdout]
    process.stdout.close()
    assert process.wait(timeout=120) == CANCELLED
    assert seen[-1] == {"error": CANCELLED_MESSAGE, "cancelled": True}
    assert list(out.iterdir()) == []


def test_a_bad_request_is_one_line(tmp_path: Path) -> None:
    done = subprocess.run([*WORKER, '{"segment": {"imag": 1}}'], capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == FAILED
    assert lines(done.stdout) == [{"error": lines(done.stdout)[0]["error"], "cancelled": False}]
    assert lines(done.stdout)[0]["error"].startswith("unet-gis worker: bad request")


def plugin_command(payload: dict[str, Any]) -> list[str]:
    """As the plugin starts the worker: QGIS's Python is this one here."""
    return bootstrap.worker_command(sys.executable, [], json.dumps(payload))


def test_the_runner_relays_progress_and_log_lines(image: Path, tiny_checkpoint: Path,
                                                  tmp_path: Path) -> None:
    feedback = Feedback()
    result = run_worker(plugin_command(request(image, tiny_checkpoint, tmp_path)),
                        bootstrap.worker_environment(os.environ, sys.executable), feedback)
    assert result["vectorize"]["output"] == str(tmp_path / "scene.gpkg")
    assert feedback.progress == sorted(feedback.progress) and feedback.progress[-1] == 100.0
    assert feedback.texts[0] == "Loading the model"
    assert any(line.startswith("Thresholds: ") for line in feedback.infos)


def test_cancel_in_the_host_interrupts_the_worker_and_nothing_is_written(
        image: Path, tiny_checkpoint: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    feedback = Feedback(cancel_at_progress=True)
    with pytest.raises(WorkerError) as info:
        run_worker(plugin_command(request(image, tiny_checkpoint, out)),
                   bootstrap.worker_environment(os.environ, sys.executable), feedback)
    assert str(info.value) == CANCELLED_MESSAGE and info.value.cancelled
    assert feedback.progress and list(out.iterdir()) == []


def test_a_worker_that_crashes_is_an_error_with_its_exit_status() -> None:
    code = ("import sys, time; print('not json', flush=True); time.sleep(0.3); "
            "sys.stderr.write('boom\\n'); sys.exit(3)")
    with pytest.raises(WorkerError, match=r"exit status 3: boom$"):
        run_worker([sys.executable, "-c", code], os.environ, Feedback())
    with pytest.raises(WorkerError, match=f"could not start.*{bootstrap.PYTHON_ENV_VAR}"):
        run_worker(["/nonexistent/python"], os.environ, Feedback())
