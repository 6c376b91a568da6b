"""A disk that fills up during a run: one line that says so, and nothing left on it.

Needs a small filesystem to fill: a tmpfs mounted in a private user and mount namespace
(``unshare -rm``), so no root and nothing outside the test is touched.  Skipped where the
kernel does not allow unprivileged namespaces.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ..conftest import random_rgb, write_geotiff


def _namespaces_work(folder: Path) -> bool:
    if sys.platform != "linux" or shutil.which("unshare") is None:
        return False
    probe = subprocess.run(["unshare", "-rm", "sh", "-c",
                            f"mount -t tmpfs -o size=1m tmpfs '{folder}'"],
                           capture_output=True, check=False)
    return probe.returncode == 0


@pytest.mark.slow
def test_predict_onto_a_full_disk_is_one_line_and_leaves_nothing(
        tmp_path: Path, tiny_checkpoint: Path) -> None:
    small = tmp_path / "small"
    small.mkdir()
    if not _namespaces_work(small):
        pytest.skip("unprivileged user/mount namespaces (unshare -rm) are not available")
    scene = write_geotiff(tmp_path / "scene.tif", random_rgb(1536, 1536, seed=4))
    predict = [sys.executable, "-m", "unet_gis", "predict", str(scene), "-o", str(small),
               "--model", str(tiny_checkpoint), "--device", "cpu"]
    # 1536² x 2 noisy probability bands do not fit in 256 kB; list what is left while the
    # tmpfs still exists (it vanishes with the namespace)
    script = (f"mount -t tmpfs -o size=256k tmpfs '{small}' && "
              f"{' '.join(predict)}; code=$?; ls -A '{small}' >&2; exit $code")
    run = subprocess.run(["unshare", "-rm", "sh", "-c", script], capture_output=True,
                         text=True, check=False, timeout=300)
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert run.returncode == 1, run.stderr
    assert "Traceback" not in run.stderr
    # the error is the last line (nothing was listed after it: the folder is empty), and
    # the only one apart from the progress bar
    assert lines[-1].startswith("unet-gis: error: the disk holding"), run.stderr
    assert "is full" in lines[-1]
    assert "needed up to about 6 MB" in lines[-1]  # 1536² x 2 bands + overviews
    assert [line for line in lines[:-1] if not line.startswith("scene.tif [")] == []
