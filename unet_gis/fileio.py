"""Atomic output: write to a temporary name beside the target, rename when complete."""

from __future__ import annotations

import contextlib
import errno
import glob
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from unet_gis.errors import Cancelled, UserError

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


def check_writable_target(path: Path, what: str, folder: bool = False) -> None:
    """Refuse, before any long work, a ``what`` (an option's name) that cannot be written:
    a file where a folder is wanted or the other way round, or a place whose nearest
    existing folder is not writable (missing folders below it are created later)."""
    if folder and path.exists() and not path.is_dir():
        raise UserError(f"{what} {path} is a file; it names a folder.")
    if not folder and path.is_dir():
        raise UserError(f"{what} {path} is a folder; give a file name.")
    existing = path if folder else path.parent
    existing = existing.resolve()
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise UserError(f"{what} {path}: {existing} is a file, not a folder.")
    if not os.access(existing, os.W_OK):
        raise UserError(f"{what} {path}: the folder {existing} is not writable; choose "
                        "another.")


#: Outputs this process finished (renamed into place), in order: what an interrupted CLI
#: run says it kept, instead of claiming that nothing was written.
WRITTEN: list[Path] = []


def note_written(path: Path) -> None:
    WRITTEN.append(path)


def written_summary() -> str:
    """"nothing was written" or which finished outputs were kept (never a partial one)."""
    # a finished output that was removed since (a fine-tune's checkpoint in its temporary
    # folder) is not claimed as kept
    names = list(dict.fromkeys(p.name for p in WRITTEN if p.exists()))
    if not names:
        return "nothing was written"
    shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
    return f"kept the finished {shown}; nothing half-written was left"


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


NEARLY_FULL_BYTES = 1_000_000


class DiskFullError(UserError):
    """Writing stopped because the output's disk is full; nothing was kept."""

    def __init__(self, folder: Path | str | None, needed_bytes: int | None = None) -> None:
        where = f"the disk holding {folder}" if folder else "the disk"
        needed = f"; needed up to about {needed_bytes / 1e6:,.0f} MB" if needed_bytes else ""
        super().__init__(f"{where} is full (no space left on the device{needed}); free some "
                         "space or write elsewhere. Nothing was written.")


def disk_full(exc: BaseException, folder: Path | str | None) -> bool:
    """Did ``exc`` come from a full disk?  ENOSPC anywhere in its chain (GDAL reports
    "Write failed"; its cause may say why, or only "Write error at scanline N"), or an
    I/O error while ``folder``'s disk has (nearly) no space left."""
    seen: BaseException | None = exc
    while seen is not None:
        if getattr(seen, "errno", None) == errno.ENOSPC or "No space left" in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    if folder is None or isinstance(exc, UserError | Cancelled):
        return False
    path = Path(str(folder))
    path = path if path.is_dir() else path.parent
    try:
        return shutil.disk_usage(path).free < NEARLY_FULL_BYTES
    except OSError:
        return False


@contextlib.contextmanager
def atomic_path(path: Path, suffix: str | None = None,
                needed_bytes: int | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it to ``path`` only on success.

    ``needed_bytes``, the output's size if known, goes into the message when the disk fills.

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
        note_written(path)
    except Exception as exc:
        # look while the partial file still fills the disk: once it is removed below,
        # the free space no longer tells
        if not isinstance(exc, UserError) and disk_full(exc, path.parent):
            raise DiskFullError(path.parent, needed_bytes) from exc
        raise
    finally:
        for leftover in (tmp, *tmp.parent.glob(tmp.name + ".*")):
            leftover.unlink(missing_ok=True)
