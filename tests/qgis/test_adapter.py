"""The QGIS Processing adapter without QGIS: parameter mapping, progress, cancel, errors."""

from __future__ import annotations

import errno
from pathlib import Path

import numpy as np
import pytest

from unet_gis.errors import Cancelled, UserError
from unet_gis.inference.choices import DEVICE_CHOICES, PRECISION_CHOICES
from unet_gis.inference.progress import Progress, check
from unet_gis.integrations.processing import (
    CANCELLED_MESSAGE,
    FeedbackCancelToken,
    FeedbackProgress,
    aoi_bounds,
    choice,
    describe_thresholds,
    engine_options,
    thresholds_in_use,
    user_message,
    vectorize_options,
)
from unet_gis.model.checkpoint import LoadedModel
from unet_gis.vector.options import VectorizeOptions


class FakeFeedback:
    """Records what QgsProcessingFeedback would be told; cancels after ``cancel_after``
    progress reports (never when ``None``)."""

    def __init__(self, cancel_after: int | None = None) -> None:
        self.values: list[float] = []
        self.cancel_after = cancel_after
        self.canceled = False
        self.polls = 0

    def setProgress(self, progress: float) -> None:  # noqa: N802 - QGIS's name
        self.values.append(progress)
        if self.cancel_after is not None and len(self.values) >= self.cancel_after:
            self.canceled = True

    def isCanceled(self) -> bool:  # noqa: N802 - QGIS's name
        self.polls += 1
        return self.canceled


def step(done: int, total: int) -> Progress:
    return Progress("predict", done, total)


def test_cancel_token_follows_the_feedback() -> None:
    feedback = FakeFeedback()
    token = FeedbackCancelToken(feedback)
    assert not token.cancelled
    check(token)  # does not raise
    feedback.canceled = True
    assert token.cancelled
    with pytest.raises(Cancelled):
        check(token)
    polls = feedback.polls
    feedback.canceled = False  # QGIS never un-cancels; the token stays set regardless
    assert token.cancelled and feedback.polls == polls  # and stops asking


def test_cancel_token_can_still_be_cancelled_directly() -> None:
    token = FeedbackCancelToken(FakeFeedback())
    token.cancel()
    with pytest.raises(Cancelled):
        token.raise_if_cancelled()


def test_progress_maps_the_fraction_onto_the_span() -> None:
    feedback = FakeFeedback()
    progress = FeedbackProgress(feedback, 20.0, 60.0)
    for done in range(5):
        progress(step(done, 4))
    assert feedback.values == [20.0, 30.0, 40.0, 50.0, 60.0]


def test_progress_drops_reports_that_do_not_move_the_bar_but_keeps_the_last() -> None:
    feedback = FakeFeedback()
    progress = FeedbackProgress(feedback)
    for done in range(10_001):
        progress(step(done, 10_000))
    assert len(feedback.values) == 1001  # every 0.1 %, not 10,001 signals
    assert feedback.values[0] == 0.0 and feedback.values[-1] == 100.0
    assert feedback.values == sorted(feedback.values)


def test_progress_of_an_empty_job_is_complete() -> None:
    feedback = FakeFeedback()
    FeedbackProgress(feedback, 0.0, 80.0)(step(0, 0))
    assert feedback.values == [80.0]


def test_enum_indices_map_to_the_shared_choice_lists() -> None:
    assert choice(DEVICE_CHOICES, 1, "The device") == "cpu"
    with pytest.raises(UserError, match=r"^The device must be one of auto, cpu, cuda, mps"):
        choice(DEVICE_CHOICES, len(DEVICE_CHOICES), "The device")
    with pytest.raises(UserError):
        choice(PRECISION_CHOICES, -1, "The precision")


def test_engine_options_from_the_dialog() -> None:
    options = engine_options(DEVICE_CHOICES.index("cpu"), PRECISION_CHOICES.index("fp32"),
                             (1.0, 2.0, 3.0, 4.0), 256)
    assert (options.device, options.precision, options.tile) == ("cpu", "fp32", 256)
    assert options.aoi is not None and options.aoi.bounds == (1.0, 2.0, 3.0, 4.0)
    assert options.overwrite  # Processing's save dialog already asked
    defaults = engine_options()
    assert (defaults.device, defaults.precision, defaults.tile, defaults.aoi) == (
        "auto", "auto", None, None)


