"""Entry script of the PyInstaller bundle: the same ``unet-gis`` command as the wheel's."""

import multiprocessing
import sys

from unet_gis.cli.main import main

if __name__ == "__main__":
    # worker processes (spawn) re-enter this executable; let them run their task
    multiprocessing.freeze_support()
    sys.exit(main())
