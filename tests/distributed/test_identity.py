"""A cluster run writes the very file a local run writes: same pixels, mask, tags, layout."""

from __future__ import annotations

import geopandas as gpd
import pytest
import rasterio
from rasterio.transform import from_origin
from shapely.geometry import Polygon

from unet_gis.inference.aoi import Aoi
from unet_gis.inference.engine import EngineOptions, predict
from unet_gis.inference.progress import Progress
from unet_gis.model.checkpoint import load_checkpoint

from ..conftest import random_rgb, write_geotiff
from .conftest import assert_same_raster, odd_scene, uint16_scene

pytest.importorskip("distributed")

from unet_gis.distributed import (
    ClusterOptions,
    predict_on_cluster,
    predict_scenes_on_cluster,
)


def test_several_scenes_are_bit_identical_to_local(tmp_path, tiny_checkpoint, cluster) -> None:
    model = load_checkpoint(tiny_checkpoint)
    coarse = from_origin(666000.0, 4012000.0, 0.45, 0.45)  # resampled to the model's 0.3 m
    images = [odd_scene(tmp_path / "a.tif", 455, 301, seed=1),
              uint16_scene(tmp_path / "b.tif", 77, 130, seed=2),
              odd_scene(tmp_path / "c.tif", 203, 517, seed=3),
              write_geotiff(tmp_path / "d.tif", random_rgb(121, 97, seed=4), transform=coarse)]
    options = EngineOptions(device="cpu")
    local_blocks: list[tuple[int, int, int, int]] = []
    for image in images:
        predict(image, tmp_path / f"{image.stem}_local.tif", model, options,
                on_block=lambda w, d, v: local_blocks.append(_key(w)))
    reports: list[Progress] = []
    cluster_blocks: list[tuple[int, int, int, int]] = []
    results = predict_scenes_on_cluster(
        [(image, tmp_path / f"{image.stem}_cluster.tif") for image in images], model, options,
        progress=reports.append, on_block=lambda w, d, v: cluster_blocks.append(_key(w)),
        cluster=cluster, tuning=ClusterOptions(cores_per_task=3, max_in_flight=4))
    for image, result in zip(images, results, strict=True):
        assert result.output == tmp_path / f"{image.stem}_cluster.tif"
        assert_same_raster(tmp_path / f"{image.stem}_local.tif", result.output)
    assert sorted(cluster_blocks) == sorted(local_blocks)  # every core written exactly once
    total = sum(r.cores for r in results)
    assert [r.done for r in reports] == sorted(r.done for r in reports)
    assert reports[-1].done == reports[-1].total == total
    assert len(reports) > 10  # progress arrives as tasks finish, not at the end
    assert results[0].cores_skipped > 0  # the nodata corner was skipped on the workers
    assert results[3].resampled and results[3].width == round(97 * 0.45 / 0.3)
    assert "Dask" in results[0].device


def test_vector_aoi_and_address_connection(tmp_path, tiny_checkpoint, cluster) -> None:
    """An AOI polygon (cores outside it written as nodata) and a run that connects to the
    scheduler by address instead of reusing the session."""
    model = load_checkpoint(tiny_checkpoint)
    image = odd_scene(tmp_path / "scene.tif", 333, 290, seed=4)
    with rasterio.open(image) as src:
        left, bottom, right, top = src.bounds
        crs = src.crs
    width, height = right - left, top - bottom
    triangle = Polygon([(left + 0.1 * width, bottom + 0.1 * height),
                        (right - 0.05 * width, bottom + 0.3 * height),
                        (left + 0.4 * width, top - 0.1 * height)])
    aoi_file = tmp_path / "aoi.geojson"
    gpd.GeoDataFrame(geometry=[triangle], crs=crs).to_file(aoi_file)
    options = EngineOptions(device="cpu", aoi=Aoi(path=aoi_file))
    local = predict(image, tmp_path / "local.tif", model, options)
    address = cluster.client.scheduler.address
    remote = predict_on_cluster(image, tmp_path / "cluster.tif", model, options,
                                cluster=address, tuning=ClusterOptions(cores_per_task=2))
    assert_same_raster(local.output, remote.output)
    assert remote.cores_skipped == local.cores_skipped > 0
    assert (remote.width, remote.height) == (local.width, local.height)


def _key(window) -> tuple[int, int, int, int]:
    return int(window.col_off), int(window.row_off), int(window.width), int(window.height)


def test_task_rectangles_tile_the_region_in_whole_cores() -> None:
    from rasterio.windows import Window

    from unet_gis.distributed.plan import task_regions
    from unet_gis.raster.grid import tile_windows

    region = Window(7, 5, 1000, 333)
    expected = sorted(_key(w.core) for w in tile_windows(region, 128, 32))
    for per_task in (1, 3, 16, 10_000):
        cores = [_key(w.core) for r in task_regions(region, 64, per_task)
                 for w in tile_windows(r, 128, 32)]
        assert sorted(cores) == expected, per_task
        assert len(cores) == len(set(cores))
    assert len(list(task_regions(region, 64, 10_000))) == 1  # a small scene: one task


def test_a_bundled_model_is_found_in_each_workers_own_installation(tmp_path) -> None:
    from unet_gis.distributed.tasks import ModelRef
    from unet_gis.resources import resource_path, resource_root

    bundled = ModelRef.of(resource_root() / "models" / "roads.safetensors", "{}")
    assert bundled.bundled == "models/roads.safetensors"
    assert bundled.local_path() == resource_path("models", "roads.safetensors")
    shared = ModelRef.of(tmp_path / "m.safetensors", "{}")
    assert shared.bundled is None and shared.local_path() == (tmp_path / "m.safetensors")


def test_local_workers_do_not_get_dasks_malloc_trim_setting(cluster) -> None:
    """Dask's MALLOC_TRIM_THRESHOLD_ made torch 1.75x slower in workers; local:N unsets it."""
    import os

    seen = cluster.client.run(lambda: os.environ.get("MALLOC_TRIM_THRESHOLD_"))
    assert seen and set(seen.values()) == {None}


def test_the_app_can_run_it_on_a_background_thread(tmp_path, tiny_checkpoint, cluster) -> None:
    """The app's adapter calls it off the GUI thread, with a session it keeps open."""
    from concurrent.futures import ThreadPoolExecutor

    model = load_checkpoint(tiny_checkpoint)
    image = uint16_scene(tmp_path / "scene.tif", 150, 140, seed=11)
    blocks: list[object] = []
    with ThreadPoolExecutor(1) as pool:
        result = pool.submit(predict_on_cluster, image, tmp_path / "out.tif", model,
                             EngineOptions(device="cpu"), on_block=lambda *a: blocks.append(a),
                             cluster=cluster).result(timeout=120)
    assert result.output.exists() and len(blocks) == result.cores == 9