@pytest.mark.parametrize("bounds", [None, (0.0, 0.0, 0.0, 0.0), (1.0, 0.0, 1.0, 5.0),
                                    (float("nan"),) * 4, (5.0, 0.0, 1.0, 1.0)])
def test_a_null_or_empty_extent_means_the_whole_raster(
        bounds: tuple[float, float, float, float] | None) -> None:
    assert aoi_bounds(bounds) is None
    assert engine_options(extent=bounds).aoi is None


def test_vectorize_options_from_the_dialog() -> None:
    options = vectorize_options(" road=0.5, vehicle=0.25 ", 4.0, 0.0, False)
    assert options.thresholds == (("road", 0.5), ("vehicle", 0.25))
    assert (options.min_area_m2, options.simplify_m, options.centerlines) == (4.0, 0.0, False)
    assert options.format == "gpkg" and options.overwrite
    defaults = VectorizeOptions()
    blank = vectorize_options("")
    assert blank.thresholds == ()  # the model's, from the raster
    assert (blank.min_area_m2, blank.simplify_m, blank.centerlines) == (
        defaults.min_area_m2, defaults.simplify_m, defaults.centerlines)


@pytest.mark.parametrize("text", ["road", "road=1.5", "=0.5", "road=high"])
def test_bad_thresholds_are_a_one_line_user_error(text: str) -> None:
    with pytest.raises(UserError, match=r"^Thresholds: expected CLASS=PROBABILITY pairs") as info:
        vectorize_options(text)
    assert "\n" not in str(info.value)


def test_negative_sizes_are_refused_with_the_library_message() -> None:
    with pytest.raises(UserError, match="min_area_m2 must be a finite number of at least 0"):
        vectorize_options("", -1.0)


def test_user_messages_are_the_cli_lines(tmp_path: Path) -> None:
    assert user_message(UserError("The raster has no bands.")) == "The raster has no bands."
    assert user_message(Cancelled()) == CANCELLED_MESSAGE
    full = OSError(errno.ENOSPC, "No space left on device")
    assert user_message(full, tmp_path).startswith(f"the disk holding {tmp_path} is full")
    assert user_message(ValueError("a bug"), tmp_path) is None


def test_the_token_cancels_the_engine_and_nothing_is_written(
        make_geotiff, tiny_model: LoadedModel, tmp_path: Path) -> None:
    from unet_gis.inference.engine import EngineOptions, predict

    image = make_geotiff(np.random.default_rng(1).integers(0, 256, (3, 300, 300), np.uint8))
    output = tmp_path / "out" / "prob.tif"
    output.parent.mkdir()
    feedback = FakeFeedback(cancel_after=1)
    with pytest.raises(Cancelled):
        predict(image, output, tiny_model, EngineOptions(device="cpu"),
                progress=FeedbackProgress(feedback), cancel=FeedbackCancelToken(feedback))
    assert len(feedback.values) == 1 and feedback.polls > 0
    assert list(output.parent.iterdir()) == []  # no output, no temporary


def test_thresholds_in_use_come_from_the_raster_unless_set(
        make_geotiff, tiny_model: LoadedModel, tmp_path: Path) -> None:
    from unet_gis.inference.engine import EngineOptions, predict

    image = make_geotiff(np.random.default_rng(2).integers(0, 256, (3, 64, 64), np.uint8))
    prob = predict(image, tmp_path / "prob.tif", tiny_model, EngineOptions(device="cpu")).output
    model = {c.name: c.threshold for c in tiny_model.spec.classes}
    first, second = tiny_model.spec.classes[0].name, tiny_model.spec.classes[1].name
    used = thresholds_in_use(prob, vectorize_options(f"{first}=0.55"))
    assert used == ((first, 0.55, True), (second, model[second], False))
    assert describe_thresholds(used) == (f"{first} 0.55 (set), "
                                         f"{second} {model[second]:.2f} (model)")
    with pytest.raises(UserError, match="Unknown class 'lake'"):
        thresholds_in_use(prob, vectorize_options("lake=0.5"))
