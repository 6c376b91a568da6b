"""The device and precision names users may give (one list each, importable without torch)."""

DEVICE_CHOICES = ("auto", "cpu", "cuda", "mps")
PRECISION_CHOICES = ("auto", "fp32", "bf16", "fp16")
BACKEND_CHOICES = ("torch", "onnx")  # onnx: optional, pip install 'unet-gis[onnx]'
# where the probability raster's pixels lie: the model's grid (default) or the input's
OUTPUT_GRIDS = ("model", "input")
