"""The thread adapter: throttled signals, results on the GUI thread, chaining, errors."""

from __future__ import annotations

import threading
from typing import Any

from unet_gis.app.workers import JobContext, JobRunner
from unet_gis.errors import UserError
from unet_gis.inference.progress import Progress


def test_progress_is_throttled_and_the_last_one_arrives(qtbot: Any) -> None:
    runner = JobRunner("test", interval=0.05)
    seen: list[Progress] = []
    threads: list[bool] = []
    def on_progress(progress: Progress) -> None:
        seen.append(progress)
        threads.append(threading.current_thread() is threading.main_thread())

    runner.progress.connect(on_progress)
    results: list[Any] = []
    runner.finished.connect(results.append)

    def work(ctx: JobContext) -> str:
        for i in range(1, 20001):
            ctx.progress(Progress("test", i, 20000))
            ctx.push(i)
        return "done"

    runner.start(work)
    qtbot.waitUntil(lambda: bool(results), timeout=20_000)
    assert results == ["done"]
    assert 1 <= len(seen) < 200, "not one signal per unit of work"
    assert seen[-1].done == 20000 and all(threads)
    assert runner.take_items()[-1] == 20000


def test_next_job_can_start_from_the_finished_slot(qtbot: Any) -> None:
    runner = JobRunner("test")
    results: list[Any] = []

    def on_finished(value: Any) -> None:
        results.append(value)
        if value == 1:
            runner.start(lambda ctx: 2)  # a queued run starting at once

    runner.finished.connect(on_finished)
    runner.start(lambda ctx: 1)
    qtbot.waitUntil(lambda: results == [1, 2], timeout=10_000)
    assert not runner.running


def test_errors_and_cancel_become_signals(qtbot: Any) -> None:
    runner = JobRunner("test")
    failures: list[tuple[str, bool]] = []
    cancelled: list[bool] = []
    runner.failed.connect(lambda message, user: failures.append((message, user)))
    runner.cancelled.connect(lambda: cancelled.append(True))

    def bad_input(ctx: JobContext) -> None:
        raise UserError("the file is empty")

    runner.start(bad_input)
    qtbot.waitUntil(lambda: bool(failures), timeout=10_000)

    def bug(ctx: JobContext) -> None:
        raise ZeroDivisionError("oops")

    runner.start(bug)
    qtbot.waitUntil(lambda: len(failures) == 2, timeout=10_000)
    assert failures == [("the file is empty", True), ("ZeroDivisionError: oops", False)]

    started = threading.Event()

    def slow(ctx: JobContext) -> None:
        started.set()
        while True:
            ctx.cancel.raise_if_cancelled()

    runner.start(slow)
    assert started.wait(10)
    runner.cancel()
    qtbot.waitUntil(lambda: bool(cancelled), timeout=10_000)
    assert runner.wait(5)
