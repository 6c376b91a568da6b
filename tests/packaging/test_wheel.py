"""Build the sdist and wheel, install the wheel into a fresh virtual environment and run
the ``unet-gis`` command from outside the source tree, the way a pipx user would.

This is the only test that proves ``resources/`` (sample, models, icons) travels inside
the wheel: everything else runs against the editable install, which reads the source
tree. Slow (about 1.5 minutes with a warm pip cache, most of it installing torch), so it
builds and installs once per module.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio

from unet_gis.model.zoo import DEFAULT_MODEL_NAME
from unet_gis.resources import ICON_NAME, ICON_SIZES

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = "spacenet_vegas_img0.tif"
# torch first and pinned: an unpinned torch would pull a multi-GB CUDA build
TORCH = "torch==2.13.0"
INSTALL_TIMEOUT = 1200


def run(cmd: list[str | Path], cwd: Path, timeout: float = 600,
        env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True,
                            text=True, timeout=timeout, check=False)
    assert result.returncode == 0, (
        f"{' '.join(map(str, cmd))} exited {result.returncode}\n"
        f"--- stdout\n{result.stdout[-4000:]}\n--- stderr\n{result.stderr[-4000:]}")
    return result


def clean_env(workdir: Path) -> dict[str, str]:
    """The user's environment without anything that points back at the source tree."""
    env = {k: v for k, v in os.environ.items()
           if k not in {"PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME", "PYTHONSAFEPATH"}}
    env["QT_QPA_PLATFORM"] = "offscreen"
    env["HOME"] = env.get("HOME", str(workdir))
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


def write_constraints(path: Path, wheel: Path) -> Path:
    """Pin the fresh environment to the versions this suite runs with: the test checks
    the wheel (its files, data and declared dependencies), not the newest releases of
    its dependencies, and pip then reuses wheels it already has. A version the wheel's
    own requirements exclude (a stale development environment) is left unpinned."""
    from importlib.metadata import distributions

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    with zipfile.ZipFile(wheel) as archive:
        metadata = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        lines = archive.read(metadata).decode().splitlines()
    specifiers: dict[str, list[Any]] = {}
    for line in lines:
        if line.startswith("Requires-Dist:"):
            requirement = Requirement(line.split(":", 1)[1].strip())
            specifiers.setdefault(canonicalize_name(requirement.name), []).append(
                requirement.specifier)
    pins = set()
    for dist in distributions():
        name = dist.metadata["Name"]
        if not name or canonicalize_name(name) == "unet-gis":
            continue
        if all(spec.contains(dist.version, prereleases=True)
               for spec in specifiers.get(canonicalize_name(name), [])):
            pins.add(f"{name}=={dist.version}")
    path.write_text("\n".join(sorted(pins)) + "\n")
    return path


