"""Fast checks of the desktop integration files, the icon set and the bundle's runtime
hook (the wheel and the bundle themselves are built elsewhere)."""

from __future__ import annotations

import configparser
import os
import re
import runpy
import shutil
import struct
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import unet_gis
from unet_gis.resources import ICON_NAME, ICON_SIZES, icon_path, is_resource, sample_scene

ROOT = Path(__file__).resolve().parents[2]
LINUX = ROOT / "packaging" / "linux"
DESKTOP = LINUX / "unet-gis.desktop"
METAINFO = LINUX / "io.github.unet_gis.metainfo.xml"


def pyproject_field(name: str) -> str:
    """A top-level string of [project] (tomllib is 3.11+, and 3.10 is supported)."""
    text = (ROOT / "pyproject.toml").read_text()
    project = text.split("\n[project]\n", 1)[1].split("\n[", 1)[0]
    match = re.search(rf'^{name}\s*=\s*(?:{{\s*text\s*=\s*)?"([^"]+)"', project, re.M)
    assert match, f"no {name} in [project]"
    return match.group(1)


def png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    width, height = struct.unpack(">II", header[16:24])
    return width, height


def test_icon_set_is_complete() -> None:
    svg = ET.parse(icon_path())
    assert svg.getroot().tag == "{http://www.w3.org/2000/svg}svg"
    assert svg.getroot().get("viewBox") == "0 0 256 256"
    for size in ICON_SIZES:
        assert png_size(icon_path(size)) == (size, size)


def test_icon_path_picks_the_smallest_png_at_least_as_large() -> None:
    assert icon_path().name == f"{ICON_NAME}.svg"
    assert icon_path(16).name == f"{ICON_NAME}-16.png"
    assert icon_path(20).name == f"{ICON_NAME}-32.png"
    assert icon_path(4096).name == f"{ICON_NAME}-512.png"
    with pytest.raises(ValueError):
        icon_path(0)


def test_is_resource(tmp_path: Path) -> None:
    assert is_resource(sample_scene())
    assert is_resource(icon_path(32))
    assert not is_resource(tmp_path / "scene.tif")


def test_version_has_one_source() -> None:
    assert unet_gis.__version__ == pyproject_field("version")


def test_desktop_entry() -> None:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(DESKTOP, encoding="utf-8")
    entry = parser["Desktop Entry"]
    assert entry["Type"] == "Application"
    assert entry["Icon"] == ICON_NAME
    assert entry["Exec"].split()[:2] == ["unet-gis", "gui"]
    assert entry["Terminal"] == "false"
    for key in ("Categories", "Keywords", "MimeType"):
        assert entry[key].endswith(";"), key
    if shutil.which("desktop-file-validate"):
        subprocess.run(["desktop-file-validate", str(DESKTOP)], check=True)


def test_appstream_metainfo() -> None:
    root = ET.parse(METAINFO).getroot()
    assert root.tag == "component" and root.get("type") == "desktop-application"
    assert root.findtext("id") == METAINFO.name.removesuffix(".metainfo.xml")
    assert root.findtext("launchable") == DESKTOP.name
    assert root.findtext("icon") == ICON_NAME
    assert root.findtext("metadata_license") == "CC0-1.0"
    assert root.findtext("project_license") == pyproject_field("license")
    assert root.find("description/p") is not None


@pytest.mark.skipif(sys.platform == "win32", reason="a Linux desktop script")
def test_install_script_puts_launcher_and_icons_in_place(tmp_path: Path) -> None:
    exe = tmp_path / "opt" / "unet-gis"
    exe.parent.mkdir()
    exe.write_text("#!/bin/sh\n")
    exe.chmod(0o755)
    data = tmp_path / "data"
    env = {**os.environ, "HOME": str(tmp_path), "XDG_DATA_HOME": str(data)}
    script = LINUX / "install.sh"
    subprocess.run(["bash", str(script), "--exec", str(exe)], env=env, check=True,
                   capture_output=True)
    desktop = (data / "applications" / "unet-gis.desktop").read_text()
    assert f"\nExec={exe} gui %F\n" in desktop
    assert f"\nTryExec={exe}\n" in desktop
    assert (data / "metainfo" / METAINFO.name).is_file()
    assert (data / "icons/hicolor/scalable/apps/unet-gis.svg").is_file()
    for size in ICON_SIZES:
        icon = data / f"icons/hicolor/{size}x{size}/apps/unet-gis.png"
        assert png_size(icon) == (size, size)
    subprocess.run(["bash", str(script), "--uninstall"], env=env, check=True,
                   capture_output=True)
    assert not list(data.rglob("unet-gis*"))


def test_bundle_runtime_hook_drops_inherited_gis_data_paths(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Inside the bundle each library finds its own GDAL/PROJ data; a user's stale
    GDAL_DATA/PROJ_DATA must not override that."""
    for package in ("rasterio", "pyogrio"):
        (tmp_path / package / "gdal_data").mkdir(parents=True)
        (tmp_path / package / "gdal_data" / "gdalvrt.xsd").touch()
        (tmp_path / package / "proj_data").mkdir()
        (tmp_path / package / "proj_data" / "proj.db").touch()
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path), raising=False)
    # the hook edits os.environ: give it a copy, so nothing leaks into later tests
    env = {k: v for k, v in os.environ.items()
           if k not in {"PROJ_DATA", "UNET_GIS_KEEP_GEO_ENV"}
           and not k.startswith("UNET_GIS_INHERITED_")}
    env.update(GDAL_DATA="/old/gdal", PROJ_LIB="/old/proj")
    monkeypatch.setattr(os, "environ", env)
    hook = str(ROOT / "packaging" / "pyi_rth_unet_gis.py")
    runpy.run_path(hook)
    assert "GDAL_DATA" not in env and "PROJ_LIB" not in env and "PROJ_DATA" not in env
    assert env["UNET_GIS_INHERITED_GDAL_DATA"] == "/old/gdal"
    # without pyogrio's copy, both fall back to rasterio's
    shutil.rmtree(tmp_path / "pyogrio")
    runpy.run_path(hook)
    assert env["GDAL_DATA"] == str(tmp_path / "rasterio" / "gdal_data")
    assert env["PROJ_DATA"] == str(tmp_path / "rasterio" / "proj_data")
