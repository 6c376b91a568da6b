"""The ``unet-gis`` command line: every GUI action has a headless twin here."""
