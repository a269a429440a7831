"""Memory of the output muxers alone: the 10-minute looped clip (as in render_bench.py --long)
stream-copied into MP4 and into Matroska, RSS printed every 8000 packets. Shows how much of a long
render's slow RSS growth is the MP4 muxer's per-packet index (kept until the moov atom is written
at the end), which Matroska does not keep.

    python bench/mux_memory.py
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import av

from render_bench import loop_clip


def rss_mb() -> float:
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "ten_minutes.mkv"
        loop_clip(source, 60)
        for suffix in ("mp4", "mkv"):
            with av.open(str(source)) as inp, av.open(str(Path(tmp) / f"remux.{suffix}"), "w") as out:
                streams = {s.index: out.add_stream_from_template(s) for s in inp.streams}
                count, marks = 0, []
                for packet in inp.demux():
                    if packet.dts is None:
                        continue
                    packet.stream = streams[packet.stream.index]
                    out.mux(packet)
                    count += 1
                    if count % 8000 == 0:
                        marks.append(round(rss_mb(), 1))
            print(f"{suffix}: {count} packets; RSS (MB) every 8000 packets: {marks}", flush=True)


if __name__ == "__main__":
    main()
