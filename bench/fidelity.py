"""Usage:
    python bench/fidelity.py                      # the reporting set, default settings (~30-50 min, 1 thread)
    python bench/fidelity.py --quick              # smoke run: first 3 pieces, 20 s each (~5 min)
    python bench/fidelity.py --set tuning [--smoothing 0.25] [--hold 0.1] [--seeds 4] [--models DIR] [--styles DIR]
                             [--cache runs/fidelity_audio] [--json F.json] [--sheet F.png] [--threads 1]

Does the music visibly drive the look? The measurement of issue 10, on the runtime's own path.

Pieces: bench/fidelity_pieces.json, two disjoint sets (tuning: choose defaults on it; reporting: the
targets are read on it), neither holding anything MVNet's starter set trains on (see its "about"
notes and training_scores() below). Scores and MIDI files are rendered with FluidSynth on first
use into --cache (default runs/fidelity_audio) and reused; nothing outside the repository and the
installed packages is read. Every excerpt (about 60 s, two 30 s sections) is brought to -20 dBFS
RMS, the starter set's level.

The path is render's own (livestyle/commands/render.py, checked against tick_styles and
stylize_frames): a StyleTicker with render's defaults (RenderConfig: 20 style ticks a second,
the rate on a GPU; a render painted on the CPU ticks at cpu_style_hz, 5, and interpolates;
smoothing 0.5 s, 128 px style input, seed 0), ticked at k / 20 s for k = 0 .. ceil(20 T) on the
8.91 s window centred on the tick (silence before 0 and after the end, as render's timeline reads
it), each tick's smoothed state added to a StyleTrack, and a frame at time t restyled by the STNet
content graph with track.at(t) once the ticks have reached t. The one difference from a render is
that the frame is one fixed photo (data/photos/coffee.jpg at 96 lines, 144x96, as
bench/temporal.py) restyled once per second of music rather than 20 times, which keeps the cost
down without changing any state. MVNet's own 64x64 image is taken at the same seconds
(ticker.style_image of the same window). With --styles DIR the ticker gets render's style bank
(the music chooses and blends among the folder's images), as `render --styles DIR` does.

Figures (CIELAB via OpenCV from RGB in [0,1]; dE = CIE76 distance between mean Lab colours):
  - per piece: mean Lab of the restyled photo; change within the piece (dE between its two 30 s
    sections; mean dE of each second's frame from the piece mean);
  - between pieces: dE of every pair (mean, min, the closest pair);       target mean >= 10, min >= 3
  - identification: nearest centroid of 8x8x8 RGB histograms of the restyled frames, whole 30 s
    sections held out; the held-out piece's centroid comes from its other sections minus a guard
    of half a window + 3 smoothing time constants around the held-out one (a 1 s hop shares 89 %
    of the audio, so frame-level leave-one-out would flatter it); chance 1/n;     target >= 60 %
  - seed vs music: mean Lab for seeds 0..N-1 on the first --seed-pieces music pieces; music
    variance = variance over pieces of the seed-averaged means, seed variance = mean over pieces
    of the variance over seeds (both summed over L, a, b, ddof 1);  target music/seed >= 2, and
    dE(seed 0, seed 1) on the same music >= 3 for every piece;
  - loudness, on the first --loudness-pieces music pieces: the whole excerpt 30 dB quieter vs as
    it is (dE of the mean Lab, target >= 5); a fade: full level for the first half, falling
    linearly by 30 dB over the third quarter, held 30 dB down for the last quarter; the quiet part
    (frames in the last quarter) vs the same frames at full level (target >= 5);
  - checkerboard: share of the luminance's power (Hann window, DC out) in the 2-pixel-period
    rows and columns of the FFT (|kx| or |ky| = N/2, +-1 bin) of MVNet's style images, over the
    same figure for the 27 paintings of data/paintings prepared as the MVNet trainer does
    (shorter side 96, centre crop 64);                                         target <= 1.5x
  - temporal: bench/temporal.py's F and R (its flicker_responsiveness on a lossless FFV1 video of
    the restyled photo at 20 fps). F on steady music: a held organ chord, already sounding before
    the measured stretch and after it, so no edge counts (target: F <= 0.026, today's figure on
    real music); R (and F) on two sections of the set's first two pieces back to back, as
    temporal.py does with Brahms and Tchaikovsky;
  - tick cost: median ms of ticker.tick and, interleaved in the same run on a second ticker, of
    today's bare stages (mel window -> MVNet -> STNet style branch), which stand in for today's
    tick (smoothing costs microseconds); target tick <= 1.10x the bare stages. The medians are in
    the JSON too, to compare runs before and after a change (on an equally loaded machine).

Outputs: a table of every figure with its target and PASS/MISS, --json (default bench/fidelity.json
for a full reporting run, else runs/fidelity_<set>[_quick].json) and a contact sheet (default
docs/fidelity_contact_sheet.png for a full reporting run, else runs/fidelity_<set>[_quick].png):
one row per piece, MVNet's image every 5 s above the restyled photo at that time.
Run with OMP_NUM_THREADS=1 beside other work; --threads sets ONNX Runtime's intra-op threads.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / "bench"
PIECES = BENCH / "fidelity_pieces.json"
PHOTO = REPO / "data" / "photos" / "coffee.jpg"
PAINTINGS = REPO / "data" / "paintings"
PHOTO_HEIGHT = 96          # bench/temporal.py's size: 144x96
SECTION_S = 30.0           # identification holds out whole sections of this length
SHEET_EVERY_S = 5
TEMPORAL_SECTION_S = 15.0  # as the smoothing measurement in bench/RESULTS.md (--section 15)
STEADY_MARGIN_S = 6.0      # the steady chord sounds this long before and after the measured stretch
QUIET_DB = -30.0
PAINTING_LOAD, PAINTING_CROP = 96, 64   # configs/train_mvnet.yaml load_size, crop
FLUIDSYNTH_TIMEOUT_S = 180.0

# name -> (comparison, threshold, what)
TARGETS = {
    "pairwise_dE_mean": (">=", 10.0, "pairwise dE between pieces, mean"),
    "pairwise_dE_min": (">=", 3.0, "pairwise dE between pieces, min"),
    "identification": (">=", 0.60, "piece identified from colour histograms, sections held out"),
    "music_over_seed": (">=", 2.0, "music variance / seed variance"),
    "seed01_dE_min": (">=", 3.0, "dE seed 0 vs seed 1 on the same music, min over pieces"),
    "quiet_whole_dE_min": (">=", 5.0, "whole piece 30 dB quieter vs as is, min dE"),
    "quiet_fade_dE_min": (">=", 5.0, "quiet end of a 30 dB fade vs full level, min dE"),
    "checkerboard_ratio": ("<=", 1.5, "2-pixel-period energy of style images / paintings'"),
    "flicker_steady_F": ("<=", 0.026, "F on steady music (bench/temporal.py)"),
    "tick_over_bare": ("<=", 1.10, "style tick / today's bare stages, same run"),
}


# ------------------------------------------------------------------------------ figure functions

def lab_means(images: np.ndarray) -> np.ndarray:
    """RGB uint8 images (N,H,W,3) or one (H,W,3) -> mean CIELAB per image (N,3) or (3,): L in
    0..100, a and b about -128..127 (OpenCV's float conversion of RGB in [0,1])."""
    images = np.asarray(images)
    single = images.ndim == 3
    batch = images[None] if single else images
    out = np.stack([cv2.cvtColor(im.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB).reshape(-1, 3).mean(0)
                    for im in batch]).astype(np.float64)
    return out[0] if single else out


def delta_e(lab1, lab2) -> float | np.ndarray:
    """CIE76 colour difference (Euclidean distance in Lab); broadcasts over leading axes."""
    d = np.linalg.norm(np.asarray(lab1, np.float64) - np.asarray(lab2, np.float64), axis=-1)
    return float(d) if np.ndim(d) == 0 else d


def pairwise_delta_e(means: dict[str, np.ndarray]) -> dict:
    """dE between every pair of pieces' mean Lab colours: mean, min and the closest pair."""
    ids = list(means)
    pairs = [(a, b, delta_e(means[a], means[b])) for i, a in enumerate(ids) for b in ids[i + 1:]]
    if not pairs:
        return {"mean": float("nan"), "min": float("nan"), "closest": None, "pairs": []}
    values = np.array([p[2] for p in pairs])
    closest = pairs[int(values.argmin())]
    return {"mean": float(values.mean()), "min": float(values.min()), "closest": [closest[0], closest[1]],
            "pairs": [[a, b, round(d, 3)] for a, b, d in pairs]}


def rgb_histogram(image: np.ndarray, bins: int = 8) -> np.ndarray:
    """Joint RGB histogram of a uint8 image, bins^3 values summing to 1."""
    q = (image.reshape(-1, 3).astype(np.int64) * bins) // 256
    index = (q[:, 0] * bins + q[:, 1]) * bins + q[:, 2]
    counts = np.bincount(index, minlength=bins ** 3).astype(np.float64)
    return counts / counts.sum()


def identify_sections(features: list[np.ndarray], times: list[np.ndarray], section: float,
                      guard: float) -> dict:
    """Nearest-centroid identification with whole sections held out.

    features[i]: (N_i, D) per-frame features of piece i; times[i]: (N_i,) their times (s). For
    each section [s*section, (s+1)*section) of each piece, the piece's centroid is the mean of its
    frames outside the section and more than `guard` seconds from it (windows and smoothing reach
    that far), every other piece's centroid the mean of all its frames; each held-out frame is
    given the piece of the nearest centroid (Euclidean; ties go to the lower index), and so is the
    mean feature of the whole section. Sections whose piece has no frame left outside are skipped.
    """
    n = len(features)
    full = [np.asarray(f, np.float64).mean(0) for f in features]
    correct = total = sec_correct = sec_total = 0
    for i, (feat, t) in enumerate(zip(features, times)):
        feat, t = np.asarray(feat, np.float64), np.asarray(t, np.float64)
        for s in np.unique(np.floor(t / section).astype(int)):
            lo, hi = s * section, (s + 1) * section
            test = (t >= lo) & (t < hi)
            train = (t < lo - guard) | (t >= hi + guard)
            if not train.any() or not test.any():
                continue
            centroids = np.stack([feat[train].mean(0) if j == i else full[j] for j in range(n)])
            d = np.linalg.norm(feat[test][:, None] - centroids[None], axis=-1)
            correct += int((d.argmin(1) == i).sum())
            total += int(test.sum())
            ds = np.linalg.norm(feat[test].mean(0)[None] - centroids, axis=-1)
            sec_correct += int(ds.argmin() == i)
            sec_total += 1
    return {"frame_accuracy": correct / total if total else float("nan"),
            "section_accuracy": sec_correct / sec_total if sec_total else float("nan"),
            "frames": total, "sections": sec_total, "chance": 1.0 / n if n else float("nan")}


def luminance(image: np.ndarray) -> np.ndarray:
    """Rec. 601 luma of an RGB uint8 image, in [0,1]."""
    rgb = np.asarray(image, np.float64) / 255.0
    return rgb @ np.array([0.299, 0.587, 0.114])


def nyquist_share(gray: np.ndarray) -> float:
    """Share of an image's power (mean removed, 2-D Hann window) at the 2-pixel period: the FFT
    rows ky = N/2 +- 1 and columns kx = N/2 +- 1 together (the +-1 bins hold the Hann window's
    main lobe), over all non-DC power. ~1 for a 2-pixel checkerboard or 2-pixel stripes, ~0 for
    smooth images; 0 for a flat one."""
    gray = np.asarray(gray, np.float64)
    h, w = gray.shape
    window = np.outer(np.hanning(h), np.hanning(w))
    power = np.abs(np.fft.fft2((gray - gray.mean()) * window)) ** 2
    power[0, 0] = 0.0
    total = power.sum()
    if total <= 1e-20:
        return 0.0
    rows = np.zeros(h, bool)
    rows[[h // 2 - 1, h // 2, (h // 2 + 1) % h]] = True
    cols = np.zeros(w, bool)
    cols[[w // 2 - 1, w // 2, (w // 2 + 1) % w]] = True
    band = power[rows[:, None] | cols[None, :]].sum()
    return float(band / total)


def checkerboard_energy(images) -> float:
    """Mean Nyquist share of the luminance of RGB uint8 images."""
    return float(np.mean([nyquist_share(luminance(im)) for im in images]))


def variance_shares(means: np.ndarray) -> dict:
    """means: (pieces, seeds, channels), e.g. mean Lab of each piece under each seed. Music
    variance: variance over pieces of the seed-averaged means; seed variance: mean over pieces of
    the variance over seeds; both with ddof 1 and summed over channels (dE^2 units)."""
    m = np.asarray(means, np.float64)
    if m.shape[0] < 2 or m.shape[1] < 2:
        raise ValueError("need at least 2 pieces and 2 seeds")
    music = float(m.mean(1).var(0, ddof=1).sum())
    seed = float(m.var(1, ddof=1).mean(0).sum())
    return {"music_var": music, "seed_var": seed,
            "music_over_seed": music / seed if seed > 0 else float("inf"),
            "music_share": music / (music + seed) if music + seed > 0 else float("nan")}


def fade_gain(n: int, sample_rate: int, db: float = QUIET_DB) -> np.ndarray:
    """Per-sample gain: 1 over the first half, falling linearly in dB to `db` over the third
    quarter, held there over the last quarter."""
    t = np.arange(n) / sample_rate
    total = n / sample_rate
    ramp = np.clip((t - total / 2) / (total / 4), 0.0, 1.0)
    return (10 ** (db * ramp / 20)).astype(np.float32)


def check(name: str, value: float) -> str:
    op, threshold, _ = TARGETS[name]
    if value is None or not np.isfinite(value):
        return "MISS"
    return "PASS" if (value >= threshold if op == ">=" else value <= threshold) else "MISS"


# ------------------------------------------------------------------------------ pieces and audio

def load_pieces(which: str) -> dict:
    data = json.loads(PIECES.read_text(encoding="utf-8"))
    if which not in ("tuning", "reporting"):
        raise ValueError(which)
    return {"pieces": data[which], "steady": data["steady"], "all": data}


def sources_of(piece: dict) -> list[str]:
    src = piece["source"]
    return list(src) if isinstance(src, list) else [src]


def training_scores() -> set[str]:
    """The music21 corpus paths (relative to the corpus folder) that the MVNet starter set renders:
    the selection of livestyle/train/mvnet_data.py build_mvnet_starter, recomputed (it has no
    function of its own to call; keep the two in step)."""
    from music21 import corpus

    from livestyle.train.mvnet_data import COMPOSER_YEARS

    pieces_per_composer = 6  # build_mvnet_starter's default, as `livestyle data starter` calls it
    taken = set()
    for composer in COMPOSER_YEARS:
        paths = sorted(p for p in corpus.getComposer(composer)
                       if p.suffix in (".mxl", ".xml", ".musicxml", ".krn", ".abc", ".mid"))
        step = max(1, len(paths) // pieces_per_composer)
        taken.update(corpus_relative(p) for p in paths[::step][:pieces_per_composer])
    return taken


def corpus_relative(path) -> str:
    parts = Path(path).parts
    return "/".join(parts[len(parts) - 1 - parts[::-1].index("corpus") + 1:])


def cache_key(spec: dict) -> str:
    import music21

    from livestyle.train.mvnet_data import find_soundfont

    keep = {k: spec.get(k) for k in ("kind", "source", "program", "notes", "seconds")}
    text = json.dumps([keep, music21.__version__, str(find_soundfont())], sort_keys=True, ensure_ascii=True)
    return hashlib.sha1(text.encode()).hexdigest()[:10]


def set_program(score, program: int) -> None:
    """Every part of a music21 score plays General MIDI `program`."""
    from music21 import instrument

    for part in score.parts:
        for old in list(part.recurse().getElementsByClass(instrument.Instrument)):
            old.activeSite.remove(old)
        part.insert(0, instrument.instrumentFromMidiProgram(program))


def render_to_cache(spec: dict, cache: Path, sample_rate: int) -> Path:
    """Render a MIDI file, music21 score(s) or the steady chord to a -20 dBFS wav in `cache`
    (once; later runs reuse it)."""
    from livestyle.errors import UserError
    from livestyle.io.decode import load_audio
    from livestyle.train.mvnet_data import find_soundfont, normalise_loudness, render_midi, write_wav

    out = cache / f"{spec['id']}-{cache_key(spec)}.wav"
    if out.is_file():
        return out
    cache.mkdir(parents=True, exist_ok=True)
    soundfont = find_soundfont()
    chunks = []
    with tempfile.TemporaryDirectory() as tmp:
        midis = []
        if spec["kind"] == "midi":
            midis.append(REPO / spec["source"])
        elif spec["kind"] in ("music21", "chord"):
            from music21 import chord, corpus, instrument, stream, tempo

            scores = []
            if spec["kind"] == "chord":
                part = stream.Part()
                part.insert(0, tempo.MetronomeMark(number=60))
                part.insert(0, instrument.instrumentFromMidiProgram(spec["program"]))
                part.append(chord.Chord(spec["notes"], quarterLength=spec["seconds"]))
                score = stream.Score()
                score.insert(0, part)
                scores.append(score)
            else:
                for source in sources_of(spec):
                    score = corpus.parse(source)
                    if spec.get("program") is not None:
                        set_program(score, spec["program"])
                    scores.append(score)
            for i, score in enumerate(scores):
                midi = Path(tmp) / f"{i}.mid"
                score.write("midi", fp=str(midi))
                midis.append(midi)
        else:
            raise ValueError(f"cannot render kind {spec['kind']!r}")
        for i, midi in enumerate(midis):
            wav = Path(tmp) / f"{i}.wav"
            if not render_midi(midi, wav, soundfont, sample_rate, FLUIDSYNTH_TIMEOUT_S):
                raise UserError(f"{spec['id']}: FluidSynth failed or timed out on {midi.name}")
            chunks.append(load_audio(wav, sample_rate))
    write_wav(out, normalise_loudness(np.concatenate(chunks)), sample_rate)
    return out


def piece_audio(piece: dict, sample_rate: int, cache: Path, seconds: float | None = None) -> np.ndarray:
    """The measured excerpt of a piece as mono float32 at `sample_rate`, at -20 dBFS RMS.
    `seconds` shortens the excerpt (--quick)."""
    from livestyle.errors import UserError
    from livestyle.io.decode import load_audio
    from livestyle.train.mvnet_data import normalise_loudness

    start = float(piece["excerpt"]["start"])
    length = float(seconds if seconds is not None else piece["excerpt"]["seconds"])
    n = int(round(length * sample_rate))
    if piece["kind"] == "silence":
        return np.zeros(n, np.float32)
    if piece["kind"] == "recording":
        audio = load_audio(REPO / piece["source"], sample_rate, start=start, duration=length)
    else:
        full = load_audio(render_to_cache(piece, cache, sample_rate), sample_rate)
        first = int(round(start * sample_rate))
        audio = full[first:first + n]
    if len(audio) < n - sample_rate // 100:
        raise UserError(f"{piece['id']}: {len(audio) / sample_rate:.1f} s of audio from {start:g} s, "
                        f"the excerpt needs {length:g} s")
    return normalise_loudness(audio[:n].astype(np.float32)).astype(np.float32)


def steady_audio(spec: dict, seconds: float, sample_rate: int, cache: Path) -> np.ndarray:
    from livestyle.io.decode import load_audio

    spec = dict(spec, seconds=float(math.ceil(seconds)) + 2.0)   # a little longer; cut below
    audio = load_audio(render_to_cache(spec, cache, sample_rate), sample_rate)
    return audio[:int(round(seconds * sample_rate))].astype(np.float32)


def painting_crops() -> list[np.ndarray]:
    """The paintings as the MVNet trainer sees them: shorter side 96, centre crop 64."""
    from livestyle.io.images import read_image, resize_shorter

    crops = []
    for path in sorted(PAINTINGS.glob("*.jpg")):
        image = resize_shorter(read_image(path), PAINTING_LOAD)
        h, w = image.shape[:2]
        y, x = (h - PAINTING_CROP) // 2, (w - PAINTING_CROP) // 2
        crops.append(image[y:y + PAINTING_CROP, x:x + PAINTING_CROP])
    return crops


# ------------------------------------------------------------------------------ the runtime's path

@dataclass
class Pass:
    times: np.ndarray                     # frame times, seconds
    frames: np.ndarray                    # restyled photo at those times (N,H,W,3) uint8
    styles: np.ndarray | None = None      # MVNet's image at those times (N,64,64,3) uint8
    tick_ms: list[float] = field(default_factory=list)
    frame_ms: list[float] = field(default_factory=list)   # restyling the photo (+ MVNet's image if kept)


class Runtime:
    """The shipped graphs on ONNX Runtime, and render's tick/frame loop around them."""

    def __init__(self, models: Path | None, threads: int, providers: tuple[str, ...], smoothing: float,
                 styles: Path | None = None, reactive=None, hold: float | None = None,
                 styles_temperature: float | None = None, styles_follow: float | None = None,
                 styles_seed_turn: float | None = None):
        from livestyle.commands.render import RenderConfig
        from livestyle.runtime.reactive import ReactiveConfig
        from livestyle.io.images import fit_height, read_image
        from livestyle.runtime.manifest import models_dir
        from livestyle.runtime.mvnet_runner import MVNetRunner
        from livestyle.runtime.sessions import Engine, RuntimeConfig
        from livestyle.runtime.stnet_runner import STNetRunner

        self.render_cfg = RenderConfig()
        self.reactive = reactive if reactive is not None else ReactiveConfig()  # render's default: on
        self.smoothing = smoothing
        self.hold = self.render_cfg.hold if hold is None else hold
        self.follow = self.render_cfg.styles_follow if styles_follow is None else styles_follow
        temperature = self.render_cfg.styles_temperature if styles_temperature is None else styles_temperature
        self.style_size = self.render_cfg.style_size
        self.tick_seconds = 1.0 / self.render_cfg.style_hz          # as RenderPlan
        self.folder = models_dir(models)
        engine = Engine(RuntimeConfig(intra_op_threads=threads), providers)
        self.stnet = STNetRunner(engine, self.folder, style_size=self.style_size)
        self.mvnet = MVNetRunner(engine, self.folder)
        self.bank = None
        if styles is not None:  # render --styles DIR: the music chooses among the user's images
            from livestyle.runtime.style_bank import StyleBank, look_grid

            self.bank = StyleBank.from_folder(styles, self.stnet, self.style_size, temperature, look_grid(self.reactive))
            if styles_seed_turn is not None:
                self.bank.seed_turn = styles_seed_turn
        self.mel_config = self.mvnet.mel_config
        self.sample_rate = self.mel_config.sample_rate
        photo = fit_height(read_image(PHOTO), PHOTO_HEIGHT)
        self.photo = np.ascontiguousarray(photo[: photo.shape[0] // 2 * 2, : photo.shape[1] // 2 * 2])

    def ticker(self, seed: int = 0):
        from livestyle.controls import Controls
        from livestyle.runtime.style_ticker import StyleTicker, TickSettings

        from livestyle.runtime.reactive import Reactive

        return StyleTicker(self.mvnet, self.stnet, TickSettings(self.style_size, self.smoothing, self.tick_seconds,
                                                                   self.hold, self.follow),
                           Controls(seed=seed), self.bank, Reactive(self.reactive, self.tick_seconds))

    def run(self, audio: np.ndarray, seconds: float, seed: int = 0, frame_times=None,
            keep_styles: bool = False, on_frame=None) -> Pass:
        """render's loop on `audio` (index 0 = 0 s): ticks k * tick_seconds for k < ceil(seconds *
        style_hz) + 1 (RenderPlan.n_ticks), each on the window centred on it (tick_styles); a frame
        at time t gets track.at(t) once the ticks have reached t (stylize_frames). Frames at
        `frame_times` (default: every whole second before `seconds`); `on_frame(t, frame)` sees
        each as it is made (a video writer)."""
        from livestyle.runtime.style_state import StyleTrack

        ticker = self.ticker(seed)
        times = np.arange(0.0, seconds - 1e-9, 1.0) if frame_times is None else np.asarray(frame_times, float)
        n_ticks = int(math.ceil(seconds * self.render_cfg.style_hz)) + 1
        track, frames, styles, tick_ms, frame_ms = StyleTrack(), [], [], [], []
        index = 0
        for k in range(n_ticks):
            t = k * self.tick_seconds
            start = ticker.centred_start(t)
            t0 = time.perf_counter()
            state = ticker.tick(audio, start)
            tick_ms.append((time.perf_counter() - t0) * 1000.0)
            track.add(t, state)
            while index < len(times) and times[index] <= track.last_time:
                t0 = time.perf_counter()
                frames.append(self._frame(ticker, track, audio, times[index], keep_styles, styles, on_frame))
                frame_ms.append((time.perf_counter() - t0) * 1000.0)
                index += 1
        while index < len(times):  # after the last tick: its state held (as StyleTrack does)
            frames.append(self._frame(ticker, track, audio, times[index], keep_styles, styles, on_frame))
            index += 1
        return Pass(times, np.stack(frames) if frames else np.zeros((0,) + self.photo.shape, np.uint8),
                    np.stack(styles) if keep_styles and styles else None, tick_ms, frame_ms)

    def _frame(self, ticker, track, audio, t, keep_styles, styles, on_frame) -> np.ndarray:
        frame = self.stnet.stylize(self.photo, track.at(float(t)))
        if keep_styles and self.bank is not None and self.bank.thumbnails and ticker.last_weights is not None:
            # the look on screen comes from the bank: its image with the largest weight this tick
            styles.append(self.bank.thumbnails[int(np.argmax(ticker.last_weights))])
        elif keep_styles:
            image = ticker.style_image(ticker.mel_window(audio, ticker.centred_start(float(t))))
            styles.append((np.clip(image[0].transpose(1, 2, 0) * 0.5 + 0.5, 0, 1) * 255 + 0.5).astype(np.uint8))
        if on_frame is not None:
            on_frame(float(t), frame)
        return frame

    def calibrate(self, audio: np.ndarray, ticks: int = 12, frames: int = 4) -> dict:
        """ms per tick, per restyled photo and per extra style image, for the run-time estimate."""
        ticker = self.ticker(0)
        tick = []
        for k in range(ticks):
            t0 = time.perf_counter()
            state = ticker.tick(audio, ticker.centred_start(k * self.tick_seconds))
            tick.append(time.perf_counter() - t0)
        frame, image = [], []
        for _ in range(frames):
            t0 = time.perf_counter()
            self.stnet.stylize(self.photo, state)
            t1 = time.perf_counter()
            ticker.style_image(ticker.mel_window(audio, ticker.centred_start(0.0)))
            frame.append(t1 - t0)
            image.append(time.perf_counter() - t1)
        return {"tick_s": float(np.median(tick[2:])), "frame_s": float(np.median(frame[1:])),
                "image_s": float(np.median(image[1:]))}

    def time_ticks(self, audio: np.ndarray, n: int) -> dict:
        """ticker.tick vs today's bare stages (mel window -> MVNet -> STNet style), interleaved on
        two tickers (each with its own incremental mel cache) over the same n windows."""
        full, bare = self.ticker(0), self.ticker(0)
        a, b = [], []
        for k in range(n):
            start = full.centred_start(k * self.tick_seconds)
            t0 = time.perf_counter()
            full.tick(audio, start)
            t1 = time.perf_counter()
            bare.style_state(bare.style_image(bare.mel_window(audio, start)))
            t2 = time.perf_counter()
            a.append((t1 - t0) * 1000.0)
            b.append((t2 - t1) * 1000.0)
        skip = min(3, n - 1)
        tick, base = float(np.median(a[skip:])), float(np.median(b[skip:]))
        return {"ticks": n, "tick_ms": tick, "bare_ms": base, "tick_over_bare": tick / base}


# ------------------------------------------------------------------------------ temporal (bench/temporal.py)

def temporal_module():
    sys.path.insert(0, str(BENCH))
    try:
        import temporal  # bench/temporal.py: F and R are its flicker_responsiveness
    finally:
        sys.path.remove(str(BENCH))
    return temporal


class LosslessVideo:
    """RGB frames -> FFV1 (yuv420p) in Matroska at 20 fps: what `render --codec ffv1` writes and
    bench/temporal.py measures."""

    def __init__(self, path: Path, width: int, height: int, fps: int = 20):
        import av

        self.av = av
        self.out = av.open(str(path), "w", format="matroska")
        self.stream = self.out.add_stream("ffv1", rate=fps)
        self.stream.width, self.stream.height, self.stream.pix_fmt = width, height, "yuv420p"
        self.fps, self.count = fps, 0

    def __call__(self, t: float, frame: np.ndarray) -> None:
        f = self.av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
        f.pts, f.time_base = self.count, Fraction(1, self.fps)
        self.out.mux(self.stream.encode(f))
        self.count += 1

    def close(self) -> None:
        self.out.mux(self.stream.encode(None))
        self.out.close()


def temporal_run(rt: Runtime, audio: np.ndarray, first: float, section: float, tmp: Path, name: str) -> dict:
    """Restyle the photo at 20 fps for 2 sections from `first` s (ticks from 0 s, as render), write
    it losslessly and read bench/temporal.py's F and R off it."""
    fps = rt.render_cfg.style_hz
    n = int(round(2 * section * fps))
    path = tmp / f"{name}.mkv"
    video = LosslessVideo(path, rt.photo.shape[1], rt.photo.shape[0], fps)
    try:
        rt.run(audio, first + 2 * section, frame_times=first + np.arange(n) / fps, on_frame=video)
    finally:
        video.close()
    f, r = temporal_module().flicker_responsiveness(path, section, fps)
    return {"F": f, "R": r, "frames": n, "section_s": section}


# ------------------------------------------------------------------------------ contact sheet

def contact_sheet(rows: list[tuple[str, str, np.ndarray, np.ndarray, np.ndarray]], photo: np.ndarray,
                  upper: str = "MVNet's image") -> np.ndarray:
    """rows: (id, subtitle, times, style images, restyled photos). The photo itself first, then one
    block per piece: MVNet's image (nearest-neighbour x1.5, so a 2-pixel pattern stays visible)
    above the restyled photo, one column per time."""
    ph, pw = photo.shape[:2]
    label_w, gap, title_h, times_h = 170, 8, 24, 18
    columns = max(len(r[2]) for r in rows)
    width = label_w + columns * (pw + 4)
    block = 2 * ph + gap
    sheet = np.full((title_h + ph + gap + times_h + len(rows) * block, width, 3), 255, np.uint8)
    font = cv2.FONT_HERSHEY_SIMPLEX

    def text(s, x, y, scale=0.4):
        cv2.putText(sheet, s, (x, y), font, scale, (0, 0, 0), 1, cv2.LINE_AA)

    text(f"bench/fidelity.py: per piece, {upper} (above) and the photo restyled by render's path (below)", 4, 16)
    y = title_h
    sheet[y:y + ph, label_w:label_w + pw] = photo
    text("the photo", 4, y + 20)
    y += ph + gap
    for c, t in enumerate(rows[0][2]):
        text(f"{t:g} s", label_w + c * (pw + 4) + 4, y + 13)
    y += times_h
    for pid, subtitle, times, styles, frames in rows:
        text(pid[:24], 4, y + 20)
        text(subtitle[:26], 4, y + 38, 0.33)
        for c, (style, frame) in enumerate(zip(styles, frames)):
            x = label_w + c * (pw + 4)
            big = cv2.resize(style, (ph, ph), interpolation=cv2.INTER_NEAREST)
            sheet[y:y + ph, x + (pw - ph) // 2:x + (pw - ph) // 2 + ph] = big
            sheet[y + ph:y + 2 * ph, x:x + pw] = frame
        y += block
    return sheet


# ------------------------------------------------------------------------------ the run

@dataclass
class Plan:
    pieces: list[dict]
    seconds: float            # per piece
    section: float
    seeds: int
    seed_pieces: list[dict]
    loud_pieces: list[dict]
    temporal_section: float
    timing_ticks: int

    def work(self, style_hz: int) -> dict:
        """Ticks, restyled photos and extra style images the plan costs."""
        ticks_per = int(math.ceil(self.seconds * style_hz)) + 1
        frames_per = int(math.ceil(self.seconds))
        passes = len(self.pieces) + (self.seeds - 1) * len(self.seed_pieces) + 2 * len(self.loud_pieces)
        temporal_ticks = (int(math.ceil((2 * self.temporal_section + STEADY_MARGIN_S) * style_hz)) + 1
                          + int(math.ceil(2 * self.temporal_section * style_hz)) + 1)
        temporal_frames = 2 * int(round(2 * self.temporal_section * style_hz))
        return {"passes": passes, "ticks": passes * ticks_per + temporal_ticks + 2 * self.timing_ticks,
                "frames": passes * frames_per + temporal_frames, "images": len(self.pieces) * frames_per}


def make_plan(pieces: list[dict], quick: bool, seeds: int, seed_pieces: int, loud_pieces: int,
              timing_ticks: int) -> Plan:
    if quick:
        pieces = pieces[:3]
    music = [p for p in pieces if p["kind"] != "silence"]
    seconds = 20.0 if quick else min(float(p["excerpt"]["seconds"]) for p in pieces)
    return Plan(pieces=pieces, seconds=seconds, section=10.0 if quick else SECTION_S,
                seeds=seeds, seed_pieces=music[:seed_pieces], loud_pieces=music[:loud_pieces],
                temporal_section=10.0 if quick else TEMPORAL_SECTION_S, timing_ticks=timing_ticks)


def estimate_seconds(work: dict, cost: dict) -> float:
    return work["ticks"] * cost["tick_s"] + work["frames"] * cost["frame_s"] + work["images"] * cost["image_s"]


def git_state() -> dict:
    def git(*args):
        try:
            return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, timeout=10).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""
    return {"commit": git("rev-parse", "HEAD"), "dirty": bool(git("status", "--porcelain", "--untracked-files=no"))}


def run(args: argparse.Namespace) -> dict:
    from livestyle.io.images import write_image

    t_start = time.perf_counter()
    cv2.setNumThreads(args.threads)
    sets = load_pieces(args.set)
    plan = make_plan(sets["pieces"], args.quick, args.seeds, args.seed_pieces, args.loudness_pieces,
                     args.timing_ticks)
    from livestyle.config import to_dict
    from livestyle.runtime.reactive import load_reactive_config

    from livestyle.commands.render import RenderConfig
    from livestyle.runtime.style_bank import styles_folder

    styles = styles_folder(args.styles or RenderConfig().styles, "--styles")
    rt = Runtime(args.models, args.threads, tuple(args.providers.split(",")), args.smoothing, styles,
                 load_reactive_config(args.config, args.no_reactive), args.hold, args.styles_temperature,
                 args.styles_follow, args.styles_seed_turn)
    sr = rt.sample_rate

    print(f"fidelity: set {args.set}{' (quick)' if args.quick else ''}, {len(plan.pieces)} pieces x "
          f"{plan.seconds:g} s, smoothing {rt.smoothing:g} s, hold {rt.hold:g}, seeds {plan.seeds} on {len(plan.seed_pieces)} pieces, "
          f"loudness on {len(plan.loud_pieces)}, models {rt.folder}, {args.threads} thread(s), {rt.stnet.provider}"
          + (f", style bank {styles} ({len(rt.bank.states)} images, steered by "
             f"{'the music embedding' if rt.mvnet.music_map is not None else 'MVNet image colours'}, "
             f"temperature {rt.bank.temperature:g}, follow {rt.follow:g} s, "
             f"seed turn {rt.bank.seed_turn:g} rad)"
             if rt.bank is not None else ""),
          flush=True)
    t0 = time.perf_counter()
    audio = {p["id"]: piece_audio(p, sr, args.cache, plan.seconds) for p in plan.pieces}
    print(f"audio ready in {time.perf_counter() - t0:.1f} s (cache {args.cache})", flush=True)

    first_music = next(p for p in plan.pieces if p["kind"] != "silence")
    cost = rt.calibrate(audio[first_music["id"]])
    work = plan.work(rt.render_cfg.style_hz)
    full_plan = make_plan(load_pieces("reporting")["pieces"], False, 4, 3, 2, 200)
    full_work = full_plan.work(rt.render_cfg.style_hz)
    est, est_full = estimate_seconds(work, cost), estimate_seconds(full_work, cost)
    print(f"cost here: {cost['tick_s'] * 1000:.0f} ms a tick, {cost['frame_s'] * 1000:.0f} ms a restyled photo; "
          f"this run: {work['passes']} passes, {work['ticks']} ticks, {work['frames']} photos "
          f"-> about {est / 60:.1f} min; a full reporting run (defaults): {full_work['ticks']} ticks "
          f"-> about {est_full / 60:.0f} min", flush=True)

    def progress(what: str, t0: float) -> None:
        done = time.perf_counter() - t_start
        print(f"  {what}: {time.perf_counter() - t0:.1f} s (elapsed {done / 60:.1f} of ~{est / 60:.1f} min)", flush=True)

    # main passes: seed 0, default settings
    main: dict[str, Pass] = {}
    for n, p in enumerate(plan.pieces):
        t0 = time.perf_counter()
        main[p["id"]] = rt.run(audio[p["id"]], plan.seconds, seed=0, keep_styles=True)
        progress(f"{p['id']} (seed 0)", t0)
        if n == 0:  # a better estimate than the short calibration: the first whole pass
            first = main[p["id"]]
            per_frame = float(np.median(first.frame_ms)) / 1000.0
            cost = {"tick_s": float(np.median(first.tick_ms[3:])) / 1000.0, "frame_s": per_frame * 0.7,
                    "image_s": per_frame * 0.3}
            est, est_full = estimate_seconds(work, cost), estimate_seconds(full_work, cost)
            print(f"  measured on that pass: {cost['tick_s'] * 1000:.0f} ms a tick -> this run about {est / 60:.1f} min, "
                  f"a full reporting run about {est_full / 60:.0f} min", flush=True)
    ids = [p["id"] for p in plan.pieces]
    frame_labs = {i: lab_means(main[i].frames) for i in ids}
    piece_lab = {i: v.mean(0) for i, v in frame_labs.items()}

    per_piece = {}
    for p in plan.pieces:
        i, ps = p["id"], main[p["id"]]
        sec = np.floor(ps.times / plan.section).astype(int)
        section_means = [frame_labs[i][sec == s].mean(0) for s in np.unique(sec)]
        per_piece[i] = {
            "genre": p["genre"], "era": p["era"],
            "mean_lab": [round(float(v), 2) for v in piece_lab[i]],
            "sections_dE": round(float(np.mean([delta_e(a, b) for k, a in enumerate(section_means)
                                               for b in section_means[k + 1:]])), 3) if len(section_means) > 1 else None,
            "spread_dE": round(float(delta_e(frame_labs[i], piece_lab[i][None]).mean()), 3),
            "audio_rms_dbfs": round(float(20 * np.log10(max(np.sqrt(np.mean(audio[i].astype(np.float64) ** 2)), 1e-10))), 1),
        }
    pairwise = pairwise_delta_e(piece_lab)

    guard = rt.mel_config.clip_seconds / 2 + 3 * rt.smoothing
    ident = identify_sections([np.stack([rgb_histogram(f) for f in main[i].frames]) for i in ids],
                              [main[i].times for i in ids], plan.section, guard)

    # seeds
    seed_labs = np.zeros((len(plan.seed_pieces), plan.seeds, 3))
    for a, p in enumerate(plan.seed_pieces):
        seed_labs[a, 0] = piece_lab[p["id"]]
        for s in range(1, plan.seeds):
            t0 = time.perf_counter()
            seed_labs[a, s] = lab_means(rt.run(audio[p["id"]], plan.seconds, seed=s).frames).mean(0)
            progress(f"{p['id']} (seed {s})", t0)
    seeds = variance_shares(seed_labs) if len(plan.seed_pieces) >= 2 and plan.seeds >= 2 else {}
    seed01 = {p["id"]: float(delta_e(seed_labs[a, 0], seed_labs[a, 1])) for a, p in enumerate(plan.seed_pieces)} \
        if plan.seeds >= 2 else {}

    # loudness
    loud = {}
    for p in plan.loud_pieces:
        i, ref = p["id"], main[p["id"]]
        t0 = time.perf_counter()
        quiet = rt.run(audio[i] * np.float32(10 ** (QUIET_DB / 20)), plan.seconds)
        faded = rt.run(audio[i] * fade_gain(len(audio[i]), sr), plan.seconds)
        part = ref.times >= 0.75 * plan.seconds
        loud[i] = {"whole_dE": float(delta_e(lab_means(quiet.frames).mean(0), piece_lab[i])),
                   "fade_quiet_part_dE": float(delta_e(lab_means(faded.frames[part]).mean(0),
                                                       frame_labs[i][part].mean(0))),
                   "quiet_part_frames": int(part.sum())}
        progress(f"{i} (30 dB quieter, and faded)", t0)

    # checkerboard
    style_images = [im for i in ids for im in main[i].styles]
    paintings = painting_crops()
    cb_style, cb_paint = checkerboard_energy(style_images), checkerboard_energy(paintings)

    # temporal: steady chord (no edges), then a switch between the first two pieces
    t0 = time.perf_counter()
    ts = plan.temporal_section
    with tempfile.TemporaryDirectory() as tmp:
        steady_len = 2 * ts + 2 * STEADY_MARGIN_S
        steady = temporal_run(rt, steady_audio(sets["steady"], steady_len, sr, args.cache), STEADY_MARGIN_S, ts,
                              Path(tmp), "steady")
        a_id, b_id = ids[0], ids[1]
        cut = int(round(ts * sr))
        switch_audio = np.concatenate([audio[a_id][:cut], audio[b_id][:cut]])
        switch = temporal_run(rt, switch_audio, 0.0, ts, Path(tmp), "switch")
        switch["pieces"] = [a_id, b_id]
    progress("temporal (steady chord, switch)", t0)

    t0 = time.perf_counter()
    timing = rt.time_ticks(audio[first_music["id"]], plan.timing_ticks)
    timing["main_pass_tick_ms"] = float(np.median([ms for i in ids for ms in main[i].tick_ms[3:]]))
    progress("tick timing", t0)

    figures = {
        "pairwise_dE_mean": pairwise["mean"], "pairwise_dE_min": pairwise["min"],
        "identification": ident["frame_accuracy"],
        "music_over_seed": seeds.get("music_over_seed", float("nan")),
        "seed01_dE_min": min(seed01.values()) if seed01 else float("nan"),
        "quiet_whole_dE_min": min(v["whole_dE"] for v in loud.values()) if loud else float("nan"),
        "quiet_fade_dE_min": min(v["fade_quiet_part_dE"] for v in loud.values()) if loud else float("nan"),
        "checkerboard_ratio": cb_style / cb_paint if cb_paint > 0 else float("inf"),
        "flicker_steady_F": steady["F"],
        "tick_over_bare": timing["tick_over_bare"],
    }
    result = {
        "set": args.set, "quick": args.quick, "seconds_per_piece": plan.seconds, "section_s": plan.section,
        "settings": {"smoothing_s": rt.smoothing, "hold": rt.hold, "style_hz": rt.render_cfg.style_hz, "style_size": rt.style_size,
                     "photo": str(PHOTO.relative_to(REPO)), "photo_size": list(rt.photo.shape[1::-1]),
                     "models": str(rt.folder), "providers": rt.stnet.provider, "threads": args.threads,
                     "seeds": plan.seeds, "seed_pieces": [p["id"] for p in plan.seed_pieces],
                     "loudness_pieces": [p["id"] for p in plan.loud_pieces], "identification_guard_s": guard,
                     "styles": args.styles or RenderConfig().styles,
                     "reactive": to_dict(rt.reactive)},
        "targets": {k: {"value": _round(figures[k]), "target": f"{op} {thr:g}", "result": check(k, figures[k]),
                        "what": what} for k, (op, thr, what) in TARGETS.items()},
        "pieces": per_piece,
        "pairwise_dE": pairwise,
        "within_piece": {"sections_dE_mean": _round(np.mean([v["sections_dE"] for v in per_piece.values()
                                                             if v["sections_dE"] is not None])),
                         "spread_dE_mean": _round(np.mean([v["spread_dE"] for v in per_piece.values()]))},
        "identification": ident,
        "seeds": {**seeds, "dE_seed0_seed1": {k: round(v, 3) for k, v in seed01.items()},
                  "mean_lab": {p["id"]: np.round(seed_labs[a], 2).tolist() for a, p in enumerate(plan.seed_pieces)}},
        "loudness": loud,
        "checkerboard": {"style_images": cb_style, "paintings": cb_paint, "ratio": figures["checkerboard_ratio"],
                         "n_style_images": len(style_images), "n_paintings": len(paintings)},
        "temporal": {"steady": steady, "switch": switch},
        "tick": timing,
        "cost_per_item_s": cost, "estimated_full_run_min": round(est_full / 60, 1),
        "run_seconds": round(time.perf_counter() - t_start, 1),
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "python": platform.python_version()},
        "git": git_state(),
    }

    if args.sheet is not None:
        rows = []
        for p in plan.pieces:
            ps = main[p["id"]]
            pick = [k for k, t in enumerate(ps.times) if int(round(t)) % SHEET_EVERY_S == 0]
            rows.append((p["id"], p["genre"].split(" (")[0], ps.times[pick], ps.styles[pick], ps.frames[pick]))
        args.sheet.parent.mkdir(parents=True, exist_ok=True)
        write_image(args.sheet, contact_sheet(rows, rt.photo, "MVNet's image" if rt.bank is None
                                              else "the bank image with the largest weight"))
        result["sheet"] = str(args.sheet)
    return result


def _round(v, n: int = 4):
    v = float(v)
    return round(v, n) if np.isfinite(v) else v


def print_report(r: dict) -> None:
    print("\nper piece (mean Lab of the restyled photo; change within: dE between sections / mean dE from the piece mean)")
    print(f"{'piece':<22} {'L':>6} {'a':>6} {'b':>6} {'sections':>9} {'spread':>7}  genre")
    for pid, v in r["pieces"].items():
        L, a, b = v["mean_lab"]
        sec = "-" if v["sections_dE"] is None else f"{v['sections_dE']:.2f}"
        print(f"{pid:<22} {L:6.2f} {a:6.2f} {b:6.2f} {sec:>9} {v['spread_dE']:7.2f}  {v['genre']}")
    pw = r["pairwise_dE"]
    print(f"closest pair: {pw['closest']}")
    idf = r["identification"]
    print(f"identification: frames {idf['frame_accuracy']:.3f} ({idf['frames']} frames), sections "
          f"{idf['section_accuracy']:.3f} ({idf['sections']}), chance {idf['chance']:.3f}")
    if r["seeds"]:
        s = r["seeds"]
        print(f"seeds: music var {s.get('music_var', float('nan')):.3f}, seed var {s.get('seed_var', float('nan')):.3f}; "
              f"dE seed 0/1: {s['dE_seed0_seed1']}")
    for pid, v in r["loudness"].items():
        print(f"loudness {pid}: whole -30 dB dE {v['whole_dE']:.3f}, fade quiet part dE {v['fade_quiet_part_dE']:.3f}")
    cb = r["checkerboard"]
    print(f"checkerboard: style images {cb['style_images']:.5f}, paintings {cb['paintings']:.5f}")
    tp = r["temporal"]
    print(f"temporal: steady chord F {tp['steady']['F']:.4f} (R between its halves {tp['steady']['R']:.3f}); "
          f"switch {tp['switch']['pieces'][0]} -> {tp['switch']['pieces'][1]}: F {tp['switch']['F']:.4f}, "
          f"R {tp['switch']['R']:.3f}")
    tk = r["tick"]
    print(f"tick: {tk['tick_ms']:.1f} ms (bare stages {tk['bare_ms']:.1f} ms; main passes {tk['main_pass_tick_ms']:.1f} ms)")
    print(f"\n{'figure':<22} {'value':>10} {'target':>9}  result  what")
    for k, v in r["targets"].items():
        print(f"{k:<22} {v['value']:>10.4g} {v['target']:>9}  {v['result']:<6}  {v['what']}")
    print(f"\nrun time {r['run_seconds'] / 60:.1f} min" + ("  (quick: a smoke run, not the reporting figures)" if r["quick"] else ""))


def parse_args(argv=None) -> argparse.Namespace:
    from livestyle.commands.render import RenderConfig

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--set", choices=("reporting", "tuning"), default="reporting",
                        help="which piece list of bench/fidelity_pieces.json (default reporting: the targets)")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: first 3 pieces, 20 s each (10 s sections), 2 seeds on 2 pieces, "
                             "loudness on 1, temporal sections of 10 s, 30 timed ticks")
    parser.add_argument("--seeds", type=int, default=None, help="seeds 0..N-1 for the seed figures (default 4; quick 2)")
    parser.add_argument("--seed-pieces", type=int, default=None,
                        help="how many music pieces (the first of the set) the seed figures use (default 3; quick 2)")
    parser.add_argument("--loudness-pieces", type=int, default=None,
                        help="how many music pieces (the first of the set) the loudness figures use (default 2; quick 1)")
    parser.add_argument("--smoothing", type=float, default=RenderConfig().smoothing,
                        help="style smoothing time constant in seconds (default: render's)")
    parser.add_argument("--hold", type=float, default=None,
                        help="RMS change of MVNet's image before the look follows it (default: render's)")
    parser.add_argument("--timing-ticks", type=int, default=None, help="ticks timed for the tick cost (default 200; quick 30)")
    parser.add_argument("--models", type=Path, default=None, help="folder of the ONNX graphs + manifest (default exported/)")
    parser.add_argument("--styles", default=None, metavar="DIR|builtin|mvnet",
                        help="as render's --styles: the bank the music steers, a folder, builtin or mvnet "
                             "(MVNet's image itself); default: render's default (builtin)")
    parser.add_argument("--styles-temperature", type=float, default=None,
                        help="with --styles: softmax temperature of the bank's blend (default: render's)")
    parser.add_argument("--styles-seed-turn", type=float, default=None,
                        help="with --styles: radians the seed turns the bank's directions (default the bank's)")
    parser.add_argument("--styles-follow", type=float, default=None,
                        help="with --styles: seconds the steering music embedding is averaged over (default: render's)")
    parser.add_argument("--config", type=Path, default=None,
                        help="a livestyle config whose reactive: section to measure (default: the built-in defaults)")
    parser.add_argument("--no-reactive", action="store_true",
                        help="measure with the reactive mapping off (loudness leaves the picture alone)")
    parser.add_argument("--providers", default="cpu", help="ONNX Runtime providers, comma-separated (default cpu)")
    parser.add_argument("--threads", type=int, default=1, help="ONNX Runtime intra-op threads (default 1)")
    parser.add_argument("--cache", type=Path, default=REPO / "runs" / "fidelity_audio",
                        help="rendered audio, built on first use and reused (default runs/fidelity_audio)")
    parser.add_argument("--json", type=Path, default=None,
                        help="figures as JSON (default bench/fidelity.json for a full reporting run, "
                             "else runs/fidelity_<set>[_quick].json; do not commit it)")
    parser.add_argument("--sheet", type=Path, default=None,
                        help="contact sheet PNG (default docs/fidelity_contact_sheet.png for a full reporting "
                             "run, else runs/fidelity_<set>[_quick].png)")
    args = parser.parse_args(argv)
    q = args.quick
    for name, full, quick in (("seeds", 4, 2), ("seed_pieces", 3, 2), ("loudness_pieces", 2, 1), ("timing_ticks", 200, 30)):
        if getattr(args, name) is None:
            setattr(args, name, quick if q else full)
    if args.seeds < 1 or args.seed_pieces < 0 or args.loudness_pieces < 0 or args.timing_ticks < 2:
        parser.error("--seeds must be >= 1, --timing-ticks >= 2, piece counts >= 0")
    official = args.set == "reporting" and not q and args.styles is None
    stem = f"fidelity_{args.set}{'_' + Path(args.styles).name if args.styles is not None else ''}{'_quick' if q else ''}"
    if args.json is None:
        args.json = BENCH / "fidelity.json" if official else REPO / "runs" / f"{stem}.json"
    if args.sheet is None:
        args.sheet = REPO / "docs" / "fidelity_contact_sheet.png" if official else REPO / "runs" / f"{stem}.png"
    return args


def main(argv=None) -> None:
    from livestyle.errors import UserError

    args = parse_args(argv)
    try:
        result = run(args)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    print_report(result)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2, ensure_ascii=False, default=float) + "\n", encoding="utf-8")
    print(f"wrote {args.json} and {result.get('sheet')}")


if __name__ == "__main__":
    main()
