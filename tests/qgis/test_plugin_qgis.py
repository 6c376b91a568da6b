"""The QGIS plugin in a real QGIS: the three algorithms through ``processing.run``.

Needs PyQGIS, which the project's venv cannot import: run ``packaging/qgis/test.sh``
(QGIS's Python with the venv's packages).  Elsewhere these tests skip.  Data: a 512x512
crop of the bundled sample scene and the bundled model (real data: the layers must not be
empty).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("qgis.core", reason="PyQGIS is not importable from this Python; run "
                                        "packaging/qgis/test.sh (QGIS's Python)")

import numpy as np
import rasterio
from qgis.core import (
    QgsApplication,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProcessingOutputLayerDefinition,
    QgsProject,
    QgsRaster,
    QgsRasterLayer,
    QgsVectorLayer,
    QgsWkbTypes,
)
from rasterio.windows import Window

from unet_gis.errors import UserError
from unet_gis.inference.choices import DEVICE_CHOICES, PRECISION_CHOICES
from unet_gis.integrations.processing import CANCELLED_MESSAGE
from unet_gis.model.metadata import load_spec
from unet_gis.model.zoo import default_model_path
from unet_gis.raster.probability import open_probability_raster
from unet_gis.resources import sample_scene

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
CROP = 512
POLYGON_FIELDS = {"class", "area_m2", "score"}
LINE_FIELDS = {"class", "length_m", "score"}


class Recorder(QgsProcessingFeedback):
    """Keeps the progress values and the log lines an algorithm reports."""

    def __init__(self) -> None:
        super().__init__()
        self.progress: list[float] = []
        self.infos: list[str] = []
        self.warnings: list[str] = []
        self.progressChanged.connect(self.progress.append)

    def pushInfo(self, info: str) -> None:  # noqa: N802 - QGIS's name
        self.infos.append(info)
        super().pushInfo(info)

    def pushWarning(self, warning: str) -> None:  # noqa: N802 - QGIS's name
        self.warnings.append(warning)
        super().pushWarning(warning)


@pytest.fixture(scope="session")
def plugin() -> Iterator[Any]:
    """QGIS (offscreen), Processing, and the plugin loaded as QGIS loads it."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    app = QgsApplication.instance() or QgsApplication([], False)
    app.initQgis()
    sys.path.append(os.path.join(QgsApplication.pkgDataPath(), "python", "plugins"))
    from processing.core.Processing import Processing
    from unet_gis_qgis import classFactory

    Processing.initialize()
    loaded = classFactory(None)
    loaded.initProcessing()
    assert loaded.problem is None
    yield loaded
    loaded.unload()


@pytest.fixture(scope="session")
def crop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample scene's top-left 512x512 pixels, with its CRS and transform."""
    path = tmp_path_factory.mktemp("scene") / "crop.tif"
    with rasterio.open(sample_scene()) as src:
        window = Window(0, 0, CROP, CROP)
        profile = src.profile | {"width": CROP, "height": CROP,
                                 "transform": src.window_transform(window)}
        with rasterio.open(path, "w", **profile) as dst:
            dst.write(src.read(window=window))
    return path


def run(algorithm: str, parameters: dict[str, Any], feedback: QgsProcessingFeedback,
        context: QgsProcessingContext | None = None,
        on_finish: Callable[..., Any] | None = None) -> dict[str, Any]:
    import processing

    return processing.run(f"unet-gis:{algorithm}", parameters, feedback=feedback,
                          context=context, onFinish=on_finish)


def crs_of(path: Path) -> str:
    return QgsRasterLayer(str(path), "input").crs().authid()


def check_progress(values: list[float]) -> None:
    assert values and values == sorted(values) and values[-1] == 100.0
    assert all(0.0 <= v <= 100.0 for v in values)


SINKS = {"VEHICLES": "vehicles", "ROADS": "roads", "ROAD_CENTERLINES": "road_centerlines"}


