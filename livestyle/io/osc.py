"""OSC for `live` (python-osc, the `control` extra): messages to `/livestyle/<action>` become
dispatcher calls (livestyle.controls, the same path as the window's keys and MIDI), and optional
feedback (`--osc-send HOST:PORT`) sends the set's figures to TouchDesigner, Resolume or anything
that listens:

  /livestyle/fps         frames shown per second over the last second
  /livestyle/latency     capture-to-output latency, ms (median of the last second)
  /livestyle/level       the loudness the reactive mapping hears, dBFS (input gain included)

The server runs in its own thread and only writes attributes of `Controls`, so OSC traffic adds
no work to the frame path (bench/RESULTS.md measures the latency with and without it).
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from livestyle.controls import Dispatcher
from livestyle.errors import UserError

log = logging.getLogger(__name__)

PREFIX = "/livestyle/"


def import_pythonosc():
    try:
        import pythonosc  # noqa: F401
        from pythonosc import dispatcher, osc_server, udp_client
    except ImportError:
        raise UserError("OSC needs python-osc: pip install 'livestyle[control]'") from None
    return dispatcher, osc_server, udp_client


def parse_host_port(text: str, option: str) -> tuple[str, int]:
    """"HOST:PORT" (IPv6 in brackets: "[::1]:9001") -> (host, port), or a one-line error."""
    host, sep, port = text.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise UserError(f"{option} {text!r}: expected HOST:PORT with a port in 1..65535, e.g. 127.0.0.1:9001")
    return host, int(port)


class OscControl:
    """Listens on host:port (UDP) in a background thread; port 0 picks a free one (`self.port`)."""

    def __init__(self, dispatch: Dispatcher, host: str = "127.0.0.1", port: int = 9000):
        osc_dispatcher, osc_server, _ = import_pythonosc()
        if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
            raise UserError(f"--osc-port {port!r}: must be a port number in 1..65535")
        self.dispatch = dispatch
        self.received = 0
        mapping = osc_dispatcher.Dispatcher()
        mapping.set_default_handler(self._message)
        try:
            self.server = osc_server.BlockingOSCUDPServer((host, port), mapping)
        except OSError as exc:
            raise UserError(f"--osc-port {port}: cannot listen on {host}:{port} ({exc.strerror or exc}); "
                            f"is another program using it?") from None
        self.host, self.port = host, self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.1},
                                       name="osc server", daemon=True)

    def _message(self, address: str, *values: Any) -> None:
        self.received += 1
        if not address.startswith(PREFIX):
            self.dispatch.warn_once(f"OSC {address}: not a {PREFIX} address; ignored")
            return
        self.dispatch(address[len(PREFIX):], *values)

    def start(self) -> "OscControl":
        self.thread.start()
        log.info("OSC: listening on %s:%d (%s<action>)", self.host, self.port, PREFIX)
        return self

    def close(self) -> None:
        if self.thread.is_alive():
            self.server.shutdown()
        self.server.server_close()


class OscFeedback:
    """Sends figures to HOST:PORT. A receiver that is not there costs nothing (UDP); a send that
    fails locally is logged once and the set goes on."""

    def __init__(self, target: str):
        _, _, udp_client = import_pythonosc()
        self.host, self.port = parse_host_port(target, "--osc-send")
        try:
            self.client = udp_client.SimpleUDPClient(self.host, self.port)
        except OSError as exc:
            raise UserError(f"--osc-send {target}: {exc}") from None
        self.failed = False

    def send(self, figures: dict[str, float]) -> None:
        for name, value in figures.items():
            try:
                self.client.send_message(PREFIX + name, float(value))
            except OSError as exc:
                if not self.failed:
                    log.warning("--osc-send %s:%d: %s; feedback goes on being tried", self.host, self.port, exc)
                self.failed = True

    def close(self) -> None:
        sock = getattr(self.client, "_sock", None)
        if sock is not None:
            sock.close()
