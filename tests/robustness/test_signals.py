"""SIGTERM, SIGKILL and argument errors end cleanly: one line, the right exit code, nothing
left behind, no stray process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from unet_gis.fileio import atomic_path, remove_stale_temporaries

from ..conftest import random_rgb, write_geotiff

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


def _as_from_a_terminal(block_ctrl_c: bool = False) -> None:
    """In the child before exec: Ctrl-C's default action, as for a foreground job (a
    shell starts background jobs, e.g. ``nohup … &``, with SIGINT ignored, and an ignored
    signal stays ignored across exec: pytest run that way would pass it on)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    if block_ctrl_c:
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})


def _start(args: list[str], cwd: Path, session: bool = False,
           block_ctrl_c: bool = False) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-m", "unet_gis", *args], cwd=cwd,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=session,
                            preexec_fn=lambda: _as_from_a_terminal(block_ctrl_c))


def _probability_raster(path: Path, side: int = 3000) -> Path:
    import rasterio

    from unet_gis.model.spec import default_spec
    from unet_gis.raster.probability import tag_probability_raster

    rng = np.random.default_rng(0)
    write_geotiff(path, (rng.random((2, side, side)) * 255).astype(np.uint8))
    with rasterio.open(path, "r+") as dst:
        tag_probability_raster(dst, default_spec(), None, False)
    return path


def _wait_for(predicate, timeout: float = 60.0) -> bool:  # type: ignore[no-untyped-def]
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def _signal_states(pid: int) -> dict[str, list[str]]:
    """Pending, blocked, ignored and caught signal masks of each thread of ``pid``."""
    keys = ("Name", "ShdPnd", "SigPnd", "SigBlk", "SigIgn", "SigCgt")
    states = {}
    for task in sorted(Path(f"/proc/{pid}/task").iterdir()):
        try:
            lines = (task / "status").read_text().splitlines()
        except OSError:
            continue
        states[task.name] = [line for line in lines if line.split(":")[0] in keys]
    return states


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


@pytest.fixture
def big_scene(tmp_path: Path) -> Path:
    return write_geotiff(tmp_path / "big.tif", random_rgb(1536, 1536, seed=3))


@pytest.mark.slow
def test_sigterm_on_predict_leaves_nothing_and_exits_143(tmp_path: Path, big_scene: Path,
                                                         tiny_checkpoint: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    process = _start(["predict", str(big_scene), "-o", str(out), "--model",
                      str(tiny_checkpoint), "--tile", "256", "--halo", "32", "--batch-size",
                      "1", "--device", "cpu"], tmp_path)
    assert _wait_for(lambda: any(out.iterdir())), "the run never started writing"
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 143, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines[-1] == "unet-gis: terminated; nothing was written."
    assert "Traceback" not in err
    assert list(out.iterdir()) == []


@pytest.mark.slow
def test_vectorize_workers_die_with_a_killed_parent(tmp_path: Path, make_geotiff) -> None:
    """SIGKILL leaves the staging folder (nothing can clean up), but not the workers; the
    next run removes the dead run's staging folder."""
    import rasterio

    from unet_gis.model.spec import default_spec
    from unet_gis.raster.probability import tag_probability_raster

    probabilities = tmp_path / "p.tif"
    rng = np.random.default_rng(0)
    data = (rng.random((2, 3000, 3000)) * 255).astype(np.uint8)
    write_geotiff(probabilities, data)
    with rasterio.open(probabilities, "r+") as dst:
        tag_probability_raster(dst, default_spec(), None, False)
    target = tmp_path / "layers.gpkg"
    process = _start(["vectorize", str(probabilities), "-o", str(target), "--workers", "2"],
                     tmp_path)
    assert _wait_for(lambda: len(_children(process.pid)) >= 2, 60), "no workers started"
    workers = _children(process.pid)
    time.sleep(1.0)
    process.kill()
    process.communicate(timeout=30)

    def gone() -> bool:
        return not any(Path(f"/proc/{pid}").exists() and
                       "zombie" not in Path(f"/proc/{pid}/status").read_text().lower()
                       for pid in workers)
    assert _wait_for(gone, 10), "workers outlived their killed parent"
    leftovers = list(tmp_path.glob(".layers.pid*"))
    assert leftovers, "SIGKILL cannot clean up: the staging folder stays until the next run"
    assert remove_stale_temporaries(target) == len(leftovers)
    assert not list(tmp_path.glob(".layers.pid*"))


@pytest.mark.slow
def test_ctrl_c_on_vectorize_with_workers_is_one_line(tmp_path: Path) -> None:
    """Ctrl-C reaches the whole process group (parent and workers), as in a terminal."""
    probabilities = _probability_raster(tmp_path / "p.tif")
    process = _start(["vectorize", str(probabilities), "-o", str(tmp_path / "v.gpkg"),
                      "--workers", "2"], tmp_path, session=True)
    assert _wait_for(lambda: len(_children(process.pid)) >= 2, 60), "no workers started"
    workers = _children(process.pid)
    time.sleep(0.2)  # the workers are still importing: they must not print either
    os.killpg(process.pid, signal.SIGINT)
    try:
        _, err = process.communicate(timeout=60)
    except subprocess.TimeoutExpired:  # say where the signal went before failing
        states = _signal_states(process.pid)
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate(timeout=30)
        pytest.fail(f"Ctrl-C ignored; signal masks by thread: {states}")
    lines = [line for line in err.splitlines() if line.strip()]
    assert process.returncode == 130
    assert lines == ["unet-gis: interrupted; nothing was written."], err
    assert not list(tmp_path.glob(".v.*")) and not (tmp_path / "v.gpkg").exists()
    assert _wait_for(lambda: not any(Path(f"/proc/{p}").exists() for p in workers), 10)


def test_a_live_runs_temporaries_are_left_alone(tmp_path: Path) -> None:
    target = tmp_path / "x.tif"
    with atomic_path(target) as tmp:
        tmp.write_bytes(b"in progress")
        assert remove_stale_temporaries(target) == 0 and tmp.exists()
    assert target.read_bytes() == b"in progress"


@pytest.mark.parametrize("args, fragment", [
    (["predict", "x.tif", "-o", ".", "--batch-size", "two"], "expected a number"),
    (["vectorize"], "required"),
    (["predict", "x.tif", "-o", ".", "--precision", "int4"], "invalid choice"),
])
def test_argument_errors_are_one_line(capsys, args: list[str], fragment: str) -> None:
    from unet_gis.cli.main import main

    with pytest.raises(SystemExit) as exit_info:
        main(args)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("unet-gis: error: ") and fragment in err[0]
    assert "--help" in err[0]



@pytest.mark.slow
def test_ctrl_c_works_when_started_with_it_blocked(tmp_path: Path) -> None:
    """A launcher may start us with SIGINT blocked (a mask is inherited across exec):
    Ctrl-C must still end the run with one line."""
    probabilities = _probability_raster(tmp_path / "p.tif")
    process = _start(["vectorize", str(probabilities), "-o", str(tmp_path / "v.gpkg")],
                     tmp_path, session=True, block_ctrl_c=True)
    assert process.stderr is not None
    first = process.stderr.readline()  # the first progress line: the run has begun
    assert "p.tif" in first, first
    os.killpg(process.pid, signal.SIGINT)
    try:
        _, err = process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate(timeout=30)
        pytest.fail("Ctrl-C ignored when started with SIGINT blocked")
    assert process.returncode == 130
    assert err.strip().splitlines()[-1] == "unet-gis: interrupted; nothing was written."
