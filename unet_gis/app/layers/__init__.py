"""Layers: plain-Python state (``model``) and the Qt panel that mirrors it (``panel``)."""
