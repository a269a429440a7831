"""POP909 (MIT, music-x-lab) as PolyDis training segments (spec_vis2mus.md §1.3, §1.9).

Per song folder `NNN/`: `NNN.mid` (tracks MELODY, BRIDGE, PIANO), `beat_midi.txt` (beat time,
half-bar flag, downbeat flag), `chord_midi.txt` (start, end, Harte label). Notes are placed on the
beat annotations (not the MIDI tempo): seconds -> fractional beats by interpolation -> the nearest
16th. Bars run from one downbeat to the next; only 4-beat bars count. A segment is `num_bar`
consecutive 4-beat bars starting at any bar with a note (hop one bar), its accompaniment PIANO
(+ BRIDGE for training, as PolyDis) and one chord per beat: the label sounding at the beat.
Songs whose bars are mostly not 4 beats (POP909's 29 triple-metre songs) give no segments.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from livestyle.errors import UserError
from livestyle.vis2mus.midi import quantize, read_midi
from livestyle.vis2mus.representation import (BEATS, STEPS, STEPS_PER_BEAT, Chord, Note, chord_matrix,
                                              melody_onehot, notes_to_prmat, parse_harte)

ACCOMPANIMENT = ("BRIDGE", "PIANO")   # PolyDis training; Vis2Mus anchors use PIANO only


@dataclass
class Segment:
    """Stored compactly (uint8): all of POP909's ~65k training windows fit in about 350 MB."""
    song: str
    bar: int                  # first bar (0-based)
    pr_mat: np.ndarray        # (16 num_bar, 128) uint8 accompaniment durations (1..32)
    chords: np.ndarray        # (4 num_bar, 36) uint8, one chord per beat
    melody_codes: np.ndarray  # (16 num_bar,) int16: pitch at onsets, 128 hold, 129 rest

    @property
    def melody(self) -> np.ndarray:
        """(16 num_bar, 130) melody one-hot."""
        out = np.zeros((len(self.melody_codes), 130), np.int64)
        out[np.arange(len(self.melody_codes)), self.melody_codes] = 1
        return out


@dataclass
class Song:
    name: str
    beats: np.ndarray                     # beat times, seconds
    downbeats: np.ndarray                 # beat indices that start a bar
    chords: list[Chord]                   # one per beat
    tracks: dict[str, list[Note]] = field(default_factory=dict)   # on the 16th grid from beat 0

    @property
    def bpm(self) -> float:
        return 60.0 / float(np.median(np.diff(self.beats)))

    def bars(self) -> list[tuple[int, int]]:
        """(first beat, beats in the bar) for each bar."""
        edges = list(self.downbeats) + [len(self.beats)]
        return [(a, b - a) for a, b in zip(edges, edges[1:])]

    def four_four(self) -> bool:
        bars = self.bars()
        return bool(bars) and sum(n == 4 for _, n in bars) >= 0.9 * len(bars)


def read_beats(path: Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        rows = np.loadtxt(path, ndmin=2)
    except (OSError, ValueError) as exc:
        raise UserError(f"{path}: not a POP909 beat file ({exc})") from None
    if rows.shape[1] < 3 or len(rows) < 2:
        raise UserError(f"{path}: expected rows 'time half_bar_flag downbeat_flag'")
    return rows[:, 0], np.nonzero(rows[:, 2] > 0.5)[0]


def read_chord_labels(path: Path, beats: np.ndarray) -> list[Chord]:
    """The Harte label sounding at each beat time (no chord where none is)."""
    spans = []
    for i, line in enumerate(path.read_text().splitlines()):
        if not line.strip():
            continue
        parts = line.split()
        try:
            spans.append((float(parts[0]), float(parts[1]), parse_harte(parts[2])))
        except (IndexError, ValueError) as exc:
            raise UserError(f"{path}: line {i + 1}: {exc}") from None
    out = []
    for t in beats:
        label = next((c for start, end, c in spans if start - 1e-3 <= t < end - 1e-3), None)
        out.append(label if label is not None else Chord(-1, frozenset(), -1))
    return out


def load_song(folder: Path) -> Song:
    folder = Path(folder)
    name = folder.name
    beats, downbeats = read_beats(folder / "beat_midi.txt")
    chords = read_chord_labels(folder / "chord_midi.txt", beats)
    piece = read_midi(folder / f"{name}.mid")
    tracks = {}
    for track in ("MELODY", "BRIDGE", "PIANO"):
        notes, _ = quantize(piece.tracks.get(track, []), beats)
        tracks[track] = notes
    return Song(name, beats, downbeats, chords, tracks)


def segments(song: Song, num_bar: int = 2, accompaniment: Sequence[str] = ACCOMPANIMENT) -> list[Segment]:
    """Every valid `num_bar`-bar window (hop one bar), as PolyDis's prepare_data."""
    if not song.four_four():
        return []
    bars = song.bars()
    steps = STEPS * num_bar // 2
    acc = sorted((n for t in accompaniment for n in song.tracks.get(t, [])), key=lambda n: (n.onset, n.pitch))
    melody = song.tracks.get("MELODY", [])
    out = []
    for i in range(len(bars) - num_bar + 1):
        window = bars[i:i + num_bar]
        if any(n != 4 for _, n in window):
            continue
        first_beat = window[0][0]
        lo = first_beat * STEPS_PER_BEAT
        hi = lo + steps
        seg_acc = [Note(n.onset - lo, n.pitch, n.duration, n.velocity) for n in acc if lo <= n.onset < hi]
        seg_mel = [Note(n.onset - lo, n.pitch, n.duration, n.velocity) for n in melody if lo <= n.onset < hi]
        if not seg_acc and not seg_mel:
            continue
        chords = song.chords[first_beat:first_beat + BEATS * num_bar // 2]
        out.append(Segment(song.name, i, notes_to_prmat(seg_acc, steps).astype(np.uint8),
                           chord_matrix(chords).astype(np.uint8),
                           melody_onehot(seg_mel, steps).argmax(1).astype(np.int16)))
    return out


def split_songs(names: Sequence[str], seed: int = 3345, train_share: float = 8 / 9) -> tuple[list[str], list[str]]:
    """Train/validation split by song (8:1), fixed by `seed`: the same songs land on the same side
    on every machine."""
    names = sorted(names)
    rng = np.random.default_rng(seed)
    train = set(rng.choice(len(names), int(len(names) * train_share), replace=False).tolist())
    return [n for i, n in enumerate(names) if i in train], [n for i, n in enumerate(names) if i not in train]
