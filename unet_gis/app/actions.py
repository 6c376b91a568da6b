"""The window's menus and toolbar: one table of actions (text, slot, shortcut), built into
menus; the toolbar shows the common ones with an icon and their shortcut in the tooltip."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from PySide6.QtCore import QSize
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMenu, QToolBar

from unet_gis.app.dialogs.about import AboutDialog
from unet_gis.app.icons import icon

if TYPE_CHECKING:
    from unet_gis.app.main_window import MainWindow

MENUS = ("&File", "&View", "&Model", "&Help")
TOOLBAR = ("open", "-", "run", "cancel", "export", "-", "zoom_in", "zoom_out", "full_extent",
           "draw_area", "label")


def make_action(window: MainWindow, text: str, slot: Callable[[], object],
                shortcut: str | list[str] | None = None) -> QAction:
    action = QAction(text, window)
    if shortcut is not None:
        keys = shortcut if isinstance(shortcut, list) else [shortcut]
        action.setShortcuts([QKeySequence(k) for k in keys])
    action.triggered.connect(lambda _checked=False: slot())
    return action


@dataclass(frozen=True)
class Menus:
    actions: dict[str, QAction]  # by name; the toolbar reuses them
    menus: dict[str, QMenu]
    recent: QMenu


def build_menus(window: MainWindow) -> Menus:
    """The menu bar of ``window``."""
    bar = window.menuBar()
    menus = {name: bar.addMenu(name) for name in MENUS}
    canvas = window.canvas
    table: list[tuple[str, str, str, Callable[[], object], str | list[str] | None]] = [
        ("&File", "open", "&Open…", window.open_dialog, "Ctrl+O"),
        ("&File", "open_mosaic", "Open tiles as &mosaic…", window.open_mosaic_dialog,
         "Ctrl+Shift+O"),
        ("&File", "open_mosaic_folder", "Open a &folder of tiles as mosaic…",
         window.open_mosaic_folder_dialog, None),
        ("&File", "-", "", lambda: None, None),
        ("&File", "export", "&Export layers…", lambda: window.exports.open_dialog(), "Ctrl+E"),
        ("&File", "preferences", "&Preferences…", window.preferences, "Ctrl+,"),
        ("&File", "-", "", lambda: None, None),
        ("&File", "quit", "&Quit", window.close, "Ctrl+Q"),
        ("&View", "zoom_in", "Zoom &in", lambda: canvas.zoom(1.5), ["+", "=", "Ctrl++"]),
        ("&View", "zoom_out", "Zoom &out", lambda: canvas.zoom(1 / 1.5), ["-", "Ctrl+-"]),
        ("&View", "zoom_layer", "Zoom to &layer", window.zoom_to_layer, "Ctrl+L"),
        ("&View", "full_extent", "&Full extent", canvas.full_extent, "Ctrl+Shift+F"),
        ("&Model", "run", "&Run…", lambda: window.start_run(), "Ctrl+R"),
        ("&Model", "cancel", "&Cancel run", window.runs.cancel, "Esc"),
        ("&Model", "draw_area", "&Draw the run extent", lambda: None, "Ctrl+D"),
        ("&Model", "-", "", lambda: None, None),
        ("&Model", "label", "&Label the image", lambda: None, "Ctrl+Shift+L"),
        ("&Model", "finetune", "&Fine-tune on my labels…",
         lambda: window.finetuning.open_dialog(), None),
        ("&Help", "about", "&About unet-gis", lambda: AboutDialog(window).exec(), None),
        ("&Help", "log_folder", "Open &log folder", window.open_log_folder, None),
    ]
    actions: dict[str, QAction] = {}
    recent: QMenu | None = None
    for menu, name, text, slot, shortcut in table:
        if name == "-":
            menus[menu].addSeparator()
            continue
        actions[name] = action = make_action(window, text, slot, shortcut)
        menus[menu].addAction(action)
        if name == "open":
            recent = menus[menu].addMenu("Open &recent")
    assert recent is not None
    actions["cancel"].setEnabled(False)
    draw = actions["draw_area"]  # on until one extent is drawn, as Shift+drag draws one
    draw.setCheckable(True)
    draw.toggled.connect(canvas.set_draw_mode)
    canvas.drawModeChanged.connect(draw.setChecked)
    label = actions["label"]
    label.setCheckable(True)
    label.toggled.connect(window.labelling.set_active)
    window.labelling.toggled.append(label.setChecked)
    return Menus(actions, menus, recent)


def tooltip(action: QAction) -> str:
    """``Zoom in (+)``: the action's text without accelerators, and its first shortcut."""
    text = action.text().replace("&", "").rstrip("…").rstrip(".")
    keys = action.shortcuts()
    if keys:
        text += f" ({keys[0].toString(QKeySequence.SequenceFormat.NativeText)})"
    return text


def build_toolbar(window: MainWindow, actions: dict[str, QAction]) -> QToolBar:
    toolbar = QToolBar("Tools", window)
    toolbar.setObjectName("tools")  # saveState() needs the name
    toolbar.setIconSize(QSize(22, 22))
    for name in TOOLBAR:
        if name == "-":
            toolbar.addSeparator()
            continue
        action = actions[name]
        action.setIcon(icon(name, window))
        action.setToolTip(tooltip(action))
        toolbar.addAction(action)
    window.addToolBar(toolbar)
    return toolbar
