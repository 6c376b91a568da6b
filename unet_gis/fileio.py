"""Atomic output: write to a temporary name beside the target, rename when complete."""

from __future__ import annotations

import contextlib
import glob
import logging
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from unet_gis.errors import UserError

log = logging.getLogger(__name__)


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


def temporary_prefix(path: Path) -> str:
    """Names of this process's temporaries for ``path``: ``.<stem>.pid<PID>.``."""
    return f".{path.stem}.pid{os.getpid()}."


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # exists, owned by someone else
    return True


def remove_stale_temporaries(path: Path) -> int:
    """Remove temporaries for ``path`` (files or staging folders) left by a run that was
    killed (SIGKILL, power loss): their process no longer exists.  Returns how many."""
    removed = 0
    for candidate in path.parent.glob(f".{glob.escape(path.stem)}.pid*.*tmp*"):
        digits = candidate.name[len(path.stem) + 5:].split(".", 1)[0]
        if not digits.isdigit() or int(digits) == os.getpid() or _alive(int(digits)):
            continue
        try:
            if candidate.is_dir():
                import shutil

                shutil.rmtree(candidate)
            else:
                candidate.unlink()
            removed += 1
        except OSError:
            continue
    if removed:
        log.warning("removed %d temporary file(s) of an interrupted earlier run in %s",
                    removed, path.parent)
    return removed


@contextlib.contextmanager
def atomic_path(path: Path, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it to ``path`` only on success.

    On any exception (including :class:`~unet_gis.errors.Cancelled`) the temporary file
    is removed, so no half-written output is ever left behind; temporaries of earlier runs
    that were killed outright are removed first.
    """
    suffix = path.suffix if suffix is None else suffix
    remove_stale_temporaries(path)
    fd, tmp_name = tempfile.mkstemp(prefix=temporary_prefix(path), suffix=f".tmp{suffix}",
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
