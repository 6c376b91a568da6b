"""The Run dialog: image, model (bundled or a .safetensors file), device, extent, advanced."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from unet_gis.app.layers.model import ImageLayer
from unet_gis.app.modelinfo import describe
from unet_gis.errors import UserError
from unet_gis.inference.choices import PRECISION_CHOICES, TTA_HELP
from unet_gis.model.metadata import load_spec

DEVICE_LABELS = {"auto": "Automatic (CUDA, then MPS, then CPU)", "cpu": "CPU",
                 "cuda": "CUDA (NVIDIA GPU)", "mps": "MPS (Apple GPU)"}
_PRECISION_TEXT = {"auto": "Automatic (bf16 where the CPU or GPU runs it natively)",
                   "fp32": "fp32 (full precision)", "fp16": "fp16 (GPUs)"}
PRECISION_LABELS = {key: _PRECISION_TEXT.get(key, key) for key in PRECISION_CHOICES}


@dataclass(frozen=True)
class RunChoice:
    """What the user picked (turned into a RunRequest by the run controller)."""

    layer_id: int
    model: Path | None
    device: str
    extent: str  # "layer", "view" or "rect"
    tile: int | None
    halo: int | None
    batch_size: int | None
    precision: str = "auto"
    output_dir: Path | None = None  # None: the default folder (beside the image, or not)
    tta: bool = False  # test-time augmentation


#: (the default results folder for an image layer, why it is not beside the image or "")
OutputFor = Callable[[ImageLayer], tuple[Path, str]]


def beside(layer: ImageLayer) -> tuple[Path, str]:
    return layer.path.parent / f"{layer.path.stem}_unet_gis", ""


def bundled_model() -> Path | None:
    from unet_gis.model.zoo import default_model_path

    path = default_model_path()
    return path if path.is_file() else None


class RunDialog(QDialog):
    def __init__(self, images: list[ImageLayer], current: ImageLayer | None,
                 model: Path | None, device: str, parent: QWidget | None = None,
                 has_selection: bool = False, output_for: OutputFor = beside) -> None:
        super().__init__(parent)
        self.setWindowTitle("Run the model")
        self.setMinimumWidth(560)  # room for the model's and the output folder's paths
        self.image = QComboBox()
        self.images = {layer.id: layer for layer in images}
        self.output_for = output_for
        self.output_dir: Path | None = None  # chosen with Change…
        for layer in images:
            self.image.addItem(layer.name, layer.id)
        if current is not None:
            self.image.setCurrentIndex(max(0, self.image.findData(current.id)))
        self.model_path = model
        self.model_edit = QLineEdit()
        self.model_edit.setReadOnly(True)
        browse, bundled = QPushButton("Open…"), QPushButton("Bundled")
        model_row = QHBoxLayout()
        model_row.addWidget(self.model_edit, 1)
        model_row.addWidget(browse)
        model_row.addWidget(bundled)
        self.model_info = QLabel()
        self.model_info.setWordWrap(True)
        self.device = QComboBox()
        for key, label in DEVICE_LABELS.items():
            self.device.addItem(label, key)
        self.device.setCurrentIndex(max(0, self.device.findData(device)))
        self.output_edit = QLineEdit()
        self.output_edit.setReadOnly(True)
        change, default = QPushButton("Change…"), QPushButton("Default")
        output_row = QHBoxLayout()
        output_row.addWidget(self.output_edit, 1)
        output_row.addWidget(change)
        output_row.addWidget(default)
        self.output_note = QLabel()
        self.output_note.setWordWrap(True)
        self.extent = QComboBox()
        self.extent.addItem("Whole layer", "layer")
        self.extent.addItem("Current view", "view")
        self.extent.addItem("Drawn rectangle (Shift+drag on the map)", "rect")
        if has_selection:
            self.extent.setCurrentIndex(2)
        else:  # disabled until one is drawn
            self.extent.model().item(2).setEnabled(False)  # type: ignore[attr-defined]
        self.tile, self.halo, self.batch = QSpinBox(), QSpinBox(), QSpinBox()
        for spin, top, step in ((self.tile, 8192, 32), (self.halo, 1024, 32),
                                (self.batch, 256, 1)):
            spin.setRange(0, top)
            spin.setSingleStep(step)
            spin.setSpecialValueText("model default")
        self.precision = QComboBox()
        for key, label in PRECISION_LABELS.items():
            self.precision.addItem(label, key)
        self.tta = QCheckBox("Test-time augmentation (8× slower)")
        self.tta.setToolTip(TTA_HELP[0].upper() + TTA_HELP[1:] + ".")
        advanced = QGroupBox("Advanced")
        advanced_form = QFormLayout(advanced)
        advanced_form.addRow("Tile (px)", self.tile)
        advanced_form.addRow("Halo (px)", self.halo)
        advanced_form.addRow("Batch size", self.batch)
        advanced_form.addRow("Precision", self.precision)
        advanced_form.addRow("", self.tta)
        form = QFormLayout()
        form.addRow("Image", self.image)
        form.addRow("Model", model_row)
        form.addRow("", self.model_info)
        form.addRow("Device", self.device)
        form.addRow("Extent", self.extent)
        form.addRow("Output folder", output_row)
        form.addRow("", self.output_note)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                        | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Run")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(advanced)
        layout.addWidget(self.buttons)
        browse.clicked.connect(self._browse)
        bundled.clicked.connect(lambda: self._set_model(None))
        change.clicked.connect(self._choose_output)
        default.clicked.connect(lambda: self._set_output(None))
        self.image.currentIndexChanged.connect(lambda _: self._show_output())
        self._set_model(model)
        self._show_output()

    def _browse(self) -> None:
        name, _ = QFileDialog.getOpenFileName(self, "Open a model", "",
                                              "unet-gis models (*.safetensors)")
        if name:
            self._set_model(Path(name))

    def _set_model(self, path: Path | None) -> None:
        self.model_path = path
        shown = path or bundled_model()
        self.model_edit.setText(str(path) if path else
                                f"Bundled: {shown.name}" if shown else "Bundled (not installed)")
        self.model_edit.setToolTip(str(shown) if shown else "")  # the full path, as Output's
        ok = False
        if shown is None:
            self.model_info.setText("No bundled model is installed: open a .safetensors file.")
        else:
            try:
                spec = load_spec(shown)
            except UserError as exc:
                self.model_info.setText(f"Cannot use this model: {exc}")
            else:
                self.model_info.setText(describe(spec))
                ok = True
        ok = ok and self.image.count() > 0
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(ok)

    def _choose_output(self) -> None:
        start = self.output_edit.text()
        name = QFileDialog.getExistingDirectory(self, "Write the results to", start)
        if name:
            self._set_output(Path(name))

    def _set_output(self, folder: Path | None) -> None:
        self.output_dir = folder
        self._show_output()

    def _show_output(self) -> None:
        layer = self.images.get(self.image.currentData())
        if self.output_dir is not None:
            folder, note = self.output_dir, ""
        elif layer is not None:
            folder, note = self.output_for(layer)
        else:
            self.output_edit.clear()
            self.output_note.clear()
            return
        self.output_edit.setText(str(folder))
        self.output_edit.setToolTip(str(folder))
        self.output_note.setText(f"Not beside the image: {note}." if note else "")
        self.output_note.setVisible(bool(note))

    def choice(self) -> RunChoice:
        return RunChoice(int(self.image.currentData()), self.model_path,
                         str(self.device.currentData()), str(self.extent.currentData()),
                         self.tile.value() or None, self.halo.value() or None,
                         self.batch.value() or None, str(self.precision.currentData()),
                         self.output_dir, self.tta.isChecked())
