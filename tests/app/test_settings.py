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
    from unet_gis.app.main_window import MainWindow

    first = MainWindow(paths=app_paths)  # type: ignore[arg-type]
    first.settings.device = "cpu"
    first.settings.thresholds["vehicle"] = 0.7
    first.close()
    second = MainWindow(paths=app_paths)  # type: ignore[arg-type]
    assert second.settings.device == "cpu"
    assert second.settings.thresholds == {"vehicle": 0.7}
    second.close()
