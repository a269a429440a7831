"""Log-mel front end of MVNet (spec A.1), in numpy for the runtime and torchaudio for training.

One STFT over the 8.91 s clip (196 466 samples at 22 050 Hz): n_fft 1024, hop 256, periodic Hann
window (the authors' code; the paper says Hamming: `window` in the config), centred with reflect
padding, power 2, 128 Slaney-scale, Slaney-normalised mel bands -> 128 x 768, split along time into
3 chunks of 256 frames stacked as channels -> (3, 128, 256).

Deliberate deviation from the authors' code: log compression, log(mel + eps), is on by default. The
raw power mel spans more than ten decades, which overflows float16 on GPUs and leaves the network
to cope with an extreme dynamic range; the encoder's InstanceNorm still removes global gain.

`IncrementalMel` serves a window that slides in steps of 50 ms: interior STFT frames are cached on a
global hop grid and only the new frames (plus the 2 + 2 reflect-padded edge frames of the window)
are computed per step. Its output equals `log_mel_window` of the same window exactly.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class MelConfig:
    sample_rate: int = 22050
    clip_seconds: float = 8.91
    n_fft: int = 1024
    hop: int = 256
    n_mels: int = 128
    chunks: int = 3
    window: str = "hann"  # "hann" (the code) or "hamming" (the paper); periodic
    log: bool = True
    eps: float = 1e-6

    @property
    def clip_samples(self) -> int:
        return round(self.clip_seconds * self.sample_rate)  # 196 466

    @property
    def n_frames(self) -> int:
        return 1 + self.clip_samples // self.hop  # 768

    @property
    def chunk_frames(self) -> int:
        return self.n_frames // self.chunks  # 256


# ------------------------------------------------------------------------------ mel filterbank

def hz_to_mel(freq: np.ndarray) -> np.ndarray:
    """Slaney's mel scale: linear below 1 kHz, logarithmic above (librosa htk=False)."""
    freq = np.asanyarray(freq, dtype=np.float64)
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    min_log_mel, logstep = min_log_hz / f_sp, np.log(6.4) / 27.0
    return np.where(freq >= min_log_hz, min_log_mel + np.log(np.maximum(freq, 1e-10) / min_log_hz) / logstep,
                    freq / f_sp)


def mel_to_hz(mels: np.ndarray) -> np.ndarray:
    mels = np.asanyarray(mels, dtype=np.float64)
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    min_log_mel, logstep = min_log_hz / f_sp, np.log(6.4) / 27.0
    return np.where(mels >= min_log_mel, min_log_hz * np.exp(logstep * (mels - min_log_mel)), f_sp * mels)


