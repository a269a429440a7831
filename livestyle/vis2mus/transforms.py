"""The Vis2Mus transformations (spec_vis2mus.md §3.3, §3.5): brightness and contrast applied to
PolyDis's texture feature map, per channel, then decoded; and compositional style transfer (the
melody of one piece over the accompaniment texture of another).

  brightness   X <- max(0, X + (b/100) max(X) / 2)          per channel X (8 x 29)
  contrast     X <- max(0, m + (X - m)(1 + k/100)),  m = mean(X) after brightness
  enhance      every 2-bar segment of a piece: feature map -> brightness, contrast -> z_txt (mean);
               z_chd (mean) from the segment's own chords; greedy decode
  stylize      the melody moved by `register_shift` semitones (towards the top of the accompaniment,
               snapped to a unison/fourth/fifth class), the melody's chords transposed with it,
               each segment decoded from (accompaniment texture, melody chords); one track out

The music side always reads b and k as alpha = b/100 and k/100 (the paper); the images use PIL's
conventions (livestyle.image_adjust), so `from-images` estimates those and passes the same percents.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import torch

from livestyle.vis2mus.representation import (BEATS, STEPS, Note, transpose_chords, tree_to_notes,
                                              tree_to_prmat)

SNAP = {1: -1, 2: -2, 3: 2, 4: 1, 6: 1, 8: -1, 9: -2, 10: 2, 11: 1}   # shift mod 12 -> {0, 5, 7}


def brightness(fmap: torch.Tensor, percent: float) -> torch.Tensor:
    """Per channel: X + (b/100) max(X) / 2, clamped at 0. fmap (B, C, 8, 29); b = 0 is the identity."""
    top = fmap.amax(dim=(-2, -1), keepdim=True)
    return (fmap + percent / 100.0 * top / 2.0).clamp(min=0.0)


def contrast(fmap: torch.Tensor, percent: float) -> torch.Tensor:
    """Per channel: m + (X - m)(1 + k/100), m the channel's mean, clamped at 0."""
    if percent == 0:
        return fmap
    mean = fmap.mean(dim=(-2, -1), keepdim=True)
    return (mean + (fmap - mean) * (1.0 + percent / 100.0)).clamp(min=0.0)


@torch.no_grad()
def enhance_segments(model, pr_mats: torch.Tensor, chords: torch.Tensor, b: float, k: float) -> torch.Tensor:
    """(N,32,128) accompaniment segments with their (N,8,36) chords -> (N,32,15,6) decoded trees,
    brightness b and contrast k (percent) applied to each segment's feature map (independently, as
    the original's 8-bar version)."""
    fmap = contrast(brightness(model.txt_encoder.feature_map(pr_mats), b), k)
    z_txt = model.txt_encoder.from_feature_map(fmap).mean
    z_chd = model.chd_encoder(chords).mean
    return model.decode(z_chd, z_txt)


def register_shift(melody: Sequence[Note], accompaniment: Sequence[Note]) -> int:
    """Semitones to move the melody towards the top quarter of the accompaniment's notes,
    truncated toward 0, snapped so that shift mod 12 is 0, 5 or 7 (spec §3.5); 0 with fewer than 4
    accompaniment notes or no melody."""
    if len(accompaniment) < 4 or not melody:
        return 0
    top = sorted((n.pitch for n in accompaniment), reverse=True)[:len(accompaniment) // 4]
    shift = -int(np.mean([n.pitch for n in melody]) - np.mean(top))   # int() truncates toward 0
    return shift + SNAP.get(shift % 12, 0)


@torch.no_grad()
def stylize_segments(model, texture_pr_mats: torch.Tensor, melody_chords: torch.Tensor) -> torch.Tensor:
    """Each segment's accompaniment texture with the melody's chords (posterior means) -> trees."""
    return model.swap(texture_pr_mats, melody_chords)


def trees_to_notes(trees: torch.Tensor | np.ndarray, velocity: int = 80) -> list[Note]:
    """(N,32,slots,6) decoded segments -> one note list on the piece's grid (segment k starts at
    32 k)."""
    trees = trees.cpu().numpy() if isinstance(trees, torch.Tensor) else trees
    return [Note(n.onset + STEPS * k, n.pitch, n.duration, velocity)
            for k, tree in enumerate(trees) for n in tree_to_notes(tree, velocity)]


def split_segments(notes: Sequence[Note], n_segments: int) -> list[list[Note]]:
    """A piece's notes (steps from its start) -> per 2-bar segment, onsets relative to it (a note
    is kept in the segment of its onset; its duration may run past the end, truncated by pr_mat)."""
    out: list[list[Note]] = [[] for _ in range(n_segments)]
    for n in notes:
        k = n.onset // STEPS
        if 0 <= k < n_segments:
            out[k].append(Note(n.onset - STEPS * k, n.pitch, min(n.duration, 32), n.velocity))
    return out


def shifted_chords(chords: np.ndarray, shift: int) -> np.ndarray:
    """The melody's chords moved with it, always from the original chords (the original
    transposed the stored chords again on every press)."""
    return transpose_chords(chords, shift)


def chord_tone_share(notes: Sequence[Note], chords: np.ndarray) -> float:
    """Share of notes whose pitch class is a tone of the chord on their onset beat (chords: one
    row per beat of the piece); notes on no-chord beats are not counted."""
    counted = tones = 0
    for n in notes:
        beat = n.onset // (STEPS // BEATS)
        if beat >= len(chords) or chords[beat, :12].sum() == 0:
            continue
        counted += 1
        tones += bool(chords[beat, 12 + n.pitch % 12] > 0.5)
    return tones / counted if counted else math.nan


def music_figures(notes: Sequence[Note], chords: np.ndarray, steps: int) -> dict[str, float]:
    """What bench/vis2mus_sweep.py follows as b and k sweep: note density (onsets per beat), mean
    pitch, pitch spread (std), share of chord tones."""
    pitches = np.array([n.pitch for n in notes], float)
    return {"density": len(notes) / (steps / (STEPS // BEATS)),
            "mean_pitch": float(pitches.mean()) if len(pitches) else math.nan,
            "pitch_spread": float(pitches.std()) if len(pitches) else math.nan,
            "chord_tone_share": chord_tone_share(notes, chords)}


def pr_mats_of(trees: torch.Tensor) -> torch.Tensor:
    """Decoded trees -> duration matrices (to re-encode an enhanced accompaniment for stylize)."""
    return torch.tensor(np.stack([tree_to_prmat(t) for t in trees.cpu().numpy()]), dtype=torch.float32)
