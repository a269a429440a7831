"""Latency added by the control path (issue 13): capture-to-output p95 of `livestyle live` with and
without OSC traffic at 100 messages a second, against the run-to-run noise of runs without.

Runs, in this order, in one process: no traffic, traffic, no traffic, traffic, ... (`--pairs`),
each `--seconds` long: the bundled clip as the camera, a recording on, an OSC server on a free
port. The traffic alternates /livestyle/strength between 1.0 and 0.99, so every message is a real
change the stylizer has to apply (it rebinds the strength input of the content graph).

    python bench/osc_latency.py --seconds 60 --pairs 2

Run it when no training occupies the cores.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CLIP = REPO / "data" / "video" / "big_buck_bunny_cut_10s.mp4"
sys.path.insert(0, str(REPO))

import livestyle.io.osc as osc_module  # noqa: E402
from livestyle.cli import main  # noqa: E402


def one_run(seconds: float, traffic: bool, size: str, model: str) -> dict:
    from pythonosc.udp_client import SimpleUDPClient

    servers = []
    real = osc_module.OscControl

    class Recorded(real):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            servers.append(self)

    osc_module.OscControl = Recorded
    stop = threading.Event()
    sent = [0]

    def send() -> None:
        while not servers and not stop.is_set():
            time.sleep(0.01)
        client = SimpleUDPClient("127.0.0.1", servers[0].port)
        next_at = time.monotonic()
        while not stop.is_set():
            client.send_message("/livestyle/strength", 0.99 if sent[0] % 2 else 1.0)
            sent[0] += 1
            next_at += 0.01
            time.sleep(max(0.0, next_at - time.monotonic()))

    if traffic:
        threading.Thread(target=send, daemon=True).start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            figures = Path(tmp) / "set.json"
            main(["live", "--clip", str(CLIP), "--loop", "-o", str(Path(tmp) / "rec.mkv"), "--no-window",
                  "--osc-port", "0", "--presets", str(Path(tmp) / "p.json"), "--size", size, "--model", model,
                  "--providers", "cpu", "--quiet", "--duration", str(seconds), "--json", str(figures)])
            result = json.loads(figures.read_text())
    finally:
        stop.set()
        osc_module.OscControl = real
    result["osc_messages_sent"] = sent[0]
    result["osc_messages_received"] = servers[0].received if servers else 0
    return result


def main_bench() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--pairs", type=int, default=2)
    parser.add_argument("--size", default="256x144")
    parser.add_argument("--model", default="lite")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    runs = []
    for i in range(args.pairs):
        for traffic in (False, True):
            r = one_run(args.seconds, traffic, args.size, args.model)
            r["traffic"] = traffic
            runs.append(r)
            print(f"run {len(runs)}: {'100 msg/s' if traffic else 'no traffic'}: p50 {r['latency_ms_p50']} ms, "
                  f"p95 {r['latency_ms_p95']} ms, {r['shown_fps']} fps shown, OSC {r['osc_messages_received']}"
                  f"/{r['osc_messages_sent']} received", flush=True)
    quiet = [r["latency_ms_p95"] for r in runs if not r["traffic"]]
    busy = [r["latency_ms_p95"] for r in runs if r["traffic"]]
    summary = {"p95_without_ms": quiet, "p95_with_ms": busy,
               "noise_without_ms": round(max(quiet) - min(quiet), 1),
               "difference_ms": round(statistics.mean(busy) - statistics.mean(quiet), 1), "runs": runs}
    print(f"p95 without traffic {quiet} (noise {summary['noise_without_ms']} ms), with 100 msg/s {busy}: "
          f"difference of the means {summary['difference_ms']:+.1f} ms")
    if args.json:
        args.json.write_text(json.dumps(summary, indent=1) + "\n")


if __name__ == "__main__":
    main_bench()
