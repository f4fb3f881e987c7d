"""Three NATS servers with JetStream, clustered, on ports of their own (the cluster's ingest
buffer, tests and scripts/cluster alike): Debian's nats-server, a config file each, a store
directory each. `stop(i)` kills one with SIGKILL; `start(i)` brings it back on its store."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

SERVER = shutil.which("nats-server") or "/usr/sbin/nats-server"
CLUSTER_NAME = "healthcode"


def free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def available() -> bool:
    return os.access(SERVER, os.X_OK)


def config(name: str, client: int, route: int, routes: list[int], store: Path) -> str:
    others = ", ".join(f"nats-route://127.0.0.1:{p}" for p in routes)
    return (
        f"server_name: {name}\n"
        f"listen: 127.0.0.1:{client}\n"
        f'jetstream {{ store_dir: "{store}", max_memory_store: 64MB, max_file_store: 2GB }}\n'
        f"cluster {{ name: {CLUSTER_NAME}, listen: 127.0.0.1:{route}, routes: [{others}] }}\n"
    )


class NatsCluster:
    def __init__(self, directory: Path, size: int = 3) -> None:
        self.directory = directory
        ports = free_ports(2 * size)
        self.clients, self.routes = ports[:size], ports[size:]
        self.processes: list[subprocess.Popen[bytes] | None] = [None] * size
        for i in range(size):
            store = directory / f"n{i}"
            store.mkdir(parents=True, exist_ok=True)
            others = [p for j, p in enumerate(self.routes) if j != i]
            text = config(f"n{i}", self.clients[i], self.routes[i], others, store)
            (directory / f"n{i}.conf").write_text(text)

    @property
    def urls(self) -> str:
        return ",".join(f"nats://127.0.0.1:{p}" for p in self.clients)

    def start(self, i: int) -> None:
        log = open(self.directory / f"n{i}.log", "ab")  # noqa: SIM115 - the server's log
        self.processes[i] = subprocess.Popen(
            [SERVER, "-c", str(self.directory / f"n{i}.conf")],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()

    def start_all(self, timeout: float = 60.0) -> None:
        for i in range(len(self.processes)):
            self.start(i)
        self.wait_ready(timeout)
        self.wait_jetstream(timeout)

    def wait_jetstream(self, timeout: float = 60.0) -> None:
        """Until the servers have elected JetStream's meta leader: a stream replicated on all
        of them can be made (and is deleted again)."""
        import asyncio

        import nats
        from nats.js.api import StreamConfig

        async def probe() -> None:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    nc = await nats.connect(self.urls.split(","), connect_timeout=2)
                    try:
                        js = nc.jetstream(timeout=5)
                        await js.add_stream(
                            StreamConfig(
                                name="READY", subjects=["ready"], num_replicas=len(self.clients)
                            )
                        )
                        await js.delete_stream("READY")
                        return
                    finally:
                        await nc.close()
                except Exception:
                    if time.monotonic() > deadline:
                        raise
                    await asyncio.sleep(0.5)

        asyncio.run(probe())

    def wait_ready(self, timeout: float = 30.0) -> None:
        """Every running server answers its monitoring-free client port and JetStream has a
        meta leader (a stream can be made)."""
        deadline = time.monotonic() + timeout
        for i, process in enumerate(self.processes):
            if process is None:
                continue
            while True:
                try:
                    with socket.create_connection(("127.0.0.1", self.clients[i]), timeout=1):
                        break
                except OSError:
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"nats server n{i} does not answer") from None
                    time.sleep(0.05)

    def kill(self, i: int) -> None:
        process = self.processes[i]
        if process is not None:
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=10)
            self.processes[i] = None

    def stop_all(self) -> None:
        for i, process in enumerate(self.processes):
            if process is None:
                continue
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
            self.processes[i] = None
