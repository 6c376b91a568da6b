"""Dask is an optional extra: nothing imports it unless a run asks for a cluster."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from ..conftest import random_rgb, write_geotiff


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=120)


def test_core_modules_and_a_local_predict_do_not_import_dask(tmp_path, tiny_checkpoint) -> None:
    image = write_geotiff(tmp_path / "scene.tif", random_rgb(70, 90))
    (tmp_path / "out").mkdir()
    done = _run(f"""
        import importlib, pkgutil, sys
        for name in ("inference", "raster", "model", "vector"):
            package = importlib.import_module("unet_gis." + name)
            for module in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
                importlib.import_module(module.name)
        from unet_gis.cli.main import build_parser, main
        build_parser()  # imports every sub-command module
        code = main(["predict", {str(image)!r}, "-o", {str(tmp_path / "out")!r},
                     "--model", {str(tiny_checkpoint)!r}, "--device", "cpu", "--quiet"])
        loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("dask", "distributed"))
        print("LOADED", loaded, "CODE", code)
    """)
    assert done.returncode == 0, done.stderr
    assert "LOADED [] CODE 0" in done.stdout, done.stdout + done.stderr
    assert (tmp_path / "out" / "scene_probabilities.tif").exists()


def test_without_dask_a_cluster_run_says_how_to_install_it(tmp_path, tiny_checkpoint) -> None:
    image = write_geotiff(tmp_path / "scene.tif", random_rgb(40, 40))
    done = _run(f"""
        import sys
        sys.modules["distributed"] = None  # as if the [cluster] extra were not installed
        sys.modules["dask"] = None
        from unet_gis.cli.main import main
        raise SystemExit(main(["predict", {str(image)!r}, "-o", {str(tmp_path)!r},
                               "--model", {str(tiny_checkpoint)!r}, "--cluster", "local:1"]))
    """)
    assert done.returncode == 1, done.stderr
    assert "pip install 'unet-gis[cluster]'" in done.stderr
    assert "Traceback" not in done.stderr


def test_cli_cluster_run_by_address(tmp_path, tiny_checkpoint, cluster, capsys) -> None:
    pytest.importorskip("distributed")
    from unet_gis.cli.main import main

    images = [write_geotiff(tmp_path / f"{name}.tif", random_rgb(100, 130, seed=seed))
              for seed, name in enumerate(("one", "two"))]
    out = tmp_path / "out"
    out.mkdir()
    code = main(["predict", *map(str, images), "-o", str(out), "--model",
                 str(tiny_checkpoint), "--device", "cpu", "--quiet", "--cluster",
                 cluster.client.scheduler.address])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "Dask scheduler at tcp://" in captured.out
    assert sorted(p.name for p in out.iterdir()) == [  # each raster with its QGIS style
        "one_probabilities.qml", "one_probabilities.tif", "two_probabilities.qml",
        "two_probabilities.tif"]


def test_cli_unreachable_scheduler_is_one_line(tmp_path, tiny_checkpoint, capsys) -> None:
    pytest.importorskip("distributed")
    from unet_gis.cli.main import main

    image = write_geotiff(tmp_path / "scene.tif", random_rgb(40, 40))
    code = main(["predict", str(image), "-o", str(tmp_path), "--model", str(tiny_checkpoint),
                 "--cluster", "tcp://127.0.0.1:1"])
    err = capsys.readouterr().err
    assert code == 1
    assert err.count("unet-gis: error: Could not reach the Dask scheduler") == 1, err
    assert not (tmp_path / "scene_probabilities.tif").exists()
