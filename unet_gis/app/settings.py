"""One typed settings schema, saved with QSettings (an INI file in the user's config folder).

:class:`AppSettings` is a plain dataclass: its fields and defaults are the schema; each
value is stored as JSON under its field name and checked against the default's type on
load, so a damaged or outdated settings file falls back to defaults instead of crashing.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from PySide6.QtCore import QByteArray, QSettings, QStandardPaths

from unet_gis.inference.choices import DEVICE_CHOICES as DEVICES
from unet_gis.vector.options import OUTPUT_FORMATS

log = logging.getLogger(__name__)
MAX_RECENT = 10


@dataclass
class AppSettings:
    """Fields with a ``label`` in their metadata appear in the Preferences dialog."""

    last_open_dir: str = ""
    last_export_dir: str = ""
    recent_files: list[str] = field(default_factory=list)
    device: str = field(default="auto", metadata={
        "label": "Device", "choices": DEVICES,
        "help": "where the model runs: auto tries CUDA, then Apple MPS, then the CPU"})
    model_path: str = field(default="", metadata={
        "label": "Model", "path": "*.safetensors",
        "help": "a .safetensors checkpoint; empty for the bundled model"})
    thresholds: dict[str, float] = field(default_factory=dict)
    export_format: str = field(default="shp", metadata={
        "label": "Export format", "choices": tuple(OUTPUT_FORMATS)})
    centerlines: bool = field(default=True, metadata={"label": "Export road centerlines"})
    simplify_m: float = field(default=0.3, metadata={
        "label": "Simplify tolerance (m)", "range": (0.0, 100.0)})
    min_area_m2: float = field(default=2.0, metadata={
        "label": "Minimum area (m²)", "range": (0.0, 1e6)})

    def add_recent(self, path: str) -> None:
        self.recent_files = [path, *(p for p in self.recent_files if p != path)][:MAX_RECENT]

    def validate(self) -> None:
        for item in fields(self):
            choices = item.metadata.get("choices")
            if choices and getattr(self, item.name) not in choices:
                setattr(self, item.name, item.default)
        self.thresholds = {str(k): min(1.0, max(0.0, float(v)))
                           for k, v in self.thresholds.items()
                           if isinstance(v, int | float)}


@dataclass(frozen=True)
class AppPaths:
    """Where the app keeps its settings file, logs and fallback results."""

    settings_file: Path
    data_dir: Path

    @property
    def log_dir(self) -> Path:
        return self.data_dir / "logs"

    @classmethod
    def default(cls) -> AppPaths:
        home = os.environ.get("UNET_GIS_HOME")
        if home:
            return cls(Path(home) / "settings.ini", Path(home) / "data")
        config = QStandardPaths.writableLocation(
            QStandardPaths.StandardLocation.AppConfigLocation)
        data = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation)
        return cls(Path(config or Path.home() / ".config" / "unet-gis") / "settings.ini",
                   Path(data or Path.home() / ".local" / "share" / "unet-gis"))


class SettingsStore:
    """Loads and saves :class:`AppSettings` and the window layout."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.qsettings = QSettings(str(path), QSettings.Format.IniFormat)

    def load(self) -> AppSettings:
        settings = AppSettings()
        for item in fields(AppSettings):
            raw = self.qsettings.value(f"app/{item.name}")
            if raw is None:
                continue
            try:
                value = json.loads(str(raw))
            except ValueError:
                log.warning("ignoring unreadable setting %s=%r", item.name, raw)
                continue
            default = getattr(settings, item.name)
            if isinstance(default, float) and isinstance(value, int) and \
                    not isinstance(value, bool):
                value = float(value)
            if type(value) is not type(default):
                log.warning("ignoring setting %s of the wrong type", item.name)
                continue
            setattr(settings, item.name, value)
        try:
            settings.validate()
        except (TypeError, ValueError):
            return AppSettings()
        return settings

    def save(self, settings: AppSettings) -> None:
        for name, value in asdict(settings).items():
            self.qsettings.setValue(f"app/{name}", json.dumps(value))
        self.qsettings.sync()

    def save_layout(self, geometry: QByteArray, state: QByteArray) -> None:
        self.qsettings.setValue("window/geometry", geometry)
        self.qsettings.setValue("window/state", state)
        self.qsettings.sync()

    def layout(self) -> tuple[Any, Any]:
        return self.qsettings.value("window/geometry"), self.qsettings.value("window/state")