def sink_files(folder: Path) -> dict[str, str]:
    """The three feature sinks as GeoPackages in ``folder``."""
    return {name: str(folder / f"{key}.gpkg") for name, key in SINKS.items()}


def check_layers(result: dict[str, Any], crs: str,
                 layers_of: Callable[[str], QgsVectorLayer] | None = None
                 ) -> dict[str, QgsVectorLayer]:
    """Every sink valid, in ``crs``, with its fields; by key (vehicles, roads, ...)."""
    layers = {}
    for name, key in SINKS.items():
        value = result[name]
        layer = layers_of(value) if layers_of else QgsVectorLayer(value, key, "ogr")
        assert layer.isValid(), value
        assert layer.crs().authid() == crs
        names = set(layer.fields().names())
        if layer.geometryType() == QgsWkbTypes.LineGeometry:
            assert names >= LINE_FIELDS, (key, names)
        else:
            assert layer.geometryType() == QgsWkbTypes.PolygonGeometry
            assert names >= POLYGON_FIELDS, (key, names)
        layers[key] = layer
    assert set(layers) == {"vehicles", "roads", "road_centerlines"}
    assert layers["vehicles"].featureCount() > 0 and layers["roads"].featureCount() > 0
    return layers


@pytest.fixture(scope="session")
def probabilities(plugin: Any, crop: Path,
                  tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Recorder]:
    feedback = Recorder()
    output = tmp_path_factory.mktemp("segment") / "crop_probabilities.tif"
    result = run("segmentraster", {"INPUT": str(crop), "OUTPUT": str(output),
                                   "DEVICE": DEVICE_CHOICES.index("cpu")}, feedback)
    assert result["OUTPUT"] == str(output)
    return output, feedback


def test_the_provider_offers_three_algorithms_with_the_shared_choices(plugin: Any) -> None:
    registry = QgsApplication.processingRegistry()
    provider = registry.providerById("unet-gis")
    assert provider is not None and not provider.icon().isNull()
    assert sorted(a.id() for a in provider.algorithms()) == [
        "unet-gis:segmentandvectorize", "unet-gis:segmentraster",
        "unet-gis:vectorizeprobabilities"]
    segment = registry.algorithmById("unet-gis:segmentraster")
    assert segment.parameterDefinition("MODEL").defaultValue() == str(default_model_path())
    assert segment.parameterDefinition("DEVICE").options() == list(DEVICE_CHOICES)
    assert segment.parameterDefinition("PRECISION").options() == list(PRECISION_CHOICES)
    assert provider.supportedOutputRasterLayerExtensions() == ["tif"]


def test_segment_raster_writes_a_styled_probability_raster_in_the_input_crs(
        probabilities: tuple[Path, Recorder], crop: Path) -> None:
    output, feedback = probabilities
    layer = QgsRasterLayer(str(output), "probabilities")
    assert layer.isValid()
    assert layer.crs().authid() == crs_of(crop)
    spec = load_spec(default_model_path())
    # exactly one band per class: invalid pixels are nodata, not a mask QGIS would show
    # as one more band (the crop of the sample has an alpha band)
    assert layer.bandCount() == len(spec.classes)
    names = [layer.bandName(band) for band in range(1, layer.bandCount() + 1)]
    assert names == [f"Band {i}: {c.name}" for i, c in enumerate(spec.classes, start=1)]
    provider = layer.dataProvider()
    assert [provider.sourceNoDataValue(b) for b in (1, 2)] == [255.0, 255.0]
    values = provider.identify(layer.extent().center(), QgsRaster.IdentifyFormatValue)
    assert all(0.0 <= v <= 1.0 for v in values.results().values())  # through the scale
    assert output.with_suffix(".qml").is_file()
    assert layer.renderer().type() == "singlebandpseudocolor"  # the .qml, not RGB bands
    check_progress(feedback.progress)
    assert any(line.startswith(f"{CROP}x{CROP} px in ") for line in feedback.infos)


