"""API compatibility: the ``toxiproxy-python`` client drives a ``zonegate toxiproxy`` process."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from toxiproxy import Toxiproxy
from toxiproxy.exceptions import InvalidToxic, NotFound, ProxyExists

from zonegate.cli.toxiproxy_cmd import READY_PREFIX


class EchoServer:
    """A threaded TCP echo server (the client under test is synchronous)."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.address = f"127.0.0.1:{self.sock.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._echo, args=(conn,), daemon=True).start()

    @staticmethod
    def _echo(conn: socket.socket) -> None:
        with conn:
            try:
                while data := conn.recv(65536):
                    conn.sendall(data)
            except OSError:
                pass

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def echo() -> Iterator[EchoServer]:
    server = EchoServer()
    yield server
    server.close()


@pytest.fixture
def server(tmp_path: Path, echo: EchoServer) -> Iterator[tuple[Toxiproxy, subprocess.Popen[str]]]:
    config = tmp_path / "toxiproxy.json"
    config.write_text(json.dumps([{"name": "from_config", "upstream": echo.address}]))
    proc = subprocess.Popen(
        [sys.executable, "-m", "zonegate.cli.main", "toxiproxy", "--port", "0", "-config", config],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        port = 0
        deadline = time.monotonic() + 20
        while not port and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            if line.startswith(READY_PREFIX):
                port = int(line.rsplit(":", 1)[1])
        assert port, f"zonegate toxiproxy did not start (exit {proc.poll()})"
        client = Toxiproxy()
        client.update_api_consumer("127.0.0.1", port)
        yield client, proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def talk(listen: str, payload: bytes = b"ping", timeout: float = 5.0) -> tuple[bytes, float]:
    host, port = listen.rsplit(":", 1)
    started = time.perf_counter()
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        sock.sendall(payload)
        got = b""
        while len(got) < len(payload):
            chunk = sock.recv(65536)
            if not chunk:
                break
            got += chunk
    return got, time.perf_counter() - started


def test_toxiproxy_python_client_drives_the_server(
    server: tuple[Toxiproxy, subprocess.Popen[str]], echo: EchoServer
) -> None:
    client, proc = server
    assert client.running()
    assert json.loads(client.version())["version"].startswith("2.")
    # -config populated a proxy at start
    assert client.get_proxy("from_config") is not None

    proxy = client.create(upstream=echo.address, name="echo")
    assert proxy.enabled is True and proxy.upstream == echo.address
    assert talk(proxy.listen)[0] == b"ping"
    with pytest.raises(ProxyExists):
        client.create(upstream=echo.address, name="echo")

    proxy.add_toxic(type="latency", attributes={"latency": 100})
    proxy.add_toxic(name="cap", type="limit_data", stream="upstream", attributes={"bytes": 1000})
    toxics = proxy.toxics()
    assert sorted(toxics) == ["cap", "latency_downstream"]
    assert toxics["latency_downstream"].attributes == {"latency": 100, "jitter": 0}
    assert toxics["cap"].stream == "upstream"
    got, elapsed = talk(proxy.listen)
    assert got == b"ping" and elapsed >= 0.095
    with pytest.raises(InvalidToxic):
        proxy.add_toxic(type="latency", name="bad", attributes={"latency": -1})
    with pytest.raises(InvalidToxic):
        proxy.add_toxic(type="no_such_toxic")

    assert proxy.destroy_toxic("latency_downstream")
    assert sorted(proxy.toxics()) == ["cap"]
    with pytest.raises(NotFound):
        proxy.destroy_toxic("latency_downstream")

    with proxy.down():
        host, port = proxy.listen.rsplit(":", 1)
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection((host, int(port)), timeout=2)
    assert talk(proxy.listen)[0] == b"ping"

    assert set(client.proxies()) == {"from_config", "echo"}
    assert client.reset()
    assert proxy.toxics() == {}
    assert client.populate([{"name": "extra", "listen": "127.0.0.1:0", "upstream": echo.address}])
    assert set(client.proxies()) == {"from_config", "echo", "extra"}
    assert proxy.destroy()
    with pytest.raises(NotFound):
        proxy.destroy()
    client.destroy_all()
    assert client.proxies() == {}
    assert proc.poll() is None


def test_reset_peer_under_uvloop_sends_a_real_rst(
    server: tuple[Toxiproxy, subprocess.Popen[str]], echo: EchoServer
) -> None:
    client, _ = server
    proxy = client.create(upstream=echo.address, name="rst")
    proxy.add_toxic(type="reset_peer", stream="upstream", attributes={"timeout": 50})
    host, port = proxy.listen.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(b"ping")
        with pytest.raises(ConnectionResetError):
            sock.recv(100)


def test_sigterm_stops_the_server(server: tuple[Toxiproxy, subprocess.Popen[str]]) -> None:
    _, proc = server
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(10) == 0


def test_bad_config_file_is_reported_and_the_server_still_starts(tmp_path: Path) -> None:
    config = tmp_path / "bad.json"
    config.write_text('[{"name": "x"}]')
    proc = subprocess.Popen(
        [sys.executable, "-m", "zonegate.cli.main", "toxiproxy", "--port", "0", "-config", config],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None and proc.stderr is not None
        assert proc.stdout.readline().startswith(READY_PREFIX)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
        assert "missing required field: upstream at proxy 1" in proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
