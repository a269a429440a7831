"""End-to-end `livestyle render` speed and memory (CPU provider unless --providers).

Each render runs in its own process, which samples its resident memory (VmRSS) every 0.5 s:
  - the bundled 10 s clip at 256p and 360p: output fps and peak RSS;
  - with --long: a 10-minute clip made by looping the bundled one (stream copy, no re-encode),
    rendered small, with RSS at 10 %, 50 % and 90 % of the run, to show memory does not grow.

    python bench/render_bench.py [--heights 256 360] [--long] [--long-height 36] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import av

REPO = Path(__file__).resolve().parents[1]
CLIP = REPO / "data" / "video" / "big_buck_bunny_cut_10s.mp4"

CHILD = r"""
import json, sys, threading, time
from pathlib import Path
from livestyle.commands.render import RenderConfig, RenderJob, render
from livestyle.runtime.sessions import RuntimeConfig

def rss_mb():
    for line in open('/proc/self/status'):
        if line.startswith('VmRSS:'):
            return int(line.split()[1]) / 1024
samples, done = [], threading.Event()
def sampler():
    t0 = time.perf_counter()
    while not done.is_set():
        samples.append((time.perf_counter() - t0, rss_mb()))
        time.sleep(0.5)
threading.Thread(target=sampler, daemon=True).start()
src, out, height, providers = sys.argv[1], sys.argv[2], int(sys.argv[3]), tuple(sys.argv[4].split(','))
stats = render(RenderJob(Path(src), Path(out), RenderConfig(), RuntimeConfig(), providers=providers,
                         height=height, progress=False))
done.set()
n = len(samples)
print(json.dumps({"frames": stats.frames, "seconds": round(stats.seconds, 1),
                  "fps": round(stats.frames / stats.seconds, 2), "provider": stats.provider,
                  "peak_rss_mb": round(max(r for _, r in samples), 1),
                  "rss_mb_at_10_50_90pct": [round(samples[int(n * q)][1], 1) for q in (0.1, 0.5, 0.9)]}))
"""


def loop_clip(path: Path, times: int) -> None:
    """The bundled clip repeated `times` times, packets copied with shifted timestamps (each loop
    starts one packet after the previous one ended, so timestamps stay monotonic)."""
    with av.open(str(path), "w", format="matroska") as out:
        with av.open(str(CLIP)) as src:
            mapping = {s.index: out.add_stream_from_template(s) for s in src.streams if s.type in ("video", "audio")}
        end = {i: 0 for i in mapping}  # per stream: where the previous loop ended
        for _ in range(times):
            shift = dict(end)
            with av.open(str(CLIP)) as src:
                first = {}
                for packet in src.demux():
                    i = packet.stream.index
                    if packet.dts is None or i not in mapping:
                        continue
                    first.setdefault(i, packet.dts)
                    delta = shift[i] - first[i]
                    packet.pts += delta
                    packet.dts += delta
                    end[i] = max(end[i], packet.dts + (packet.duration or 1) + 1, packet.pts + (packet.duration or 1))
                    packet.stream = mapping[i]
                    out.mux(packet)


def run(src: Path, out: Path, height: int, providers: str) -> dict:
    result = subprocess.run([sys.executable, "-c", CHILD, str(src), str(out), str(height), providers],
                            capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--heights", type=int, nargs="*", default=[256, 360])
    parser.add_argument("--providers", default="cpu")
    parser.add_argument("--long", action="store_true", help="also the 10-minute looped clip")
    parser.add_argument("--long-height", type=int, default=36)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for h in args.heights:
            results[f"bundled_10s_{h}p"] = run(CLIP, Path(tmp) / f"o{h}.mp4", h, args.providers)
            print(f"{h}p:", results[f"bundled_10s_{h}p"], flush=True)
        if args.long:
            long_clip = Path(tmp) / "ten_minutes.mkv"
            loop_clip(long_clip, 60)
            short = run(CLIP, Path(tmp) / "short.mp4", args.long_height, args.providers)
            results[f"bundled_10s_{args.long_height}p"] = short
            results[f"looped_10min_{args.long_height}p"] = run(long_clip, Path(tmp) / "long.mp4",
                                                               args.long_height, args.providers)
            print("10 s:", short, "\n10 min:", results[f"looped_10min_{args.long_height}p"], flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