def test_vectorize_uses_the_model_thresholds_and_writes_every_layer(
        probabilities: tuple[Path, Recorder], crop: Path, tmp_path: Path) -> None:
    feedback = Recorder()
    sinks = sink_files(tmp_path)
    result = run("vectorizeprobabilities", {"INPUT": str(probabilities[0]), **sinks},
                 feedback)
    assert all(result[name] == path for name, path in sinks.items())
    assert "OUTPUT" not in result  # no GeoPackage of every layer unless asked for
    layers = check_layers(result, crs_of(crop))
    spec = load_spec(default_model_path())
    expected = ", ".join(f"{c.name} {c.threshold:.2f} (model)" for c in spec.classes)
    assert f"Thresholds: {expected}" in feedback.infos
    assert result["SUMMARY"].startswith(f"{layers['vehicles'].featureCount()} vehicles, ")
    check_progress(feedback.progress)


def test_thresholds_and_switches_reach_the_vectorizer(
        probabilities: tuple[Path, Recorder], tmp_path: Path) -> None:
    feedback = Recorder()
    first = load_spec(default_model_path()).classes[0].name
    result = run("vectorizeprobabilities", {
        "INPUT": str(probabilities[0]), **sink_files(tmp_path),
        "OUTPUT": str(tmp_path / "all.gpkg"),
        "THRESHOLDS": f"{first}=0.5", "CENTERLINES": False, "MIN_AREA": 5.0}, feedback)
    assert any(f"{first} 0.50 (set)" in line for line in feedback.infos)
    lines = QgsVectorLayer(result["ROAD_CENTERLINES"], "lines", "ogr")
    assert lines.isValid() and lines.featureCount() == 0  # an empty layer: no centerlines
    assert QgsVectorLayer(result["ROADS"], "roads", "ogr").featureCount() > 0
    everything = QgsVectorLayer(f"{result['OUTPUT']}|layername=crop_vehicles", "v", "ogr")
    assert everything.isValid() and everything.featureCount() > 0


def test_classes_pick_the_layers_that_get_features(
        probabilities: tuple[Path, Recorder], tmp_path: Path) -> None:
    feedback = Recorder()
    result = run("vectorizeprobabilities", {
        "INPUT": str(probabilities[0]), **sink_files(tmp_path), "CLASSES": "vehicle"},
        feedback)
    counts = {key: QgsVectorLayer(result[name], key, "ogr").featureCount()
              for name, key in SINKS.items()}
    assert counts["vehicles"] > 0 and counts["roads"] == 0 and counts["road_centerlines"] == 0
    vehicle = next(c for c in load_spec(default_model_path()).classes if c.name == "vehicle")
    assert f"Thresholds: vehicle {vehicle.threshold:.2f} (model)" in feedback.infos


def test_segment_and_vectorize_loads_styled_layers_named_after_the_image(
        plugin: Any, crop: Path) -> None:
    """As from the dialog: temporary outputs loaded into the project on completion."""
    from processing.gui.Postprocessing import handleAlgorithmResults

    project = QgsProject.instance()
    project.clear()
    context = QgsProcessingContext()
    context.setProject(project)
    feedback = Recorder()
    ours: list[float] = []

    def load(*args: Any) -> None:  # loading the layers restarts the bar: not ours
        ours.extend(feedback.progress)
        handleAlgorithmResults(*args)

    temporary = {name: QgsProcessingOutputLayerDefinition("TEMPORARY_OUTPUT", project)
                 for name in ("PROBABILITIES", *SINKS)}
    result = run("segmentandvectorize", {
        "INPUT": str(crop), "DEVICE": DEVICE_CHOICES.index("cpu"), **temporary},
        feedback, context, load)
    probabilities = Path(result["PROBABILITIES"])
    assert probabilities.name == "crop_probabilities.tif" and probabilities.is_file()
    check_layers(result, crs_of(crop), project.mapLayer)
    check_progress(ours)
    assert 80.0 in ours  # segmenting fills the bar to 80 %, vectorizing the rest
    loaded = {layer.name(): layer for layer in project.mapLayers().values()}
    assert {"crop_vehicles", "crop_roads", "crop_road_centerlines"} <= set(loaded)
    rasters = [layer for layer in loaded.values() if isinstance(layer, QgsRasterLayer)]
    assert len(rasters) == 1 and rasters[0].source() == str(probabilities)
    assert rasters[0].renderer().type() == "singlebandpseudocolor"
    spec = load_spec(default_model_path())
    colours = {c.name: "#{:02x}{:02x}{:02x}".format(*c.color[:3]) for c in spec.classes}
    vehicles = loaded["crop_vehicles"].renderer().symbol().symbolLayer(0)
    assert vehicles.strokeColor().name() in colours.values()  # the GeoPackage's style
    project.clear()


