"""Settings: typed schema round trip, damaged values fall back to defaults."""

from __future__ import annotations

from pathlib import Path

from unet_gis.app.settings import AppSettings, SettingsStore


def test_settings_round_trip(tmp_path: Path) -> None:
    store = SettingsStore(tmp_path / "settings.ini")
    settings = AppSettings(device="cpu", thresholds={"road": 0.3}, simplify_m=1.5)
    for i in range(15):
        settings.add_recent(f"/data/{i}.tif")
    store.save(settings)
    loaded = SettingsStore(tmp_path / "settings.ini").load()
    assert loaded == settings
    assert loaded.recent_files[0] == "/data/14.tif" and len(loaded.recent_files) == 10


def test_damaged_settings_fall_back_to_defaults(tmp_path: Path) -> None:
    path = tmp_path / "settings.ini"
    store = SettingsStore(path)
    store.qsettings.setValue("app/device", '"quantum"')
    store.qsettings.setValue("app/simplify_m", "not json")
    store.qsettings.setValue("app/centerlines", '"yes"')
    store.qsettings.setValue("app/thresholds", '{"road": 7}')
    store.qsettings.sync()
    loaded = SettingsStore(path).load()
    assert loaded.device == "auto"
    assert loaded.simplify_m == AppSettings().simplify_m
    assert loaded.centerlines is True
    assert loaded.thresholds == {"road": 1.0}


def test_window_remembers_settings_between_launches(qtbot: object, app_paths: object,
                                                    boxes: object) -> None:
    from dataclasses import replace

    from unet_gis.app.main_window import MainWindow

    first = MainWindow(paths=app_paths)  # type: ignore[arg-type]
    # chosen in Preferences (a device chosen for a run is kept once the run worked)
    first.apply_settings(replace(first.settings, device="cpu"))
    first.settings.thresholds["vehicle"] = 0.7
    first.close()
    second = MainWindow(paths=app_paths)  # type: ignore[arg-type]
    assert second.settings.device == "cpu"
    assert second.settings.thresholds == {"vehicle": 0.7}
    second.close()


def test_preferences_dialog_is_built_from_the_schema(qtbot: object, app_paths: object,
                                                     boxes: object) -> None:
    from PySide6.QtWidgets import QCheckBox, QComboBox, QDoubleSpinBox

    from unet_gis.app.dialogs.preferences import PreferencesDialog
    from unet_gis.app.main_window import MainWindow
    from unet_gis.app.settings import SettingsStore

    window = MainWindow(paths=app_paths)  # type: ignore[arg-type]
    window.settings.add_recent("/data/a.tif")
    window.settings.thresholds["road"] = 0.2
    dialog = PreferencesDialog(window.settings, window)
    assert set(dialog.editors) == {"device", "model_path", "export_format", "centerlines",
                                   "simplify_m", "min_area_m2"}
    device = dialog.editors["device"]
    assert isinstance(device, QComboBox)
    device.setCurrentText("cpu")
    simplify = dialog.editors["simplify_m"]
    assert isinstance(simplify, QDoubleSpinBox)
    simplify.setValue(1.25)
    centerlines = dialog.editors["centerlines"]
    assert isinstance(centerlines, QCheckBox)
    centerlines.setChecked(False)
    dialog.clear_recent.setChecked(True)
    window.apply_settings(dialog.result_settings())
    assert window.runs.threshold_for("road", 0.5) == 0.2  # new runs see the user's value
    assert window.runs.threshold_for("vehicle", 0.5) == 0.5
    loaded = SettingsStore(app_paths.settings_file).load()  # type: ignore[attr-defined]
    assert (loaded.device, loaded.simplify_m, loaded.centerlines) == ("cpu", 1.25, False)
    assert loaded.recent_files == [] and loaded.thresholds == {"road": 0.2}
    assert not window.recent_menu.isEnabled()
    window.close()
