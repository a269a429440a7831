"""Per-tick dynamics the music model cannot see: the log-mel front end turns gain into an offset
that MVNet's InstanceNorm removes, so a quiet passage and a climax give the same style image.
These features keep the absolute level and the attacks, for the runtime to map onto the picture.

  level_dbfs       RMS level in dB relative to full scale (a full-scale square wave is 0 dBFS, a
                   full-scale sine -3.01): against this fixed reference, a quiet recording stays
                   quiet, unlike a running normalisation
  onset_strength   mean positive spectral flux (dB per frame) of the log-magnitude spectrum: how
                   much new energy arrives; near 0 for steady sound, large for drums and attacks
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FLOOR_DBFS = -120.0


@dataclass(frozen=True)
class Dynamics:
    level_dbfs: float
    onset_strength: float


def level_dbfs(samples: np.ndarray) -> float:
    if not len(samples):
        return FLOOR_DBFS
    rms = float(np.sqrt(np.mean(np.square(samples, dtype=np.float64))))
    return max(FLOOR_DBFS, 20.0 * np.log10(rms)) if rms > 0 else FLOOR_DBFS


def onset_strength(samples: np.ndarray, n_fft: int = 1024, hop: int = 256) -> float:
    """Mean over frames of the summed positive change of the dB spectrum, divided by the bins."""
    if len(samples) < n_fft + hop:
        return 0.0
    frames = np.lib.stride_tricks.sliding_window_view(samples, n_fft)[::hop] * np.hanning(n_fft)
    spectrum = 20.0 * np.log10(np.abs(np.fft.rfft(frames, axis=1)) + 1e-6)
    flux = np.maximum(np.diff(spectrum, axis=0), 0.0).mean(axis=1)
    return float(flux.mean())


def dynamics(samples: np.ndarray) -> Dynamics:
    """Both features of one stretch of audio (the ticker passes the last tick's worth before the
    moment the style is for)."""
    samples = np.asarray(samples, np.float32)
    return Dynamics(level_dbfs(samples), onset_strength(samples))
