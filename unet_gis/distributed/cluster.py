"""Connecting to a Dask scheduler, or starting a LocalCluster, with errors a user can act on."""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
import re
import socket
import time
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from unet_gis.errors import UserError, first_line

if TYPE_CHECKING:
    from distributed import Client

CONNECT_TIMEOUT_S = 3.0
WORKER_TIMEOUT_S = 60.0
_LOCAL = re.compile(r"^local(?::(\d+))?$")
_INSTALL_HINT = ("running on a cluster needs Dask: pip install 'unet-gis[cluster]' "
                 "(dask[distributed])")


@dataclass(frozen=True)
class ClusterTarget:
    """``local`` with ``workers`` processes, or the ``address`` of a running scheduler."""

    address: str | None
    workers: int = 0

    @classmethod
    def parse(cls, text: str) -> ClusterTarget:
        text = text.strip()
        if text.startswith("local"):
            match = _LOCAL.match(text)
            if not match or (match.group(1) is not None and int(match.group(1)) < 1):
                raise UserError(f"--cluster {text}: write local, or local:N with N >= 1 "
                                "worker processes.")
            return cls(None, int(match.group(1) or (os.cpu_count() or 1)))
        if not text:
            raise UserError("--cluster needs a scheduler address such as tcp://host:8786, "
                            "or local[:N].")
        address = text if "://" in text else f"tcp://{text}"
        if not re.match(r"^[a-z]+://[^\s/]+(:\d+)?/?$", address):
            raise UserError(f"--cluster {text} is not a scheduler address like "
                            "tcp://host:8786 (or local[:N]).")
        return cls(address)

    @property
    def description(self) -> str:
        return f"local Dask cluster ({self.workers} processes)" if self.address is None \
            else f"Dask scheduler at {self.address}"


class ClusterSession:
    """An open Dask client (and the LocalCluster it owns, if any).

    Keep one open across runs (the app does) to pay the connection and the workers'
    model loading once; :func:`predict_on_cluster` also accepts an address and then opens
    and closes a session itself.
    """

    def __init__(self, client: Client, target: ClusterTarget, owned: Any | None = None) -> None:
        self.client = client
        self.target = target
        self._owned = owned

    @property
    def description(self) -> str:
        return self.target.description

    def worker_threads(self) -> dict[str, int]:
        """Worker threads per worker address (at the time of the call)."""
        try:  # Dask >= 2025.1 lists only 5 workers unless asked for all
            info = self.client.scheduler_info(n_workers=-1)
        except TypeError:
            info = self.client.scheduler_info()
        workers = info.get("workers", {})
        return {address: int(info.get("nthreads", 1)) for address, info in workers.items()}

    def processes_per_host(self) -> dict[str, int]:
        """How many worker processes share each host, to split its CPU cores between them."""
        from distributed.comm import get_address_host

        return dict(Counter(get_address_host(a) for a in self.worker_threads()))

    def close(self) -> None:
        self.client.close()
        if self._owned is not None:
            self._owned.close()

    def __enter__(self) -> ClusterSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_cluster(target: str | ClusterTarget, connect_timeout: float = CONNECT_TIMEOUT_S,
                 worker_timeout: float = WORKER_TIMEOUT_S,
                 memory_limit: str | None = None) -> ClusterSession:
    """Connect to a scheduler (``tcp://host:8786``) or start ``local[:N]``.

    Raises :class:`UserError` when Dask is missing, the scheduler cannot be reached within
    ``connect_timeout`` seconds, or no worker joins it within ``worker_timeout`` seconds.
    """
    if isinstance(target, str):
        target = ClusterTarget.parse(target)
    try:
        import dask
        from distributed import Client, LocalCluster
    except ImportError as exc:
        raise UserError(_INSTALL_HINT) from exc
    # Dask logs every connection and worker event at INFO; the user wants our progress bar
    for name in ("distributed", "distributed.scheduler", "distributed.worker",
                 "distributed.nanny", "distributed.core"):
        logger = logging.getLogger(name)
        if logger.getEffectiveLevel() < logging.WARNING:
            logger.setLevel(logging.WARNING)
    if target.address is None:
        # Dask's nannies export MALLOC_TRIM_THRESHOLD_=65536, which also freezes glibc's
        # mmap threshold: every tensor-sized buffer is then mmap'd and faulted in anew, and
        # inference in a worker ran 1.75x slower than in this process (see docs/cluster.md)
        environ = dict(dask.config.get("distributed.nanny.pre-spawn-environ", {}))
        environ["MALLOC_TRIM_THRESHOLD_"] = None  # None unsets it
        # processes, one thread each: torch uses the cores, GDAL handles are per process
        with dask.config.set({"distributed.nanny.pre-spawn-environ": environ}):
            cluster = LocalCluster(n_workers=target.workers, threads_per_worker=1,
                                   processes=True, dashboard_address=None,
                                   silence_logs=logging.CRITICAL,
                                   memory_limit=memory_limit or "auto")
        return ClusterSession(Client(cluster, set_as_default=False), target, cluster)
    _probe(target.address, connect_timeout)
    with dask.config.set({"distributed.comm.timeouts.connect": f"{connect_timeout}s"}):
        try:
            client = Client(target.address, timeout=connect_timeout, set_as_default=False)
        except (OSError, TimeoutError) as exc:
            raise UserError(
                f"Could not reach the Dask scheduler at {target.address} within "
                f"{connect_timeout:g} s ({first_line(exc)}). Is `dask scheduler` running "
                "there, and is the port open from this computer?") from exc
    session = ClusterSession(client, target)
    try:
        client.wait_for_workers(1, timeout=worker_timeout)
    except (OSError, TimeoutError) as exc:
        session.close()
        raise UserError(
            f"The Dask scheduler at {target.address} has no workers (waited "
            f"{worker_timeout:g} s); start some with `dask worker {target.address}`.") from exc
    return session