@pytest.mark.parametrize("algorithm", ["segmentraster", "vectorizeprobabilities",
                                       "segmentandvectorize"])
def test_cancelling_after_the_first_progress_leaves_no_output(
        algorithm: str, probabilities: tuple[Path, Recorder], crop: Path,
        tmp_path: Path) -> None:
    feedback = Recorder()
    feedback.progressChanged.connect(lambda _: feedback.cancel())
    folder = tmp_path / "out"
    folder.mkdir()
    parameters: dict[str, Any] = {
        "segmentraster": {"INPUT": str(crop), "OUTPUT": str(folder / "p.tif")},
        "vectorizeprobabilities": {"INPUT": str(probabilities[0]), **sink_files(folder),
                                   "OUTPUT": str(folder / "v.gpkg")},
        "segmentandvectorize": {"INPUT": str(crop), "PROBABILITIES": str(folder / "p.tif"),
                                **sink_files(folder), "OUTPUT": str(folder / "v.gpkg")},
    }[algorithm]
    with pytest.raises(QgsProcessingException, match=f"^{CANCELLED_MESSAGE}$"):
        run(algorithm, parameters, feedback)
    assert feedback.isCanceled() and feedback.progress
    assert list(folder.iterdir()) == []  # no output, no temporaries, no sidecars


def test_errors_carry_the_cli_one_line_message(plugin: Any, crop: Path,
                                               tmp_path: Path) -> None:
    with pytest.raises(UserError) as not_probabilities:  # the message the CLI prints
        open_probability_raster(crop)
    with pytest.raises(QgsProcessingException) as info:
        run("vectorizeprobabilities", {"INPUT": str(crop), **sink_files(tmp_path)}, Recorder())
    assert str(info.value) == str(not_probabilities.value)
    with pytest.raises(QgsProcessingException, match="^Thresholds: expected CLASS="):
        run("vectorizeprobabilities", {"INPUT": str(crop), "THRESHOLDS": "road=2",
                                       **sink_files(tmp_path)}, Recorder())
    with pytest.raises(QgsProcessingException, match="does not overlap the raster"):
        run("segmentraster", {"INPUT": str(crop), "OUTPUT": str(tmp_path / "p.tif"),
                              "EXTENT": "0,1,0,1 [EPSG:4326]"}, Recorder())
    assert list(tmp_path.iterdir()) == []


def test_an_extent_segments_only_that_part(plugin: Any, crop: Path, tmp_path: Path) -> None:
    layer = QgsRasterLayer(str(crop), "crop")
    full = layer.extent()
    half = (f"{full.xMinimum()},{full.center().x()},{full.center().y()},{full.yMaximum()} "
            f"[{layer.crs().authid()}]")
    output = tmp_path / "part.tif"
    run("segmentraster", {"INPUT": str(crop), "OUTPUT": str(output), "EXTENT": half},
        Recorder())
    with rasterio.open(output) as part:
        assert part.width <= CROP // 2 + 64 and part.height <= CROP // 2 + 64
        assert np.isclose(part.bounds.left, full.xMinimum())


