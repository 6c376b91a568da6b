"""``make qgis-plugin``'s zip: one plugin folder QGIS can install, nothing stray in it."""

from __future__ import annotations

import configparser
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / "packaging" / "qgis" / "build.py"
#: What QGIS's plugin manager reads from metadata.txt (the plugin repository requires more).
REQUIRED = ("name", "qgisMinimumVersion", "description", "about", "version", "author")


def build(tmp_path: Path) -> Path:
    target = tmp_path / "dist" / "unet_gis_qgis.zip"
    result = subprocess.run([sys.executable, str(BUILD), str(target)], capture_output=True,
                            text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"wrote {target}"
    return target


def test_the_zip_holds_the_plugin_folder_with_its_icon_and_metadata(tmp_path: Path) -> None:
    with zipfile.ZipFile(build(tmp_path)) as archive:
        names = archive.namelist()
        metadata = archive.read("unet_gis_qgis/metadata.txt").decode()
        icon = archive.read("unet_gis_qgis/icon.png")
    assert {n.split("/")[0] for n in names} == {"unet_gis_qgis"}
    for part in ("__init__.py", "plugin.py", "provider.py", "bootstrap.py",
                 "algorithms/segment.py", "algorithms/vectorize.py",
                 "algorithms/segment_vectorize.py"):
        assert f"unet_gis_qgis/{part}" in names
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    assert icon.startswith(b"\x89PNG") and icon == (
        ROOT / "resources" / "icons" / "unet-gis-64.png").read_bytes()
    parser = configparser.ConfigParser()
    parser.read_string(metadata)
    general = parser["general"]
    assert all(general.get(key) for key in REQUIRED)
    assert general["hasProcessingProvider"] == "yes" and general["icon"] == "icon.png"
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert f'version = "{general["version"]}"' in pyproject


def test_the_same_sources_give_the_same_zip(tmp_path: Path) -> None:
    first = build(tmp_path / "a").read_bytes()
    assert build(tmp_path / "b").read_bytes() == first
