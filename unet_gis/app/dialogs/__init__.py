"""Dialogs: run the model, export layers, about."""