def mel_filterbank(sample_rate: int, n_fft: int, n_mels: int) -> np.ndarray:
    """(n_mels, 1 + n_fft/2) triangular filters, area-normalised ("slaney"), fmin 0, fmax sr/2."""
    fft_freqs = np.linspace(0, sample_rate / 2, 1 + n_fft // 2)
    mel_f = mel_to_hz(np.linspace(hz_to_mel(0.0), hz_to_mel(sample_rate / 2), n_mels + 2))
    fdiff = np.diff(mel_f)
    ramps = mel_f[:, None] - fft_freqs[None, :]
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    weights *= (2.0 / (mel_f[2:n_mels + 2] - mel_f[:n_mels]))[:, None]
    return weights


def stft_window(cfg: MelConfig) -> np.ndarray:
    n = np.arange(cfg.n_fft)
    if cfg.window == "hann":
        return 0.5 - 0.5 * np.cos(2 * np.pi * n / cfg.n_fft)
    if cfg.window == "hamming":
        return 0.54 - 0.46 * np.cos(2 * np.pi * n / cfg.n_fft)
    raise ValueError(f"unknown STFT window {cfg.window!r} (use hann or hamming)")


# ------------------------------------------------------------------------------ numpy front end

class MelFrontEnd:
    """Precomputed window and filterbank; turns sample frames into mel power columns."""

    def __init__(self, cfg: MelConfig = MelConfig()):
        self.cfg = cfg
        self.window = stft_window(cfg)
        self.filters = mel_filterbank(cfg.sample_rate, cfg.n_fft, cfg.n_mels)

    def mel_frames(self, frames: np.ndarray) -> np.ndarray:
        """frames (T, n_fft) of samples -> mel power (n_mels, T), float64."""
        spectrum = np.fft.rfft(frames * self.window, axis=1)
        power = spectrum.real ** 2 + spectrum.imag ** 2
        return self.filters @ power.T

    def mel(self, clip: np.ndarray) -> np.ndarray:
        """One centred STFT over the clip -> mel power (n_mels, 1 + len // hop)."""
        half = self.cfg.n_fft // 2
        padded = np.pad(np.asarray(clip, dtype=np.float64), half, mode="reflect")
        n = 1 + len(clip) // self.cfg.hop
        frames = np.lib.stride_tricks.sliding_window_view(padded, self.cfg.n_fft)[::self.cfg.hop][:n]
        return self.mel_frames(frames)

    def to_input(self, mel: np.ndarray) -> np.ndarray:
        """mel power (n_mels, 768) -> network input (3, n_mels, 256), float32, log-compressed."""
        cfg = self.cfg
        if cfg.log:
            mel = np.log(mel + cfg.eps)
        mel = mel[:, :cfg.chunks * cfg.chunk_frames]
        return np.stack(np.split(mel, cfg.chunks, axis=1)).astype(np.float32)


def window_samples(audio: np.ndarray, start: int, length: int) -> np.ndarray:
    """audio[start : start + length], with silence where the window leaves the signal."""
    out = np.zeros(length, dtype=np.float64)
    lo, hi = max(start, 0), min(start + length, len(audio))
    if hi > lo:
        out[lo - start:hi - start] = audio[lo:hi]
    return out


def log_mel_window(audio: np.ndarray, start: int, cfg: MelConfig = MelConfig(),
                   front: MelFrontEnd | None = None) -> np.ndarray:
    """Network input (3, 128, 256) for the clip starting at sample `start` (may be < 0)."""
    front = front or MelFrontEnd(cfg)
    return front.to_input(front.mel(window_samples(audio, start, cfg.clip_samples)))


def clip_start_for(centre_seconds: float, cfg: MelConfig = MelConfig(), align: bool = True) -> int:
    """Start sample of the window centred on `centre_seconds`; with `align`, snapped to the hop
    grid (at most 5.8 ms off) so consecutive windows share STFT frames."""
    start = round(centre_seconds * cfg.sample_rate) - cfg.clip_samples // 2
    return int(round(start / cfg.hop) * cfg.hop) if align else start


class IncrementalMel:
    """Log-mel windows of a growing signal, computing only frames not seen before.

    Frames are identified by their centre sample. Interior frames (wholly inside the window) do
    not depend on the window position and are cached; the two frames at each end read reflect
    padding of the window and are recomputed per window. Window starts must lie on the hop grid
    (see `clip_start_for`). The cache keeps only frames that a later window can still use.
    """

    def __init__(self, cfg: MelConfig = MelConfig()):
        self.cfg = cfg
        self.front = MelFrontEnd(cfg)
        self.cache: dict[int, np.ndarray] = {}
        self.computed = 0  # frames computed in total (for tests and stats)

    def window(self, audio, start: int) -> np.ndarray:
        """Same result as `log_mel_window(audio, start)`. `audio` is an array whose index 0 is
        sample 0, or anything with `read(start, length)` returning silence-padded samples (an
        `AudioTimeline`)."""
        cfg = self.cfg
        read = audio.read if hasattr(audio, "read") else (lambda s, n: window_samples(audio, s, n))
        if start % cfg.hop:
            raise ValueError(f"window start {start} is not on the hop grid ({cfg.hop})")
        half, n = cfg.n_fft // 2, cfg.n_frames
        centres = start + cfg.hop * np.arange(n)
        interior = (centres - half >= start) & (centres + half <= start + cfg.clip_samples)
        columns = np.empty((cfg.n_mels, n))
        missing = [j for j in range(n) if interior[j] and int(centres[j]) not in self.cache]
        if missing:
            frames = np.stack([read(int(centres[j]) - half, cfg.n_fft) for j in missing])
            for j, column in zip(missing, self.front.mel_frames(frames).T):
                self.cache[int(centres[j])] = column
            self.computed += len(missing)
        for j in np.flatnonzero(interior):
            columns[:, j] = self.cache[int(centres[j])]
        # edge frames read the window's reflect padding: rebuild just the ends of the window
        rel = centres - start  # centres relative to the window
        head = np.flatnonzero(rel - half < 0)
        tail = np.flatnonzero(rel + half > cfg.clip_samples)
        if len(head):
            segment = read(start, int(rel[head[-1]]) + half)
            padded = np.pad(segment, (half, 0), mode="reflect")
            frames = np.stack([padded[int(rel[j]):int(rel[j]) + cfg.n_fft] for j in head])
            columns[:, head] = self.front.mel_frames(frames)
        if len(tail):
            a = int(rel[tail[0]]) - half
            padded = np.pad(read(start + a, cfg.clip_samples - a), (0, half), mode="reflect")
            frames = np.stack([padded[int(rel[j]) - half - a:int(rel[j]) + half - a] for j in tail])
            columns[:, tail] = self.front.mel_frames(frames)
        self.computed += len(head) + len(tail)
        for key in [k for k in self.cache if k < start]:
            del self.cache[key]
        return self.front.to_input(columns)


# ------------------------------------------------------------------------------ torch reference

@functools.lru_cache(maxsize=4)
def _torch_mel_transform(cfg: MelConfig):
    import torch
    import torchaudio

    window_fn = {"hann": torch.hann_window, "hamming": torch.hamming_window}[cfg.window]
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)  # torchaudio builds its filterbank in the default dtype
    try:
        return torchaudio.transforms.MelSpectrogram(
            sample_rate=cfg.sample_rate, n_fft=cfg.n_fft, hop_length=cfg.hop, n_mels=cfg.n_mels,
            window_fn=window_fn, center=True, pad_mode="reflect", power=2.0, norm="slaney",
            mel_scale="slaney")
    finally:
        torch.set_default_dtype(previous)


def torch_log_mel(clips, cfg: MelConfig = MelConfig()):
    """The training front end: torchaudio MelSpectrogram on a (B, samples) tensor -> float32
    (B, 3, 128, 256). Computed in float64 (cheap next to the network): in float32 the STFT and the
    filterbank alone differ from exact by up to ~1e-4 relative. Imports torch lazily."""
    import torch

    transform = _torch_mel_transform(cfg).to(clips.device)
    mel = transform(clips.double())
    if cfg.log:
        mel = torch.log(mel + cfg.eps)
    mel = mel[..., :cfg.chunks * cfg.chunk_frames].float()
    return torch.stack(torch.chunk(mel, cfg.chunks, dim=-1), dim=1)
