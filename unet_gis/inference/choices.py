"""The device and precision names users may give (one list each, importable without torch)."""

DEVICE_CHOICES = ("auto", "cpu", "cuda", "mps")
PRECISION_CHOICES = ("auto", "fp32", "bf16", "fp16")
BACKEND_CHOICES = ("torch", "onnx")  # onnx: optional, pip install 'unet-gis[onnx]'
# where the probability raster's pixels lie: the model's grid (default) or the input's
OUTPUT_GRIDS = ("model", "input")
TTA_HELP = ("average the 8 flips and 90-degree rotations of every tile: 8x slower; on the "
            "bundled model's validation scenes roads +0.01 relaxed F1, vehicles no better")


def device_line(description: str, tta: bool) -> str:
    """The device line (printed, shown in the app, kept in the raster's metadata): what
    ran, and whether test-time augmentation did."""
    return f"{description}, test-time augmentation (8 flips and rotations averaged)" \
        if tta else description
