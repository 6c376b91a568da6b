"""Ship the top-level ``resources/`` folder inside the wheel as ``unet_gis/resources``.

Everything else about the package is declared in ``pyproject.toml``. ``resources/`` sits
outside the package so the models, the sample and the icons are easy to find and
replace in a checkout; a built wheel (and a regular ``pip install .``) carries a copy
where ``importlib.resources.files("unet_gis")`` finds it. Editable installs copy nothing:
``unet_gis.resources.resource_root()`` falls back to the source tree's folder.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
RESOURCES = HERE / "resources"


def resource_files() -> list[Path]:
    """``resources/<kind>/<file>``: one level only, so run outputs the app or a developer
    left in a subfolder (``samples/<scene>_unet_gis/``) and hidden files never ship."""
    return sorted(path for path in RESOURCES.glob("*/*")
                  if path.is_file() and not any(part.startswith(".")
                                                for part in path.relative_to(RESOURCES).parts))


class BuildPyWithResources(build_py):
    """``build_py`` that also copies ``resources/`` to ``<build_lib>/unet_gis/resources``."""

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        target = Path(self.build_lib) / "unet_gis" / "resources"
        for source in resource_files():
            destination = target / source.relative_to(RESOURCES)
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, destination)


setup(cmdclass={"build_py": BuildPyWithResources})
