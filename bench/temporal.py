"""Flicker vs responsiveness of the style smoothing, measured on real renders.

Input: a still photo looped as video, with music whose character changes half way (the bundled
Brahms, then the bundled Tchaikovsky). With a still picture every change of colour comes from the
style. Per output frame take the mean colour m_t (RGB, 0-255) and report
  F = RMS over t of |m_{t+1} - 2 m_t + m_{t-1}|   (flicker: frame-to-frame jitter)
  R = |mean m_t over section 1 - mean m_t over section 2|   (responsiveness to the music)
with the 8.91 s around the switch left out of both section means. Each smoothing time constant
is a real `livestyle render` (no torch); input and output are lossless (FFV1), so that encoder noise
does not count as flicker (with x264 at CRF 20 it puts a floor of F = 0.09 under every setting).

    python bench/temporal.py [--section 20] [--height 96] [--smoothing 0 0.25 0.5 1 2] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from livestyle.io.decode import load_audio
from livestyle.io.images import fit_height, read_image
from livestyle.io.decode import decode_video
from livestyle.commands.render import RenderConfig, RenderJob, render
from livestyle.runtime.sessions import RuntimeConfig

REPO = Path(__file__).resolve().parents[1]
PHOTO = REPO / "data" / "photos" / "coffee.jpg"
MUSIC = (REPO / "data" / "audio" / "brahms_hungarian_dance_5.ogg", 5.0,
         REPO / "data" / "audio" / "tchaikovsky_sugar_plum_fairy_macleod.ogg", 30.0)


def make_input(path: Path, section: float, height: int) -> None:
    """The photo looped at 20 fps for 2 sections, audio = Brahms then Tchaikovsky (FLAC in MKV)."""
    a = load_audio(MUSIC[0], 44100, start=MUSIC[1], duration=section)
    b = load_audio(MUSIC[2], 44100, start=MUSIC[3], duration=section)
    audio = np.concatenate([a, b]).astype(np.float32)
    image = fit_height(read_image(PHOTO), height)
    image = image[: image.shape[0] // 2 * 2, : image.shape[1] // 2 * 2]
    with av.open(str(path), "w", format="matroska") as out:
        v = out.add_stream("ffv1", rate=20)  # lossless: every decoded frame is the same picture
        v.width, v.height, v.pix_fmt = image.shape[1], image.shape[0], "yuv420p"
        s = out.add_stream("flac", rate=44100, layout="mono")
        for i in range(int(2 * section * 20)):
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, 20)
            out.mux(v.encode(frame))
        out.mux(v.encode(None))
        for k in range(0, len(audio), 4096):
            chunk = audio[k:k + 4096][None]
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(chunk), format="flt", layout="mono")
            frame.sample_rate, frame.pts, frame.time_base = 44100, k, Fraction(1, 44100)
            out.mux(s.encode(frame))
        out.mux(s.encode(None))


def flicker_responsiveness(video: Path, section: float, fps: int = 20) -> tuple[float, float]:
    means = np.array([f.reshape(-1, 3).mean(0) for _, f in decode_video(video, 0.0)])
    second_diff = means[2:] - 2 * means[1:-1] + means[:-2]
    flicker = float(np.sqrt((np.linalg.norm(second_diff, axis=1) ** 2).mean()))
    guard = int(4.455 * fps)
    switch = int(section * fps)
    first, second = means[guard:switch - guard], means[switch + guard:len(means) - guard]
    return flicker, float(np.linalg.norm(first.mean(0) - second.mean(0)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--section", type=float, default=20.0, help="seconds of each piece")
    parser.add_argument("--height", type=int, default=96)
    parser.add_argument("--smoothing", type=float, nargs="+", default=[0.0, 0.25, 0.5, 1.0, 2.0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "still_with_music.mkv"
        make_input(source, args.section, args.height)
        for tau in args.smoothing:
            out = Path(tmp) / f"out_{tau}.mkv"
            t0 = time.perf_counter()
            # lossless output too, so encoder noise does not count as flicker
            render(RenderJob(source, out, RenderConfig(smoothing=tau, seed=args.seed), RuntimeConfig(),
                             providers=("cpu",), codec="ffv1", progress=False))
            f, r = flicker_responsiveness(out, args.section)
            rows.append({"smoothing_s": tau, "flicker_F": round(f, 4), "responsiveness_R": round(r, 3),
                         "render_s": round(time.perf_counter() - t0, 1)})
            print(rows[-1], flush=True)
    base = rows[0] if rows[0]["smoothing_s"] == 0 else None
    print(f"\n{'tau s':>6} {'F':>8} {'R':>8} {'F0/F':>7} {'R/R0':>6}")
    for row in rows:
        if base:
            row["flicker_reduction"] = round(base["flicker_F"] / max(row["flicker_F"], 1e-12), 2)
            row["responsiveness_kept"] = round(row["responsiveness_R"] / max(base["responsiveness_R"], 1e-12), 3)
        print(f"{row['smoothing_s']:>6} {row['flicker_F']:>8} {row['responsiveness_R']:>8} "
              f"{row.get('flicker_reduction', ''):>7} {row.get('responsiveness_kept', ''):>6}")
    if args.json:
        args.json.write_text(json.dumps({"section_s": args.section, "height": args.height, "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
