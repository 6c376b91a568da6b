"""The engine writes exactly what the model computes, block for block, and nothing else."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin
from scipy import ndimage

from unet_gis.errors import Cancelled, UserError
from unet_gis.inference.aoi import Aoi
from unet_gis.inference.engine import EngineOptions, predict
from unet_gis.inference.progress import CancelToken, Progress
from unet_gis.model.checkpoint import LoadedModel
from unet_gis.raster.probability import (
    FULL_SCALE,
    NODATA,
    PIXEL_SPACE_TAG,
    read_probability_info,
)

from ..conftest import GEOGRAPHIC, PROJECTED, NeighbourhoodThreshold, random_rgb, tiny_spec


def expected(raw: np.ndarray) -> np.ndarray:
    road = ndimage.maximum_filter(raw[0], size=3, mode="mirror") >= 128
    vehicle = raw[1] < 128
    return np.stack([road, vehicle]).astype(np.uint8) * FULL_SCALE


@pytest.fixture
def threshold_model() -> LoadedModel:
    return LoadedModel(NeighbourhoodThreshold(), tiny_spec(tile=128, halo=32))


@pytest.mark.parametrize("georef", [PROJECTED, GEOGRAPHIC], ids=["projected", "geographic"])
@pytest.mark.parametrize(("height", "width"), [(1000, 777), (37, 50), (64, 64)])
def test_output_matches_the_model_exactly_everywhere(make_geotiff, tmp_path, threshold_model,
                                                     georef, height, width) -> None:
    raw = random_rgb(height, width, seed=height)
    image = make_geotiff(raw, **georef)
    out = tmp_path / "out.tif"
    result = predict(image, out, threshold_model, EngineOptions(device="cpu", batch_size=3))
    with rasterio.open(out) as dst, rasterio.open(image) as src:
        assert dst.crs == src.crs
        assert dst.transform == src.transform
        assert (dst.width, dst.height) == (width, height)
        np.testing.assert_array_equal(dst.read(), expected(raw))
        info = read_probability_info(dst)
        assert info.class_names == ("road", "vehicle")
        assert dst.descriptions == ("road", "vehicle")
        assert dst.block_shapes[0] == (64, 64)
    assert result.pixels == height * width
    assert not result.resampled


def test_nodata_cores_are_skipped_and_written_as_nodata(make_geotiff, tmp_path,
                                                         threshold_model) -> None:
    raw = random_rgb(256, 256, seed=1)
    raw[:, :128, :] = 0  # nodata: the top two rows of 64-px cores
    raw[:, 150:160, 10:20] = 0  # a nodata hole inside a valid core
    raw[:, 200, 200] = (5, 0, 0)  # a pixel with 0 in one band only stays valid
    image = make_geotiff(raw, nodata=0)
    out = tmp_path / "out.tif"
    result = predict(image, out, threshold_model, EngineOptions(device="cpu"))
    assert result.cores_skipped == 8
    with rasterio.open(out) as dst:
        mask = dst.read_masks(1)
        data = dst.read()
    np.testing.assert_array_equal(mask > 0, np.any(raw != 0, axis=0))
    assert mask[200, 200] == 255
    assert not mask[:128].any()
    assert (data[:, :128] == NODATA).all()  # the raster's nodata value, not a mask band
    assert (data[:, mask > 0] < NODATA).all()
    assert not mask[150:160, 10:20].any()


def test_cancel_mid_run_leaves_no_output(make_geotiff, tmp_path, threshold_model) -> None:
    image = make_geotiff(random_rgb(512, 512))
    outdir = tmp_path / "out"
    outdir.mkdir()
    token = CancelToken()
    seen: list[Progress] = []

    def on_progress(progress: Progress) -> None:
        seen.append(progress)
        if progress.done >= 4:
            token.cancel()

    with pytest.raises(Cancelled):
        predict(image, outdir / "p.tif", threshold_model,
                EngineOptions(device="cpu", batch_size=2), progress=on_progress, cancel=token)
    assert list(outdir.iterdir()) == []
    assert seen[-1].done < seen[-1].total


def test_progress_reports_every_core_once(make_geotiff, tmp_path, threshold_model) -> None:
    image = make_geotiff(random_rgb(200, 130))
    seen: list[Progress] = []
    predict(image, tmp_path / "p.tif", threshold_model, EngineOptions(device="cpu"),
            progress=seen.append)
    assert seen[-1].done == seen[-1].total == 4 * 3
    assert seen[-1].pixels == 200 * 130
    assert [p.done for p in seen] == sorted(p.done for p in seen)


def test_coarse_input_is_resampled_on_a_grid_with_the_same_bounds(make_geotiff, tmp_path,
                                                                  threshold_model) -> None:
    raw = random_rgb(101, 75)
    image = make_geotiff(raw, transform=from_origin(666000.0, 4012000.0, 0.6, 0.6))
    out = tmp_path / "out.tif"
    result = predict(image, out, threshold_model, EngineOptions(device="cpu"))
    assert result.resampled
    with rasterio.open(out) as dst, rasterio.open(image) as src:
        assert (dst.width, dst.height) == (150, 202)
        assert dst.bounds == pytest.approx(tuple(src.bounds), abs=1e-6)
        assert dst.res == pytest.approx((0.3, 0.3))
        # a pixel-centre sample: the output follows the input's band 2 (vehicle = dark)
        big = np.kron(raw[1] < 128, np.ones((2, 2), bool))[:202, :150]
        agreement = ((dst.read(2) > 127) == big).mean()
    assert agreement > 0.7


def test_raster_without_crs_runs_in_pixel_space(make_geotiff, tmp_path, threshold_model) -> None:
    raw = random_rgb(70, 90)
    image = make_geotiff(raw, crs=None, transform=rasterio.Affine.identity())
    out = tmp_path / "out.tif"
    result = predict(image, out, threshold_model, EngineOptions(device="cpu"))
    assert any("no CRS" in w for w in result.warnings)
    with rasterio.open(out) as dst:
        assert dst.crs is None
        assert PIXEL_SPACE_TAG in dst.tags()
        np.testing.assert_array_equal(dst.read(), expected(raw))


def test_aoi_box_limits_the_output_to_whole_pixels_around_it(make_geotiff, tmp_path,
                                                             threshold_model) -> None:
    raw = random_rgb(300, 300)
    image = make_geotiff(raw)
    x0, y0 = 666000.0 + 30.15, 4012000.0 - 15.0  # column 100.5, row 50
    aoi = Aoi(bounds=(x0, y0 - 24.0, x0 + 30.0, y0))
    out = tmp_path / "out.tif"
    predict(image, out, threshold_model, EngineOptions(device="cpu", aoi=aoi))
    with rasterio.open(out) as dst:
        assert (dst.width, dst.height) == (101, 80)
        assert dst.transform.c == pytest.approx(666000.0 + 100 * 0.3)
        # inside the raster the halo reads real neighbours, so values equal the full run
        full = expected(raw)[:, 50:130, 100:201]
        np.testing.assert_array_equal(dst.read(), full)


def test_sixteen_bit_input_uses_percentile_scaling(make_geotiff, tmp_path, tiny_model) -> None:
    rng = np.random.default_rng(3)
    raw = rng.integers(200, 2047, (3, 96, 96)).astype(np.uint16)
    image = make_geotiff(raw)
    result = predict(image, tmp_path / "p.tif", tiny_model, EngineOptions(device="cpu"))
    assert "percentile" in result.scaling


def test_existing_output_is_not_overwritten_unless_asked(make_geotiff, tmp_path,
                                                         threshold_model) -> None:
    image = make_geotiff(random_rgb(40, 40))
    out = tmp_path / "p.tif"
    out.write_bytes(b"keep me")
    with pytest.raises(UserError, match="already exists"):
        predict(image, out, threshold_model, EngineOptions(device="cpu"))
    assert out.read_bytes() == b"keep me"
    predict(image, out, threshold_model, EngineOptions(device="cpu", overwrite=True))
    assert out.stat().st_size > 100


def test_rgba_uses_rgb_and_single_band_is_copied(make_geotiff, tmp_path, threshold_model) -> None:
    raw = random_rgb(40, 40)
    rgba = np.concatenate([raw, np.full((1, 40, 40), 255, np.uint8)])
    image = make_geotiff(rgba, photometric="RGB", alpha="YES")
    result = predict(image, tmp_path / "a.tif", threshold_model, EngineOptions(device="cpu"))
    assert result.bands == "bands 1,2,3 (red, green, blue)"
    gray = make_geotiff(raw[:1])
    result = predict(gray, tmp_path / "b.tif", threshold_model, EngineOptions(device="cpu"))
    assert "copied" in result.bands


def test_written_blocks_are_reported_for_live_display(make_geotiff, tmp_path,
                                                      threshold_model) -> None:
    raw = random_rgb(100, 100)
    image = make_geotiff(raw)
    canvas = np.zeros((2, 100, 100), np.uint8)
    calls = []

    def on_block(window, data, valid) -> None:
        calls.append(window)
        r, c = int(window.row_off), int(window.col_off)
        canvas[:, r:r + data.shape[1], c:c + data.shape[2]] = data

    predict(image, tmp_path / "p.tif", threshold_model, EngineOptions(device="cpu"),
            on_block=on_block)
    assert len(calls) == 4
    np.testing.assert_array_equal(canvas, expected(raw))



def test_aoi_vector_file_processes_only_cores_it_touches(make_geotiff, tmp_path,
                                                         threshold_model) -> None:
    import geopandas as gpd
    from shapely.geometry import Polygon

    raw = random_rgb(256, 256)
    image = make_geotiff(raw)
    # an L-shaped polygon over rows 0-100, columns 0-100 minus its lower-right quarter,
    # given in EPSG:4326 to check it is reprojected to the raster's CRS
    x0, y0 = 666000.0, 4012000.0
    shape = Polygon([(x0 + 1, y0 - 1), (x0 + 30, y0 - 1), (x0 + 30, y0 - 10),
                     (x0 + 10, y0 - 10), (x0 + 10, y0 - 30), (x0 + 1, y0 - 30)])
    aoi_path = tmp_path / "aoi.geojson"
    gpd.GeoDataFrame(geometry=[shape], crs="EPSG:32611").to_crs("EPSG:4326").to_file(aoi_path)
    out = tmp_path / "out.tif"
    result = predict(image, out, threshold_model,
                     EngineOptions(device="cpu", aoi=Aoi.parse(str(aoi_path))))
    with rasterio.open(out) as dst:
        # bounding box: columns 3-100, rows 3-100 -> cores of 64 px from the box origin
        assert (dst.width, dst.height) == pytest.approx((97, 97), abs=1)
        mask = dst.read_masks(1)
        data = dst.read()
    assert result.cores_skipped == 1  # the lower-right core does not touch the L
    assert not mask[70:, 70:].any() and mask[:64, :64].all()
    left = round((dst.transform.c - x0) / 0.3)
    top = round((y0 - dst.transform.f) / 0.3)
    assert (top, left) == (3, 3)
    np.testing.assert_array_equal(data[:, :64, :64],
                                  expected(raw)[:, top:top + 64, left:left + 64])


def test_probability_metadata_is_small_portable_and_scaled(make_geotiff, tiny_model,
                                                            tmp_path) -> None:
    import json
    from dataclasses import replace

    import rasterio

    from unet_gis.inference.engine import EngineOptions, predict

    from ..conftest import random_rgb

    image = make_geotiff(random_rgb(64, 64), name="scene.tif")
    big_record = {"history": ["x" * 5000] * 5}
    from unet_gis.model.checkpoint import file_sha256, load_checkpoint, save_checkpoint

    saved = save_checkpoint(tmp_path / "m.safetensors", tiny_model.network,
                            replace(tiny_model.spec, training=big_record, name="tiny"))
    model = load_checkpoint(saved)
    out = tmp_path / "p.tif"
    predict(image, out, model, EngineOptions(device="cpu", overviews=False))
    with rasterio.open(out) as dst:
        tags = dst.tags()
        assert dst.scales == (1 / 254, 1 / 254) and dst.offsets == (0.0, 0.0)
        assert dst.count == 2
    assert tags["UNET_GIS_SOURCE"] == "scene.tif"  # no folders of this machine
    assert str(tmp_path) not in json.dumps(tags)
    assert sum(len(v) for v in tags.values()) < 4000
    assert "training" not in json.loads(tags["UNET_GIS_SPEC"])
    digest = file_sha256(saved)
    assert digest is not None and len(digest) == 64
    assert tags["UNET_GIS_MODEL"] == f"tiny sha256:{digest}"
