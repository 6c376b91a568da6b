"""Many tiles as one map: ``predict --mosaic`` and the VRT mosaic behind it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyogrio
import pytest
import rasterio
import shapely
from rasterio.transform import from_origin
from rasterio.windows import Window

from tests.conftest import NeighbourhoodThreshold, random_rgb, tiny_spec, write_geotiff
from unet_gis.cli.main import main
from unet_gis.errors import UserError
from unet_gis.inference.engine import EngineOptions, predict
from unet_gis.model.checkpoint import LoadedModel
from unet_gis.raster.mosaic import build_mosaic, expand_inputs

ORIGIN = (600000.0, 4000000.0)
RES = 0.3
#: (row, col) of the top-left pixel of each 10×20 px vehicle: every one lies across the
#: corner of four 32 px tiles, and (124, 145) across a border of the model's cores too
VEHICLES = ((28, 28), (60, 90), (188, 222), (124, 145))


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


def _roads_and_vehicles() -> np.ndarray:
    """256² px for ``NeighbourhoodThreshold``: two roads 8 px wide (band 1 high) crossing the
    whole image, so each crosses seven tile borders, and the ``VEHICLES`` (band 2 low)."""
    image = np.full((3, 256, 256), 60, np.uint8)
    image[1] = 200
    image[0, 100:108, :] = 220
    image[0, :, 150:156] = 220
    for row, col in VEHICLES:
        image[1, row:row + 10, col:col + 20] = 20
    return image


def _features(files: list[Path]) -> dict[str, list[shapely.Geometry]]:
    """Every feature of every layer, by layer kind (the layer name's last word)."""
    found: dict[str, list[shapely.Geometry]] = {"roads": [], "centerlines": [], "vehicles": []}
    for path in files:
        for name, geometry_type in pyogrio.list_layers(path):
            if geometry_type is not None:  # not the styles table
                frame = pyogrio.read_dataframe(path, layer=name)
                found[str(name).rsplit("_", 1)[-1]].extend(frame.geometry)
    return found


def test_cli_mosaic_vectors_split_no_road_and_no_vehicle_at_tile_borders(
        tmp_path: Path, tiny_checkpoint: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """64 tiles of 32² px, far smaller than the roads (77 m long) and the model's 128 px
    tile; the model's output is known, so the features are too."""
    _cut(_roads_and_vehicles(), tmp_path / "tiles", 32)
    model = LoadedModel(NeighbourhoodThreshold(), tiny_spec(tile=128, halo=32))
    monkeypatch.setattr("unet_gis.model.checkpoint.load_checkpoint", lambda path: model)
    common = ["--model", str(tiny_checkpoint), "--device", "cpu", "--quiet"]
    out = tmp_path / "out"
    out.mkdir()
    code = main(["predict", str(tmp_path / "tiles"), "--mosaic", "city", "-o", str(out),
                 "--vector", str(out / "city.gpkg"), *common])
    assert code == 0, capsys.readouterr().err
    found = _features([out / "city.gpkg"])

    vehicles = found["vehicles"]
    assert len(vehicles) == len(VEHICLES)  # none counted twice or in halves
    expected_boxes = sorted((ORIGIN[0] + col * RES, ORIGIN[1] - (row + 10) * RES,
                             ORIGIN[0] + (col + 20) * RES, ORIGIN[1] - row * RES)
                            for row, col in VEHICLES)
    np.testing.assert_allclose(sorted(tuple(v.bounds) for v in vehicles), expected_boxes)
    assert [v.area for v in vehicles] == pytest.approx([200 * RES**2] * len(VEHICLES))

    (road,) = found["roads"]  # one polygon: both roads, their crossing, no seams
    # dilated by the model's 3×3 maximum: 10 rows and 8 columns across the image
    assert road.area == pytest.approx((10 * 256 + 8 * 256 - 10 * 8) * RES**2, rel=1e-3)
    lines = found["centerlines"]
    assert len(lines) == 4  # two crossing roads: four arms from one junction
    junction = shapely.intersection_all(lines)
    assert junction.geom_type == "Point"  # every arm ends at the same junction…
    crossing = shapely.Point(ORIGIN[0] + 153 * RES, ORIGIN[1] - 104 * RES)
    assert junction.distance(crossing) < 3 * RES  # …where the roads cross
    assert sum(line.length for line in lines) == pytest.approx(2 * 256 * RES, rel=0.02)

    # for contrast, tile by tile: every border cuts roads and vehicles. The 2×2 tiles
    # around the crossing (rows and columns 96-160) hold one vehicle and both roads.
    apart = tmp_path / "apart"
    apart.mkdir()
    middle = [tmp_path / "tiles" / f"tile_{row}_{col}.tif" for row in (3, 4) for col in (4, 5)]
    code = main(["predict", *map(str, middle), "-o", str(apart),
                 "--vector", str(apart / "tile.gpkg"), *common])
    assert code == 0, capsys.readouterr().err
    pieces = _features(sorted(apart.glob("tile_*.gpkg")))
    assert len(pieces["vehicles"]) > 1  # one vehicle, counted once for each piece…
    assert max(v.area for v in pieces["vehicles"]) < 200 * RES**2  # …and none of it whole
    assert len(pieces["roads"]) == 3
    # the crossing's arms are cut at 32 px: what is left is too short to keep as centerlines
    assert sum(line.length for line in pieces["centerlines"]) < 64 * RES