def _probe(address: str, timeout: float) -> None:
    """Ask ``address`` who it is, within ``timeout`` seconds, before Dask's Client does:
    a refused port fails at once, and a port that accepts but never speaks Dask (a
    firewall, a proxy, the dashboard) would otherwise hang the Client forever."""
    if not address.startswith("tcp://"):
        return  # tls:// and others need the security settings only the Client has
    unreachable = (f"Could not reach the Dask scheduler at {address}" + " ({}). Is `dask "
                   "scheduler` running there, and is the port open from this computer?")
    host, _, port = address[len("tcp://"):].rstrip("/").rpartition(":")
    deadline = time.monotonic() + timeout
    try:  # a refused port or an unknown host fails now (Dask would retry until timeout)
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except TimeoutError as exc:
        raise UserError(unreachable.format(f"no answer within {timeout:g} s")) from exc
    except OSError as exc:
        raise UserError(unreachable.format(exc.strerror or exc)) from exc
    except ValueError:
        pass  # no port in the address: Dask's default, let it try
    timeout = max(0.5, deadline - time.monotonic())
    pool = concurrent.futures.ThreadPoolExecutor(1)  # an event loop of our own, always
    try:
        future = pool.submit(asyncio.run, _identify(address, timeout))
        try:
            identity = future.result(timeout=timeout + 1)
        except (OSError, TimeoutError, concurrent.futures.TimeoutError) as exc:
            raise UserError(unreachable.format(
                f"connected, but no Dask answer within the time left: "
                f"{type(exc).__name__} {first_line(exc)}")) from exc
        except Exception as exc:  # garbage frames, TLS mismatch, ...
            raise UserError(
                f"{address} did not answer like a Dask scheduler ({type(exc).__name__}: "
                f"{first_line(exc)}); check the address and port (the scheduler listens on "
                "8786 by default, 8787 is its dashboard).") from exc
    finally:
        pool.shutdown(wait=False)
    kind = identity.get("type") if isinstance(identity, dict) else None
    if kind != "Scheduler":
        raise UserError(f"{address} is a Dask {kind or 'server'}, not the scheduler; give "
                        "the scheduler's address (dask scheduler prints it).")


async def _identify(address: str, timeout: float) -> Any:
    from distributed.comm import connect

    async def ask() -> Any:
        comm = await connect(address, timeout=timeout)
        try:
            await comm.write({"op": "identity", "reply": True})
            return await comm.read()
        finally:
            comm.abort()

    return await asyncio.wait_for(ask(), timeout)