class Installed:
    def __init__(self, dist: Path, venv: Path, workdir: Path) -> None:
        self.dist = dist
        self.venv = venv
        self.workdir = workdir
        self.env = clean_env(workdir)
        self.bin = venv / ("Scripts" if os.name == "nt" else "bin")

    @property
    def wheel(self) -> Path:
        return next(self.dist.glob("unet_gis-*.whl"))

    @property
    def sdist(self) -> Path:
        return next(self.dist.glob("unet_gis-*.tar.gz"))

    def python(self, code: str) -> str:
        return run([self.bin / "python", "-c", code], self.workdir, env=self.env).stdout.strip()

    def cli(self, *args: str | Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        return run([self.bin / "unet-gis", *args], self.workdir, timeout=timeout, env=self.env)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    base = tmp_path_factory.mktemp("wheel")
    dist, venv, workdir = base / "dist", base / "venv", base / "work"
    workdir.mkdir()
    env = clean_env(workdir)
    # sdist first, then the wheel from the unpacked sdist (build's default): proves the
    # sdist carries everything, resources included
    run([sys.executable, "-m", "build", "--outdir", dist, ROOT], workdir,
        timeout=INSTALL_TIMEOUT, env=env)
    run([sys.executable, "-m", "venv", venv], workdir, env=env)
    installed = Installed(dist, venv, workdir)
    constraints = write_constraints(base / "constraints.txt", installed.wheel)
    pip = [installed.bin / "python", "-m", "pip", "install", "--quiet", "-c", constraints]
    run([*pip, TORCH], workdir, timeout=INSTALL_TIMEOUT, env=env)
    run([*pip, installed.wheel], workdir, timeout=INSTALL_TIMEOUT, env=env)
    return installed


def test_wheel_and_sdist_carry_resources(installed: Installed) -> None:
    with zipfile.ZipFile(installed.wheel) as wheel:
        names = set(wheel.namelist())
    assert f"unet_gis/resources/samples/{SAMPLE}" in names
    assert "unet_gis/resources/samples/ATTRIBUTION.md" in names
    assert "unet_gis/resources.py" in names  # the module stays importable beside the data
    assert f"unet_gis/resources/icons/{ICON_NAME}.svg" in names
    for size in ICON_SIZES:
        assert f"unet_gis/resources/icons/{ICON_NAME}-{size}.png" in names
    assert not any(n.startswith(("tests/", "packaging/", "resources/")) for n in names)
    assert not any("__pycache__" in n for n in names)
    # resources/<kind>/<file> only: run outputs left in subfolders never ship
    assert all(n.count("/") == 3 for n in names if n.startswith("unet_gis/resources/"))
    with tarfile.open(installed.sdist) as sdist:
        members = {m.name.split("/", 1)[1] for m in sdist.getmembers() if "/" in m.name}
    assert {f"resources/samples/{SAMPLE}", f"resources/icons/{ICON_NAME}.svg",
            "setup.py", "pyproject.toml"} <= members


def test_installed_package_finds_its_resources(installed: Installed) -> None:
    out = installed.python(
        "import unet_gis, unet_gis.resources as r; "
        "print(unet_gis.__file__); print(r.resource_root()); print(r.sample_scene().is_file()); "
        "print(r.icon_path().is_file()); print(r.icon_path(48).is_file())")
    module, root, *checks = out.splitlines()
    site = installed.venv.resolve()
    assert Path(module).resolve().is_relative_to(site), module
    assert Path(root).resolve().is_relative_to(site), root
    assert checks == ["True", "True", "True"]


def test_version_comes_from_metadata(installed: Installed) -> None:
    from unet_gis import __version__

    out = installed.cli("--version").stdout.strip()
    assert out == f"unet-gis {__version__}"
    assert "unknown" not in out


def test_info_and_predict_from_outside_the_source_tree(installed: Installed,
                                                       tmp_path: Path) -> None:
    sample = Path(installed.python(
        "from unet_gis.resources import sample_scene; print(sample_scene())"))
    assert not sample.resolve().is_relative_to(ROOT)
    bundled = installed.python(
        "from unet_gis.model.zoo import default_model_path as d; p = d(); "
        "print(p if p.is_file() else '')")

    info = installed.cli("info", sample).stdout
    assert "1300 x 1300 px" in info
    assert "EPSG:4326" in info

    checkpoint = tmp_path / "random.safetensors"
    installed.python(
        "import torch\n"
        "from unet_gis.model.checkpoint import save_checkpoint\n"
        "from unet_gis.model.spec import Architecture, default_spec\n"
        "from unet_gis.model.unet import build_unet\n"
        "torch.manual_seed(0)\n"
        "spec = default_spec(architecture=Architecture(8, 3, True), tile=256, halo=32)\n"
        "net = build_unet(len(spec.bands), len(spec.classes), spec.architecture).eval()\n"
        f"save_checkpoint({str(checkpoint)!r}, net, spec)\n")
    runs = [("random", ["--model", checkpoint])]
    if bundled:  # the trained model is committed separately and may not be there yet
        assert Path(bundled).name == DEFAULT_MODEL_NAME
        runs.append(("bundled", []))
    for name, model_args in runs:
        outdir = tmp_path / name
        outdir.mkdir()
        installed.cli("predict", sample, "-o", outdir, "--quiet", *model_args)
        output = outdir / f"{sample.stem}_probabilities.tif"
        with rasterio.open(output) as ds:
            assert ds.count == 2
            assert set(ds.dtypes) == {"uint8"}
            assert (ds.width, ds.height) == (1300, 1300)
            data = ds.read(1, masked=True)
        assert np.ma.count(data) > 0, f"{name}: every pixel is nodata"
