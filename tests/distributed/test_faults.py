"""Workers dying, cancelling, unreachable schedulers: complete output or none, fast errors."""

from __future__ import annotations

import os
import signal
import time

import pytest

from unet_gis.errors import Cancelled, UserError
from unet_gis.inference.engine import EngineOptions, predict
from unet_gis.inference.progress import CancelToken, Progress
from unet_gis.model.checkpoint import LoadedModel, load_checkpoint

from .conftest import assert_same_raster, odd_scene, uint16_scene

pytest.importorskip("distributed")

from unet_gis.distributed import (
    ClusterOptions,
    open_cluster,
    predict_on_cluster,
    predict_scenes_on_cluster,
)
from unet_gis.distributed.cluster import ClusterTarget


def test_a_worker_killed_mid_run_changes_nothing(tmp_path, tiny_checkpoint) -> None:
    model = load_checkpoint(tiny_checkpoint)
    image = odd_scene(tmp_path / "scene.tif", 640, 520, seed=5)
    local = predict(image, tmp_path / "local.tif", model, EngineOptions(device="cpu"))
    killed: list[str] = []
    with open_cluster("local:2", memory_limit="1GiB") as session:
        client = session.client
        before = set(session.worker_threads())

        def kill_a_busy_worker(progress: Progress) -> None:
            if killed:
                return
            busy = [w for w, keys in client.processing().items() if keys]
            if busy:  # dies in the middle of a task, holding finished results too
                killed.append(busy[0])
                pid = client.run(os.getpid, workers=[busy[0]])[busy[0]]
                os.kill(pid, signal.SIGKILL)

        result = predict_on_cluster(image, tmp_path / "cluster.tif", model,
                                    EngineOptions(device="cpu"), progress=kill_a_busy_worker,
                                    cluster=session,
                                    tuning=ClusterOptions(cores_per_task=2, max_in_flight=6))
        after = set(session.worker_threads())
    assert killed and killed[0] in before and killed[0] not in after
    assert_same_raster(local.output, result.output)


def test_cancel_mid_run_leaves_no_output_and_no_tasks(tmp_path, tiny_checkpoint,
                                                       cluster) -> None:
    model = load_checkpoint(tiny_checkpoint)
    images = [odd_scene(tmp_path / "a.tif", 400, 300, seed=6),
              uint16_scene(tmp_path / "b.tif", 300, 200, seed=7)]
    token = CancelToken()
    seen: list[Progress] = []

    def cancel_after_two_tasks(progress: Progress) -> None:
        seen.append(progress)
        if len(seen) == 2:
            token.cancel()

    with pytest.raises(Cancelled):
        predict_scenes_on_cluster(
            [(image, tmp_path / f"{image.stem}_out.tif") for image in images], model,
            EngineOptions(device="cpu"), progress=cancel_after_two_tasks, cancel=token,
            cluster=cluster, tuning=ClusterOptions(cores_per_task=1, max_in_flight=4))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.tif", "b.tif", "tiny.safetensors"]
    assert seen[-1].done < seen[-1].total
    deadline = time.monotonic() + 5
    while _our_tasks(cluster) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _our_tasks(cluster)


def _our_tasks(session) -> list[str]:
    """Keys of this package's tasks the scheduler still holds for anyone."""
    keys = session.client.run_on_scheduler(
        lambda dask_scheduler: [str(k) for k in dask_scheduler.tasks])
    return [k for k in keys if k.startswith("unet-gis-")]


@pytest.mark.parametrize("address", ["tcp://127.0.0.1:1", "127.0.0.1:1"])
def test_an_unreachable_scheduler_fails_fast_and_clearly(tmp_path, tiny_checkpoint,
                                                         address) -> None:
    model = load_checkpoint(tiny_checkpoint)
    image = uint16_scene(tmp_path / "scene.tif", 50, 60, seed=8)
    start = time.monotonic()
    with pytest.raises(UserError, match="Could not reach the Dask scheduler at tcp://127.0.0.1:1"):
        predict_on_cluster(image, tmp_path / "out.tif", model, EngineOptions(device="cpu"),
                           cluster=address)
    assert time.monotonic() - start < 5
    assert not (tmp_path / "out.tif").exists()


def test_a_listening_port_that_is_no_scheduler_fails_within_the_timeout() -> None:
    import socket

    with socket.socket() as server:  # accepts connections, never speaks Dask
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        start = time.monotonic()
        with pytest.raises(UserError, match=f"127.0.0.1:{port}"):
            open_cluster(f"tcp://127.0.0.1:{port}", connect_timeout=1.0)
        assert time.monotonic() - start < 5


@pytest.mark.parametrize("text", ["local:0", "local:x", "locals", "tcp://a b:1", ""])
def test_bad_cluster_addresses_are_refused(text) -> None:
    with pytest.raises(UserError):
        ClusterTarget.parse(text)


def test_cluster_addresses() -> None:
    assert ClusterTarget.parse("local:3") == ClusterTarget(None, 3)
    assert ClusterTarget.parse("local").workers == (os.cpu_count() or 1)
    assert ClusterTarget.parse("host:8786").address == "tcp://host:8786"
    assert ClusterTarget.parse("tls://10.0.0.1:8786").address == "tls://10.0.0.1:8786"


def test_a_model_without_a_file_is_refused(tmp_path, tiny_model: LoadedModel) -> None:
    image = uint16_scene(tmp_path / "scene.tif", 50, 60, seed=9)
    with pytest.raises(UserError, match="save it"):
        predict_on_cluster(image, tmp_path / "out.tif", tiny_model, cluster="local:1")


def test_two_images_writing_one_output_are_refused(tmp_path, tiny_checkpoint) -> None:
    model = load_checkpoint(tiny_checkpoint)
    image = uint16_scene(tmp_path / "scene.tif", 50, 60, seed=10)
    with pytest.raises(UserError, match="same output"):
        predict_scenes_on_cluster([(image, tmp_path / "o.tif"), (image, tmp_path / "o.tif")],
                                  model, cluster="local:1")
