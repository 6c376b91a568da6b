"""The plugin's path set-up and "unet-gis is missing" message, without QGIS."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from unet_gis_qgis import bootstrap


@pytest.fixture
def saved_path() -> Iterator[None]:
    before = list(sys.path)
    modules = set(sys.modules)
    yield
    sys.path[:] = before
    for name in set(sys.modules) - modules:
        if name.startswith("probe_"):
            del sys.modules[name]


def test_paths_come_from_the_variable_then_the_setting_without_repeats() -> None:
    environ = {bootstrap.ENV_VAR: f" /a {os.pathsep}/b{os.pathsep}{os.pathsep}"}
    assert bootstrap.configured_paths(environ, f"/b{os.pathsep}/c") == ["/a", "/b", "/c"]
    assert bootstrap.configured_paths({}, None) == []


def test_site_dirs_go_first_and_their_pth_files_count(tmp_path: Path,
                                                       saved_path: None) -> None:
    site = tmp_path / "site-packages"
    (site / "probe_direct").mkdir(parents=True)
    (site / "probe_direct" / "__init__.py").write_text("")
    extra = tmp_path / "editable"
    (extra / "probe_editable").mkdir(parents=True)
    (extra / "probe_editable" / "__init__.py").write_text("")
    (site / "project.pth").write_text(f"{extra}\n")
    missing = bootstrap.add_site_dirs([str(site), str(tmp_path / "nowhere")])
    assert missing == [str(tmp_path / "nowhere")]
    assert sys.path[:2] == [str(site), str(extra)]
    import probe_direct
    import probe_editable

    assert Path(probe_direct.__file__).parent.parent == site
    assert Path(probe_editable.__file__).parent.parent == extra


def test_unet_gis_found_in_this_python_needs_no_paths() -> None:
    assert bootstrap.ensure_unet_gis({bootstrap.ENV_VAR: "/does/not/matter"}) is None


def test_the_missing_message_is_one_line_with_the_command(tmp_path: Path) -> None:
    message = bootstrap.missing_message(ModuleNotFoundError("No module named 'unet_gis'"),
                                        [str(tmp_path), "/gone"], ["/gone"])
    assert "\n" not in message
    assert "-m pip install unet-gis" in message and bootstrap.ENV_VAR in message
    assert "/gone does not exist" in message and bootstrap.DOCS in message
    bare = bootstrap.missing_message(ModuleNotFoundError("x"), [], [])
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    assert f"not installed in QGIS's Python {version}" in bare


def test_no_numpy_warning_when_numpy_comes_from_the_named_environment() -> None:
    import numpy

    site = str(Path(numpy.__file__).parents[1])
    assert bootstrap.numpy_clash([site]) is None
    assert bootstrap.numpy_clash([]) is None


def test_a_numpy_loaded_from_elsewhere_is_named(tmp_path: Path) -> None:
    (tmp_path / "numpy").mkdir()
    warning = bootstrap.numpy_clash([str(tmp_path)])
    assert warning is not None and "numpy" in warning and "\n" not in warning


def fake_environment(root: Path, windows: bool = False) -> tuple[Path, Path]:
    """A venv's layout: (its site-packages, its interpreter)."""
    if windows:
        site_dir, python = root / "Lib" / "site-packages", root / "Scripts" / "python.exe"
    else:
        site_dir, python = (root / "lib" / "python3.11" / "site-packages",
                            root / "bin" / "python3.11")
    site_dir.mkdir(parents=True)
    python.parent.mkdir(parents=True)
    python.write_text("")
    return site_dir, python


@pytest.mark.parametrize("windows", [False, True])
def test_the_worker_python_is_the_named_environment_s(tmp_path: Path, windows: bool) -> None:
    site_dir, python = fake_environment(tmp_path / "env", windows)
    assert bootstrap.environment_python(str(site_dir)) == str(python)
    assert bootstrap.environment_python(str(tmp_path)) is None  # not a site-packages
    paths = [str(tmp_path / "checkout"), str(site_dir)]
    assert bootstrap.worker_python({}, None, paths) == str(python)


def test_unet_gis_python_then_its_setting_win_and_qgis_python_is_the_last_resort(
        tmp_path: Path) -> None:
    site_dir, _ = fake_environment(tmp_path / "env")
    paths = [str(site_dir)]
    environ = {bootstrap.PYTHON_ENV_VAR: "/opt/py/bin/python"}
    assert bootstrap.worker_python(environ, "/set/python", paths) == "/opt/py/bin/python"
    assert bootstrap.worker_python({}, "/set/python", paths) == "/set/python"
    assert bootstrap.worker_python({}, "", []) == bootstrap.qgis_python()


def test_another_interpreter_does_not_inherit_qgis_s_python_and_gdal_variables() -> None:
    environ = {"PYTHONHOME": "/qgis", "PYTHONPATH": "/qgis/lib", "GDAL_DRIVER_PATH": "/p",
               "PROJ_LIB": "/qgis/proj", "HOME": "/home/me"}
    other = bootstrap.worker_environment(environ, "/opt/env/bin/python")
    assert other["HOME"] == "/home/me" and other["PYTHONUNBUFFERED"] == "1"
    assert not set(other) & {"PYTHONHOME", "PYTHONPATH", "GDAL_DRIVER_PATH", "PROJ_LIB"}
    same = bootstrap.worker_environment(environ, bootstrap.qgis_python())
    assert same["PYTHONPATH"] == "/qgis/lib" and "GDAL_DRIVER_PATH" not in same


def test_the_worker_command_adds_the_folders_then_runs_the_request(tmp_path: Path) -> None:
    import json
    import subprocess

    folder = tmp_path / "site"
    folder.mkdir()
    (folder / "extra.pth").write_text(str(tmp_path / "from_pth") + "\n")
    (tmp_path / "from_pth").mkdir()
    command = bootstrap.worker_command(sys.executable, [str(folder)], "{}")
    assert command[-2:] == ["--watch-stdin", "{}"]
    # the start-up code without its last two lines: only the path set-up
    probe = bootstrap.WORKER_START.rsplit("from unet_gis", 1)[0] + "print(sys.path[:2])"
    done = subprocess.run([sys.executable, "-c", probe, str(folder)], capture_output=True,
                          text=True, check=True, timeout=60)
    assert json.loads(done.stdout.replace("'", '"')) == [str(folder), str(tmp_path / "from_pth")]
