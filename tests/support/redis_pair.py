"""A Redis primary and a replica of it, started for a test from the machine's redis-server on free
ports, the replica linked to its primary through a relay that the test can hold: while held, the
replica receives nothing from its primary and acknowledges nothing, yet still answers reads from
what it had (a replica that fell behind, as on a slow or congested network). Redis alone cannot
be made to lag like that: a paused replica (CLIENT PAUSE) still acknowledges what it received."""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import redis

from tests.support.ports import free_port


def available() -> bool:
    return shutil.which("redis-server") is not None


@dataclass
class Relay:
    """TCP from `port` to the primary, forwarding in both directions while `flowing` is set."""

    target: int
    port: int = field(default_factory=free_port)
    flowing: threading.Event = field(default_factory=threading.Event)
    _sockets: list[socket.socket] = field(default_factory=list)
    _stopped: bool = False

    def start(self) -> None:
        self.flowing.set()
        server = socket.socket()
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", self.port))
        server.listen()
        self._sockets.append(server)
        threading.Thread(target=self._accept, args=(server,), daemon=True).start()

    def _accept(self, server: socket.socket) -> None:
        while not self._stopped:
            try:
                near, _ = server.accept()
            except OSError:
                return
            far = socket.create_connection(("127.0.0.1", self.target))
            for s in (near, far):  # no Nagle: each WAIT is a small write answered at once
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._sockets += [near, far]
            for a, b in ((near, far), (far, near)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        while True:
            try:
                data = source.recv(65536)
            except OSError:
                return
            if not data:
                break
            self.flowing.wait()
            try:
                sink.sendall(data)
            except OSError:
                return
        with suppress(OSError):
            sink.shutdown(socket.SHUT_WR)

    def stop(self) -> None:
        self._stopped = True
        self.flowing.set()
        for s in self._sockets:
            with suppress(OSError):
                s.close()


@dataclass
class RedisPair:
    primary_port: int
    replica_port: int
    relay: Relay

    @property
    def primary_url(self) -> str:
        return f"redis://127.0.0.1:{self.primary_port}/0"

    @property
    def replica_url(self) -> str:
        return f"redis://127.0.0.1:{self.replica_port}/0"

    def hold(self) -> None:
        """The replica falls behind: nothing more reaches it, it acknowledges nothing."""
        self.relay.flowing.clear()

    def release(self) -> None:
        self.relay.flowing.set()

    def calls(self, url: str, command: str) -> int:
        """How many times the server at `url` ran `command` (INFO commandstats)."""
        with redis.Redis.from_url(url) as client:
            stats = client.info("commandstats")
        return int(stats.get(f"cmdstat_{command}", {}).get("calls", 0))


def _server(port: int, directory: Path, *more: str) -> subprocess.Popen[bytes]:
    command = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
    command += ["--appendonly", "no", "--dir", str(directory)]
    command += ["--repl-diskless-sync-delay", "0", *more]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@contextmanager
def started(directory: Path) -> Iterator[RedisPair]:
    primary_port, replica_port = free_port(), free_port()
    primary = _server(primary_port, directory)
    relay = Relay(primary_port)
    replica: subprocess.Popen[bytes] | None = None
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                redis.Redis(port=primary_port, socket_connect_timeout=0.2).ping()
                break
            except redis.RedisError:
                assert time.monotonic() < deadline, "the Redis primary did not start"
                time.sleep(0.05)
        relay.start()
        replica = _server(
            replica_port, directory, "--replicaof", "127.0.0.1", str(relay.port),
            "--replica-serve-stale-data", "no",
        )  # fmt: skip
        pair = RedisPair(primary_port, replica_port, relay)
        with (
            redis.Redis(port=replica_port, socket_connect_timeout=0.2) as client,
            redis.Redis(port=primary_port, socket_connect_timeout=0.2) as primary_client,
        ):
            # In sync: the replica's link is up, the primary counts it online, and it
            # acknowledges a write (it may say "up" while the primary still prepares its copy,
            # and be online a second before it acknowledges anything: WAITs would time out).
            while True:
                try:
                    up = client.info("replication").get("master_link_status") == "up"
                    seen = primary_client.info("replication").get("slave0", {})
                    if up and seen.get("state") == "online":
                        with primary_client.pipeline(transaction=False) as pipe:
                            pipe.set("redis-pair:ready", "1")
                            pipe.execute_command("WAIT", 1, 100)
                            if int(pipe.execute()[1]) == 1:
                                primary_client.delete("redis-pair:ready")
                                break
                except redis.RedisError:
                    pass
                assert time.monotonic() < deadline, "the Redis replica did not sync"
                time.sleep(0.05)
        yield pair
    finally:
        relay.stop()
        for process in (replica, primary):
            if process is not None:
                process.terminate()
                process.wait(timeout=10)
