"""Many tiles as one map: ``predict --mosaic`` and the VRT mosaic behind it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin
from rasterio.windows import Window

from tests.conftest import random_rgb, write_geotiff
from unet_gis.cli.main import main
from unet_gis.errors import UserError
from unet_gis.inference.engine import EngineOptions, predict
from unet_gis.model.checkpoint import LoadedModel
from unet_gis.raster.mosaic import build_mosaic, expand_inputs

ORIGIN = (600000.0, 4000000.0)


def _cut(image: np.ndarray, folder: Path, side: int, skip: tuple[int, int] | None = None,
         res: float = 0.3) -> list[Path]:
    """Cut ``image`` (bands, rows, cols) into side² GeoTIFF tiles on one grid."""
    folder.mkdir(exist_ok=True)
    tiles = []
    for row in range(0, image.shape[1], side):
        for col in range(0, image.shape[2], side):
            if skip == (row // side, col // side):
                continue
            transform = from_origin(ORIGIN[0] + col * res, ORIGIN[1] - row * res, res, res)
            tiles.append(write_geotiff(folder / f"tile_{row // side}_{col // side}.tif",
                                       image[:, row:row + side, col:col + side],
                                       transform=transform))
    return tiles


def test_a_mosaic_of_tiles_is_the_same_as_the_whole_raster(
        tmp_path: Path, tiny_model: LoadedModel) -> None:
    image = random_rgb(300, 300, seed=7)
    whole = write_geotiff(tmp_path / "whole.tif", image,
                          transform=from_origin(*ORIGIN, 0.3, 0.3))
    tiles = _cut(image, tmp_path / "tiles", 75)  # 16 tiles smaller than a model tile
    vrt = build_mosaic([tmp_path / "tiles"], tmp_path / "mosaic.vrt")
    with rasterio.open(vrt) as mosaic:  # no gaps, no nodata: no mask to read
        assert mosaic.mask_flag_enums[0] == [rasterio.enums.MaskFlags.all_valid]
    options = EngineOptions(device="cpu", overviews=False)
    predict(whole, tmp_path / "whole_p.tif", tiny_model, options)
    predict(vrt, tmp_path / "mosaic_p.tif", tiny_model, options)
    with rasterio.open(tmp_path / "whole_p.tif") as a, \
            rasterio.open(tmp_path / "mosaic_p.tif") as b:
        assert (b.width, b.height, b.transform, b.crs) == (a.width, a.height, a.transform,
                                                           a.crs)
        mosaic_data = b.read()
        assert np.array_equal(mosaic_data, a.read())  # the window crossed every border
    # run tile by tile instead, the borders show: the tile's edge pixels differ
    predict(tiles[5], tmp_path / "one_p.tif", tiny_model, options)
    with rasterio.open(tmp_path / "one_p.tif") as one:
        window = Window(75, 75, 75, 75)  # tile_1_1
        assert not np.array_equal(one.read(), mosaic_data[:, 75:150, 75:150])
        assert one.transform == rasterio.windows.transform(window, b.transform)


def test_gaps_between_tiles_are_nodata(tmp_path: Path, tiny_model: LoadedModel) -> None:
    _cut(random_rgb(200, 200, seed=8), tmp_path / "tiles", 100, skip=(1, 1))
    vrt = build_mosaic([str(tmp_path / "tiles" / "*.tif")], tmp_path / "m.vrt")
    out = tmp_path / "m_p.tif"
    predict(vrt, out, tiny_model, EngineOptions(device="cpu", overviews=False))
    with rasterio.open(out) as dst:
        mask = dst.dataset_mask()
        assert dst.width == dst.height == 200
        assert (mask[100:, 100:] == 0).all() and (mask[:100, :] == 255).all()


def test_tiles_at_another_gsd_are_resampled_and_other_crs_refused(tmp_path: Path) -> None:
    a = write_geotiff(tmp_path / "a.tif", random_rgb(100, 100),
                      transform=from_origin(*ORIGIN, 0.3, 0.3))
    b = write_geotiff(tmp_path / "b.tif", random_rgb(50, 50),  # 0.6 m, east of a
                      transform=from_origin(ORIGIN[0] + 30, ORIGIN[1], 0.6, 0.6))
    vrt = build_mosaic([a, b], tmp_path / "ab.vrt")
    with rasterio.open(vrt) as dst:
        assert dst.res == (0.3, 0.3) and (dst.width, dst.height) == (200, 100)
        assert dst.dataset_mask()[50, 150] == 255
    c = write_geotiff(tmp_path / "c.tif", random_rgb(20, 20), crs="EPSG:32612")
    with pytest.raises(UserError, match=r"c\.tif"):
        build_mosaic([a, c], tmp_path / "ac.vrt")


def test_folders_globs_and_lists_name_the_tiles(tmp_path: Path) -> None:
    tiles = _cut(random_rgb(40, 40), tmp_path / "t", 20)
    (tmp_path / "t" / "notes.md").write_text("not a raster")
    listing = tmp_path / "list.txt"
    listing.write_text("# my tiles\nt/tile_0_0.tif\nt/tile_1_1.tif\n")
    assert expand_inputs([tmp_path / "t"]) == [t.resolve() for t in sorted(tiles)]
    assert expand_inputs([listing]) == [tiles[0].resolve(), tiles[3].resolve()]
    assert expand_inputs([str(tmp_path / "t" / "tile_0_*.tif")]) == \
        [tiles[0].resolve(), tiles[1].resolve()]
    with pytest.raises(UserError, match="No files match"):
        expand_inputs([str(tmp_path / "t" / "*.jp2")])


def test_cli_mosaic_writes_one_raster_and_one_set_of_layers(
        tmp_path: Path, tiny_checkpoint: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _cut(random_rgb(160, 160, seed=9), tmp_path / "tiles", 80)
    out = tmp_path / "out"
    out.mkdir()
    code = main(["predict", str(tmp_path / "tiles"), "--mosaic", "city", "-o", str(out),
                 "--model", str(tiny_checkpoint), "--device", "cpu", "--quiet"])
    assert code == 0, capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == ["city.vrt", "city_probabilities.qml",
                                                      "city_probabilities.tif"]
    with rasterio.open(out / "city_probabilities.tif") as dst:
        assert (dst.width, dst.height) == (160, 160)
