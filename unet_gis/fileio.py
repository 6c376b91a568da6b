"""Atomic output: write to a temporary name beside the target, rename when complete."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from unet_gis.errors import UserError


def check_output_path(path: Path, overwrite: bool, inputs: tuple[Path, ...] = ()) -> None:
    """Refuse an output that is an input, sits in a missing/unwritable folder, or exists."""
    resolved = path.resolve()
    for source in inputs:
        if source.exists() and resolved == source.resolve():
            raise UserError(f"The output {path} is the input; choose another name "
                            "(unet-gis never overwrites its input).")
    folder = resolved.parent
    if not folder.is_dir():
        raise UserError(f"The output folder {folder} does not exist; create it first.")
    if not os.access(folder, os.W_OK):
        raise UserError(f"The output folder {folder} is not writable; choose another.")
    if path.exists() and not overwrite:
        raise UserError(f"{path} already exists; pass --overwrite to replace it.")


@contextlib.contextmanager
def atomic_path(path: Path, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it to ``path`` only on success.

    On any exception (including :class:`~unet_gis.errors.Cancelled`) the temporary file
    is removed, so no half-written output is ever left behind.
    """
    suffix = path.suffix if suffix is None else suffix
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".tmp{suffix}",
                                    dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    tmp.unlink()  # GDAL drivers want to create the file themselves
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        for leftover in (tmp, *tmp.parent.glob(tmp.name + ".*")):
            leftover.unlink(missing_ok=True)