def test_an_aoi_layer_segments_inside_its_polygons_only(plugin: Any, crop: Path,
                                                        tmp_path: Path) -> None:
    """A polygon layer in another CRS (WGS 84) over the crop's top-left quarter: the
    output covers that quarter (the engine reprojects the polygon)."""
    from qgis.core import (
        QgsCoordinateReferenceSystem,
        QgsCoordinateTransform,
        QgsFeature,
        QgsGeometry,
        QgsProject,
        QgsRectangle,
    )

    raster = QgsRasterLayer(str(crop), "crop")
    full = raster.extent()
    quarter = QgsRectangle(full.xMinimum(), full.center().y(), full.center().x(),
                           full.yMaximum())
    wgs84 = QgsCoordinateReferenceSystem("EPSG:4326")
    transform = QgsCoordinateTransform(raster.crs(), wgs84, QgsProject.instance())
    aoi = QgsVectorLayer("Polygon?crs=EPSG:4326", "aoi", "memory")
    feature = QgsFeature()
    triangle = QgsGeometry.fromPolygonXY([[
        transform.transform(quarter.xMinimum(), quarter.yMinimum()),
        transform.transform(quarter.xMaximum(), quarter.yMaximum()),
        transform.transform(quarter.xMinimum(), quarter.yMaximum())]])
    feature.setGeometry(triangle)
    aoi.dataProvider().addFeatures([feature])
    output = tmp_path / "aoi.tif"
    run("segmentraster", {"INPUT": str(crop), "OUTPUT": str(output), "AOI": aoi,
                          "DEVICE": DEVICE_CHOICES.index("cpu")}, Recorder())
    with rasterio.open(output) as part:  # the polygon's bounds, back in the crop's CRS
        assert CROP // 2 - 2 <= part.width <= CROP // 2 + 2
        assert CROP // 2 - 2 <= part.height <= CROP // 2 + 2
        assert abs(part.bounds.left - full.xMinimum()) < 1.0
        assert abs(part.bounds.top - full.yMaximum()) < 1.0


