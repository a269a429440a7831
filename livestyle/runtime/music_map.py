"""MVNet's music embedding, whitened: the coordinates a style bank is steered by.

Why: the starter generator G collapsed to one look, but the encoder E in front of it did not. On
the fidelity pieces (none of them MVNet training data), E's 8x16 latent tells one piece from the
others for 82-85 % of 1 s windows with whole 10 s sections held out (chance 12 %), while G's images
barely move (bench/RESULTS.md, issue 10). So a bank of style images is steered by E's latent, not by
the colours of G's image.

The map is fitted once, at export, on MVNet's own training music (never on the pieces the fidelity
benchmark reports on): the mean latent and its leading principal directions, each scaled to unit
variance. `whiten` puts a latent into those coordinates, where training music spreads about one
unit along every axis whatever the raw scale of E's units. It is stored beside the graph as
`mvnet_music.json` (plain numbers, no pickle) and recorded in the manifest with its sha256.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from livestyle.errors import UserError

FILE = "mvnet_music.json"
COMPONENTS = 8          # principal directions kept: 8 hold 83 % of the latent's variance on the tuning set
WINDOWS_PER_PIECE = 8   # windows per training recording the map is fitted on, evenly spaced


@dataclass
class MusicMap:
    mean: np.ndarray         # (D,) the training music's mean latent
    components: np.ndarray   # (K, D) orthonormal principal directions
    scales: np.ndarray       # (K,) standard deviation of the training music along each

    def whiten(self, music: np.ndarray) -> np.ndarray:
        """(D,) or (N, D) latents -> (K,) or (N, K) coordinates of unit variance on training music."""
        return (np.asarray(music, np.float64) - self.mean) @ self.components.T / self.scales

    @classmethod
    def fit(cls, latents: np.ndarray, components: int = COMPONENTS) -> "MusicMap":
        latents = np.asarray(latents, np.float64)
        if latents.ndim != 2 or len(latents) <= components:
            raise ValueError(f"fitting {components} directions needs more than {components} latents, "
                             f"got shape {latents.shape}")
        mean = latents.mean(0)
        _, s, vt = np.linalg.svd(latents - mean, full_matrices=False)
        scales = s[:components] / np.sqrt(len(latents))
        return cls(mean, vt[:components], np.maximum(scales, 1e-6))

    def to_json(self, about: dict) -> str:
        return json.dumps({"about": about, "mean": self.mean.round(6).tolist(),
                           "components": self.components.round(6).tolist(),
                           "scales": self.scales.round(6).tolist()}, indent=1)

    @classmethod
    def load(cls, path: Path) -> "MusicMap":
        try:
            data = json.loads(Path(path).read_text())
            mean = np.asarray(data["mean"], np.float64)
            components = np.asarray(data["components"], np.float64)
            scales = np.asarray(data["scales"], np.float64)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise UserError(f"{path}: not a music map written by `livestyle export` ({exc})") from None
        if mean.ndim != 1 or components.ndim != 2 or components.shape != (len(scales), len(mean)) \
                or not np.all(scales > 0):
            raise UserError(f"{path}: music map with inconsistent shapes (mean {mean.shape}, components "
                            f"{components.shape}, scales {scales.shape})")
        return cls(mean, components, scales)


def window_starts(n_samples: int, clip_samples: int, count: int = WINDOWS_PER_PIECE) -> list[int]:
    """`count` window starts spread evenly over a recording (one at 0 if it is shorter than a window)."""
    if n_samples <= clip_samples:
        return [0]
    return [int(round(s)) for s in np.linspace(0, n_samples - clip_samples, count)]
