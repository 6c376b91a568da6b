"""Launching on a fresh Linux desktop: a missing libxcb-cursor0 is named before Qt aborts."""

from __future__ import annotations

import pytest

from unet_gis.app import application

X11 = {"DISPLAY": ":0"}


@pytest.fixture
def no_xcb_cursor(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(application, "_xcb_cursor_found", lambda: False)


@pytest.mark.usefixtures("no_xcb_cursor")
def test_missing_xcb_cursor_names_the_package() -> None:
    for env in (X11, {**X11, "QT_QPA_PLATFORM": "xcb"},
                {**X11, "WAYLAND_DISPLAY": "wayland-0", "QT_QPA_PLATFORM": "xcb"}):
        line = application.missing_platform_library(env, "linux")
        assert line is not None and "\n" not in line
        assert "libxcb-cursor0" in line and "xcb-util-cursor" in line
        assert "QT_QPA_PLATFORM=offscreen" in line


@pytest.mark.usefixtures("no_xcb_cursor")
def test_no_check_where_qt_does_not_load_xcb() -> None:
    for env, platform in (({**X11, "QT_QPA_PLATFORM": "offscreen"}, "linux"),
                          ({**X11, "WAYLAND_DISPLAY": "wayland-0"}, "linux"),
                          ({**X11, "QT_QPA_PLATFORM": "wayland"}, "linux"),
                          ({}, "linux"),  # no display: Qt says so itself
                          (X11, "darwin"), (X11, "win32")):
        assert application.missing_platform_library(env, platform) is None


def test_found_library_passes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(application, "_xcb_cursor_found", lambda: True)
    assert application.missing_platform_library(X11, "linux") is None


@pytest.mark.usefixtures("no_xcb_cursor")
def test_run_exits_1_before_creating_the_application(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(application.sys, "platform", "linux")
    monkeypatch.setenv("DISPLAY", ":0")
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)

    def no_app(*_args: object) -> None:
        raise AssertionError("the QApplication must not be created")
    monkeypatch.setattr(application, "make_application", no_app)
    assert application.run([]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "libxcb-cursor0" in err


def test_the_real_finder_runs() -> None:
    assert isinstance(application._xcb_cursor_found(), bool)