def test_the_engine_never_loads_into_qgis_s_process(plugin: Any, crop: Path,
                                                    tmp_path: Path) -> None:
    """QGIS links its own GDAL and GEOS: the plugin runs the engine in a worker, and
    loads none of rasterio, shapely, pyogrio or torch itself."""
    code = (
        "import os, sys\n"
        "from qgis.core import QgsApplication\n"
        "app = QgsApplication([], False); app.initQgis()\n"
        "sys.path.append(os.path.join(QgsApplication.pkgDataPath(), 'python', 'plugins'))\n"
        "from processing.core.Processing import Processing\n"
        "Processing.initialize()\n"
        "from unet_gis_qgis import classFactory\n"
        "plugin = classFactory(None); plugin.initProcessing()\n"
        "import processing\n"
        f"processing.run('unet-gis:segmentandvectorize', {{'INPUT': {str(crop)!r}, "
        f"'DEVICE': 1, 'PROBABILITIES': {str(tmp_path / 'p.tif')!r}, "
        f"'VEHICLES': {str(tmp_path / 'v.gpkg')!r}}})\n"
        "heavy = sorted({m.split('.')[0] for m in sys.modules} & "
        "{'rasterio', 'shapely', 'pyogrio', 'torch', 'geopandas'})\n"
        "print('HEAVY', heavy, flush=True)\n"
        "os._exit(0)\n")
    env = os.environ | {"QT_QPA_PLATFORM": "offscreen", "HOME": str(tmp_path),
                        "PYTHONPATH": os.pathsep.join([str(ROOT / "packaging" / "qgis"),
                                                       os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    assert "HEAVY []" in done.stdout, done.stdout + done.stderr[-3000:]
    assert QgsVectorLayer(str(tmp_path / "v.gpkg"), "v", "ogr").featureCount() > 0


def plugin_alone(tmp_path: Path, plugins: Path | None = None,
                 **environ: str) -> subprocess.CompletedProcess[str]:
    """Load the plugin in a fresh QGIS whose Python has only the plugin on its path:
    from this checkout, or from ``plugins`` the way QGIS starts an installed plugin."""
    if plugins is None:
        start = ("from unet_gis_qgis import classFactory\n"
                 "plugin = classFactory(None); plugin.initProcessing()\n")
    else:
        start = ("import qgis.utils\n"
                 f"qgis.utils.plugin_paths = [{str(plugins)!r}]; "
                 f"sys.path.insert(0, {str(plugins)!r})\n"
                 "qgis.utils.updateAvailablePlugins()\n"
                 "print('NAME', qgis.utils.pluginMetadata('unet_gis_qgis', 'name'))\n"
                 "assert qgis.utils.loadPlugin('unet_gis_qgis')\n"
                 "assert qgis.utils.startProcessingPlugin('unet_gis_qgis')\n"
                 "plugin = qgis.utils.plugins['unet_gis_qgis']\n")
    code = (
        "import os, sys\n"
        "from qgis.core import QgsApplication\n"
        "app = QgsApplication([], False); app.initQgis()\n"
        "messages = []\n"
        "QgsApplication.messageLog().messageReceived.connect("
        "lambda text, tag, level: messages.append((tag, text)))\n"
        + start +
        "QgsApplication.processEvents()\n"
        "provider = QgsApplication.processingRegistry().providerById('unet-gis')\n"
        "print('PROVIDER', provider is not None)\n"
        "print('ALGORITHMS', len(provider.algorithms()) if provider else 0)\n"
        "for tag, text in messages: print('LOG', tag, text)\n"
        "plugin.unload()\n"
    )
    env = {key: value for key, value in os.environ.items()
           if key not in ("PYTHONPATH", "UNET_GIS_PYTHONPATH")}
    env.update(QT_QPA_PLATFORM="offscreen", HOME=str(tmp_path),  # no settings of the user's
               **environ)
    if plugins is None:
        env["PYTHONPATH"] = str(ROOT / "packaging" / "qgis")
    return subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300, check=False)


def unet_gis_pythonpath() -> str:
    """This run's environment, and this checkout (in case unet-gis is not installed there)."""
    return os.pathsep.join([str(Path(np.__file__).parents[1]), str(ROOT)])


def test_without_unet_gis_the_plugin_loads_and_says_how_to_install(tmp_path: Path) -> None:
    result = plugin_alone(tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "PROVIDER False" in result.stdout
    logged = [line for line in result.stdout.splitlines() if line.startswith("LOG unet-gis ")]
    assert len(logged) == 1, result.stdout
    assert "-m pip install unet-gis" in logged[0] and "UNET_GIS_PYTHONPATH" in logged[0]


def test_unet_gis_pythonpath_names_a_separate_environment(tmp_path: Path) -> None:
    result = plugin_alone(tmp_path, UNET_GIS_PYTHONPATH=unet_gis_pythonpath())
    assert result.returncode == 0, result.stderr[-2000:]
    assert "PROVIDER True" in result.stdout, result.stdout + result.stderr[-2000:]
    assert "ALGORITHMS 3" in result.stdout


def test_the_zip_installs_and_starts_as_qgis_starts_plugins(tmp_path: Path) -> None:
    """``make qgis-plugin``'s zip, unpacked into a profile's plugin folder as "Install
    from ZIP" does, found and started by QGIS's own plugin loader."""
    import zipfile

    target = tmp_path / "unet_gis_qgis.zip"
    subprocess.run([sys.executable, str(ROOT / "packaging" / "qgis" / "build.py"),
                    str(target)], check=True, capture_output=True, timeout=120)
    plugins = tmp_path / "profiles" / "default" / "python" / "plugins"
    with zipfile.ZipFile(target) as archive:
        archive.extractall(plugins)
    result = plugin_alone(tmp_path, plugins, UNET_GIS_PYTHONPATH=unet_gis_pythonpath())
    assert result.returncode == 0, result.stderr[-2000:]
    assert "NAME unet-gis" in result.stdout and "ALGORITHMS 3" in result.stdout, (
        result.stdout + result.stderr[-2000:])
