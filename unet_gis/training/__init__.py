"""Training and evaluation: data sources, chips, losses, the training loop and metrics.

Qt-free and importable without the app; heavy libraries are imported by the modules that
need them.
"""
