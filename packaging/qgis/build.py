"""Zip the QGIS plugin: ``python3 packaging/qgis/build.py [dist/unet_gis_qgis.zip]``.

The zip holds one folder, ``unet_gis_qgis/``, as QGIS's "Install from ZIP" expects: the
plugin's sources, ``icon.png`` (the app icon from ``resources/icons``) and
``metadata.txt`` with the package's version from ``pyproject.toml``.  Standard library
only, so ``make qgis-plugin`` needs no environment.  Entries are sorted and dated
2000-01-01, so the same sources give the same bytes.
"""

from __future__ import annotations

import re
import sys
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
PLUGIN = HERE / "unet_gis_qgis"
ICON = ROOT / "resources" / "icons" / "unet-gis-64.png"
DEFAULT_OUTPUT = ROOT / "dist" / "unet_gis_qgis.zip"
STAMP = (2000, 1, 1, 0, 0, 0)


def project_version(pyproject: Path = ROOT / "pyproject.toml") -> str:
    match = re.search(r'^\[project\][^\[]*?^version\s*=\s*"([^"]+)"', pyproject.read_text(),
                      re.MULTILINE | re.DOTALL)
    if not match:
        raise SystemExit(f"no [project] version in {pyproject}")
    return match.group(1)


def plugin_files() -> list[Path]:
    return sorted(p for p in PLUGIN.rglob("*") if p.is_file() and "__pycache__" not in p.parts
                  and p.suffix not in (".pyc", ".pyo") and not p.name.startswith("."))


def _add(archive: zipfile.ZipFile, name: str, data: bytes) -> None:
    info = zipfile.ZipInfo(name, STAMP)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    archive.writestr(info, data)


def build(output: Path = DEFAULT_OUTPUT) -> Path:
    version = project_version()
    output.parent.mkdir(parents=True, exist_ok=True)
    entries: dict[str, bytes] = {}
    for path in plugin_files():
        data = path.read_bytes()
        if path.name == "metadata.txt":
            data = re.sub(rb"(?m)^version=.*$", f"version={version}".encode(), data)
        entries[f"{PLUGIN.name}/{path.relative_to(PLUGIN).as_posix()}"] = data
    entries[f"{PLUGIN.name}/icon.png"] = ICON.read_bytes()
    partial = output.with_name(output.name + ".partial")
    with zipfile.ZipFile(partial, "w") as archive:
        for name in sorted(entries):
            _add(archive, name, entries[name])
    partial.replace(output)
    return output


if __name__ == "__main__":
    target = build(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_OUTPUT)
    sys.stdout.write(f"wrote {target}\n")
