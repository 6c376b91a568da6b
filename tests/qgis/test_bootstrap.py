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
