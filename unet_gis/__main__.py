"""``python -m unet_gis`` runs the command-line entry point (no arguments opens the app)."""

from unet_gis.cli.main import main

raise SystemExit(main())
