"""``host:port`` addresses as Toxiproxy writes them (``127.0.0.1:0``, ``[::1]:80``, ``:8080``)."""

from __future__ import annotations

from dataclasses import dataclass

from zonegate.chaos.faultproxy.errors import BadRequest

# An empty listen host means "loopback" here. Toxiproxy (Go) would bind every
# interface; zonegate keeps chaos traffic on 127.0.0.0/8 unless asked otherwise.
DEFAULT_LISTEN_HOST = "127.0.0.1"


@dataclass(frozen=True, slots=True)
class HostPort:
    host: str
    port: int

    def __str__(self) -> str:
        return format_host_port(self.host, self.port)


def format_host_port(host: str, port: int) -> str:
    """``("::1", 80)`` -> ``[::1]:80``; ``("127.0.0.1", 80)`` -> ``127.0.0.1:80``."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def parse_host_port(value: object, *, field: str, listen: bool) -> HostPort:
    """Parse ``host:port``; ``listen`` allows port 0 (pick a free port) and an empty host."""
    if not isinstance(value, str) or not value:
        raise BadRequest(f"{field}: expected a 'host:port' string, got {value!r}")
    host, sep, port_text = value.rpartition(":")
    if not sep:
        raise BadRequest(f"{field}: {value!r} has no port; expected 'host:port'")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        raise BadRequest(f"{field}: IPv6 hosts need brackets, like '[::1]:8080' (got {value!r})")
    if not port_text.isdigit() or int(port_text) > 65535:
        raise BadRequest(f"{field}: port {port_text!r} of {value!r} is not a number in 0..65535")
    port = int(port_text)
    if listen:
        return HostPort(host or DEFAULT_LISTEN_HOST, port)
    if not host:
        raise BadRequest(f"{field}: {value!r} has no host; expected 'host:port'")
    if port == 0:
        raise BadRequest(f"{field}: port 0 is not a valid upstream port in {value!r}")
    return HostPort(host, port)
