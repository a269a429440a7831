"""The music side of Vis2Mus, as PolyDis sees it (spec_vis2mus.md §1): one 2-bar segment of 4/4
on a 16th-note grid (32 steps), pitch 0-127.

  notes          (onset step, pitch, duration in steps), durations 1..32
  piano roll     pr (32,128,3) one-hot over {onset, sustain, silence}
  duration matrix  pr_mat (32,128): d at a note's onset cell, 0 elsewhere (the texture encoder's input)
  PianoTree      tree (32,16,6): per step, slot 0 = sos, then the step's notes by ascending pitch
                 as [pitch, b4..b0] (5-bit d-1, most significant bit first), then eos, then pad
  melody         (32,130) one-hot: pitch at onsets, 128 = hold, 129 = rest
  chords         (8,36) per beat: root one-hot | absolute chroma | bass one-hot relative to the root

numpy only: the runtime and the tests use it without torch.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np

log = logging.getLogger(__name__)

STEPS = 32              # 2 bars x 4 beats x 4 sixteenths
STEPS_PER_BEAT = 4
BEATS = STEPS // STEPS_PER_BEAT
PITCHES = 128
SOS, EOS, PAD = 128, 129, 130
DUR_PAD = 2
DUR_BITS = 5
SLOTS = 16
MAX_ONSETS = SLOTS - 2  # sos + 14 notes + eos
ONSET, SUSTAIN, SILENCE = 0, 1, 2
HOLD, REST = 128, 129


@dataclass(frozen=True, order=True)
class Note:
    onset: int       # 16th step from the segment's (or piece's) start
    pitch: int       # MIDI 0..127
    duration: int    # steps, >= 1
    velocity: int = 80


# ------------------------------------------------------------------------------------- accompaniment

def notes_to_pr(notes: Iterable[Note], steps: int = STEPS) -> np.ndarray:
    """3-state piano roll, built in note order (later notes overwrite earlier ones); cells past the
    segment are dropped; a note always keeps its onset cell."""
    pr = np.zeros((steps, PITCHES, 3), np.int64)
    pr[:, :, SILENCE] = 1
    for n in notes:
        if not 0 <= n.onset < steps:
            continue
        pr[n.onset, n.pitch] = (1, 0, 0)
        for t in range(n.onset + 1, min(steps, n.onset + max(1, n.duration))):
            pr[t, n.pitch] = (0, 1, 0)
    return pr


def pr_to_prmat(pr: np.ndarray) -> np.ndarray:
    """Duration matrix: at each onset cell, 1 + the number of sustain cells that follow it."""
    steps = pr.shape[0]
    pr_mat = np.zeros((steps, PITCHES), np.float64)
    onset = pr[:, :, ONSET] == 1
    sustain = pr[:, :, SUSTAIN] == 1
    for t, p in zip(*np.nonzero(onset)):
        d = 1
        while t + d < steps and sustain[t + d, p]:
            d += 1
        pr_mat[t, p] = d
    return pr_mat


def prmat_to_notes(pr_mat: np.ndarray, velocity: int = 80) -> list[Note]:
    ts, ps = np.nonzero(pr_mat)
    return sorted(Note(int(t), int(p), int(pr_mat[t, p]), velocity) for t, p in zip(ts, ps))


def notes_to_prmat(notes: Iterable[Note], steps: int = STEPS) -> np.ndarray:
    return pr_to_prmat(notes_to_pr(notes, steps))


def duration_bits(d: int) -> list[int]:
    """d in 1..32 -> 5 bits of d-1, most significant first."""
    if not 1 <= d <= 2 ** DUR_BITS:
        raise ValueError(f"duration {d} is outside 1..{2 ** DUR_BITS} steps")
    return [(d - 1) >> k & 1 for k in range(DUR_BITS - 1, -1, -1)]


def bits_duration(bits: Sequence[int]) -> int:
    return 1 + sum(int(b) << (DUR_BITS - 1 - k) for k, b in enumerate(bits))


def prmat_to_tree(pr_mat: np.ndarray) -> np.ndarray:
    """PianoTree grid of a duration matrix. A step with more than 14 onsets keeps its 7 lowest and
    7 highest notes (the outer voices) and logs how many it dropped (the original crashed)."""
    steps = pr_mat.shape[0]
    tree = np.full((steps, SLOTS, 1 + DUR_BITS), DUR_PAD, np.int64)
    tree[:, :, 0] = PAD
    dropped = 0
    for t in range(steps):
        pitches = np.nonzero(pr_mat[t])[0]
        if len(pitches) > MAX_ONSETS:
            dropped += len(pitches) - MAX_ONSETS
            half = MAX_ONSETS // 2
            pitches = np.concatenate([pitches[:half], pitches[-half:]])
        tree[t, 0, 0] = SOS
        for i, p in enumerate(pitches, start=1):
            tree[t, i] = [p, *duration_bits(int(min(pr_mat[t, p], 2 ** DUR_BITS)))]
        tree[t, len(pitches) + 1, 0] = EOS
    if dropped:
        log.warning("PianoTree: %d note(s) beyond %d onsets in one step dropped", dropped, MAX_ONSETS)
    return tree


def tree_to_notes(tree: np.ndarray, velocity: int = 80) -> list[Note]:
    """Notes of a PianoTree grid (32, slots, 6): with or without the sos slot (a decoder's 15
    predicted slots have none). Each step is read up to its first eos (or pad); pitch 128 (sos)
    is skipped. All slots are read (the original helper looked at the first 10 only)."""
    notes = []
    for t in range(tree.shape[0]):
        for slot in tree[t]:
            pitch = int(slot[0])
            if pitch == SOS:
                continue
            if pitch >= EOS:
                break
            bits = [int(b) for b in slot[1:]]
            if any(b not in (0, 1) for b in bits):
                break  # a malformed slot (duration padding on a pitch): the step ends
            notes.append(Note(t, pitch, bits_duration(bits), velocity))
    return sorted(notes)


def tree_to_prmat(tree: np.ndarray) -> np.ndarray:
    pr_mat = np.zeros((tree.shape[0], PITCHES), np.float64)
    for n in tree_to_notes(tree):
        pr_mat[n.onset, n.pitch] = n.duration
    return pr_mat


# ------------------------------------------------------------------------------------------ melody

def melody_onehot(notes: Iterable[Note], steps: int = STEPS) -> np.ndarray:
    """(steps, 130): the pitch at a note's onset, HOLD on the steps it sounds after, REST elsewhere
    (built in note order like the piano roll)."""
    codes = np.full(steps, REST, np.int64)
    for n in notes:
        if not 0 <= n.onset < steps:
            continue
        codes[n.onset] = n.pitch
        codes[n.onset + 1:min(steps, n.onset + max(1, n.duration))] = HOLD
    out = np.zeros((steps, PITCHES + 2), np.int64)
    out[np.arange(steps), codes] = 1
    return out


# ------------------------------------------------------------------------------------------ chords

PITCH_CLASSES = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
QUALITIES = {  # Harte shorthands (intervals above the root, semitones)
    "maj": (0, 4, 7), "min": (0, 3, 7), "dim": (0, 3, 6), "aug": (0, 4, 8),
    "maj7": (0, 4, 7, 11), "min7": (0, 3, 7, 10), "7": (0, 4, 7, 10), "dim7": (0, 3, 6, 9),
    "hdim7": (0, 3, 6, 10), "minmaj7": (0, 3, 7, 11), "maj6": (0, 4, 7, 9), "min6": (0, 3, 7, 9),
    "9": (0, 4, 7, 10, 2), "maj9": (0, 4, 7, 11, 2), "min9": (0, 3, 7, 10, 2),
    "sus2": (0, 2, 7), "sus4": (0, 5, 7), "5": (0, 7), "1": (0,),
}
DEGREES = {1: 0, 2: 2, 3: 4, 4: 5, 5: 7, 6: 9, 7: 11, 9: 2, 11: 5, 13: 9}
_LABEL = re.compile(r"^(?P<root>[A-G][#b]*)(?::(?P<quality>[^(/]*))?(?:\((?P<ext>[^)]*)\))?(?:/(?P<bass>.+))?$")


def _pitch_class(name: str) -> int:
    pc = PITCH_CLASSES[name[0]]
    for accidental in name[1:]:
        pc += 1 if accidental == "#" else -1
    return pc % 12


def _degree(text: str) -> int:
    """A Harte degree ('b3', '5', '#11') -> semitones above the root, 0..11."""
    m = re.fullmatch(r"([#b]*)(\d+)", text)
    if not m or int(m.group(2)) not in DEGREES:
        raise ValueError(f"{text!r} is not a chord degree")
    return (DEGREES[int(m.group(2))] + m.group(1).count("#") - m.group(1).count("b")) % 12


@dataclass(frozen=True)
class Chord:
    root: int            # pitch class 0..11, -1: no chord
    chroma: frozenset    # absolute pitch classes
    bass: int            # semitones above the root, 0..11; -1: no chord

    def row(self) -> np.ndarray:
        """The 36-d row: root one-hot | absolute chroma | bass one-hot relative to the root. No
        chord is all zeros (the original's (-1 mod 12) = B root is a quirk not kept)."""
        out = np.zeros(36, np.float64)
        if self.root < 0:
            return out
        out[self.root] = 1
        out[12 + np.array(sorted(self.chroma), dtype=int)] = 1
        out[24 + self.bass] = 1
        return out


NO_CHORD = Chord(-1, frozenset(), -1)


def parse_harte(label: str) -> Chord:
    """A Harte chord label ('B:maj', 'F#:maj7/5', 'Bb:sus4(b7)', 'N') -> Chord."""
    label = label.strip()
    if label in ("N", "X", ""):
        return NO_CHORD
    m = _LABEL.match(label)
    if not m:
        raise ValueError(f"{label!r} is not a Harte chord label")
    root = _pitch_class(m.group("root"))
    quality = m.group("quality")
    if quality is None or quality == "":
        quality = "maj" if m.group("ext") is None else "1"
    if quality not in QUALITIES:
        raise ValueError(f"{label!r}: unknown chord quality {quality!r}")
    intervals = set(QUALITIES[quality])
    for ext in (m.group("ext") or "").split(","):
        ext = ext.strip()
        if not ext:
            continue
        if ext.startswith("*"):
            intervals.discard(_degree(ext[1:]))
        else:
            intervals.add(_degree(ext))
    bass = _degree(m.group("bass")) if m.group("bass") else 0
    intervals.add(bass)
    return Chord(root, frozenset((root + i) % 12 for i in intervals), bass)


def chord_matrix(chords: Sequence[Chord]) -> np.ndarray:
    return np.stack([c.row() for c in chords]) if chords else np.zeros((0, 36))


def transpose_chords(c: np.ndarray, shift: int, bass_relative: bool = True) -> np.ndarray:
    """Roll root and chroma by `shift` semitones; the bass block too only when it is absolute
    (`bass_relative=False`): rolling a root-relative bass (the original's bug, spec §1.7) would
    give wrong labels."""
    out = c.copy()
    out[..., 0:12] = np.roll(c[..., 0:12], shift, axis=-1)
    out[..., 12:24] = np.roll(c[..., 12:24], shift, axis=-1)
    if not bass_relative:
        out[..., 24:36] = np.roll(c[..., 24:36], shift, axis=-1)
    return out


def transpose_roll(pr_mat: np.ndarray, shift: int) -> np.ndarray:
    """Pitch shift of a duration matrix by rolling (as the original; POP909's range never wraps)."""
    return np.roll(pr_mat, shift, axis=-1)


def chord_tones(chords: np.ndarray) -> np.ndarray:
    """(8,36) -> (8,12) bool: the pitch classes of each beat's chord (its chroma)."""
    return chords[..., 12:24] > 0.5


def estimate_chords(notes: Sequence[Note], beats: int, steps_per_beat: int = STEPS_PER_BEAT) -> list[Chord]:
    """One chord per beat from the notes sounding in it (for MIDI without annotations): the major
    or minor triad (or, failing both, the seventh chord) whose template best matches the beat's
    duration-weighted pitch-class profile, with the lowest sounding note as the bass when it is a
    chord tone. Beats with no notes repeat the previous chord. A template matcher, as the issue
    allows; the PolyDis chord encoder only needs plausible harmony."""
    profiles = np.zeros((beats, 12))
    lowest = np.full(beats, 128)
    for n in notes:
        for t in range(n.onset, n.onset + n.duration):
            b = t // steps_per_beat
            if 0 <= b < beats:
                profiles[b, n.pitch % 12] += 1.0
                lowest[b] = min(lowest[b], n.pitch)
    templates = []
    for root in range(12):
        for quality in ("maj", "min", "7", "min7", "dim"):
            tones = [(root + i) % 12 for i in QUALITIES[quality]]
            vec = np.full(12, -0.3)
            vec[tones] = 1.0
            templates.append((root, quality, tones, vec / len(tones) ** 0.5))
    out: list[Chord] = []
    for b in range(beats):
        if profiles[b].sum() == 0:
            out.append(out[-1] if out else NO_CHORD)
            continue
        scores = [(float(profiles[b] @ vec), -len(tones), root, quality, tones)
                  for root, quality, tones, vec in templates]
        _, _, root, quality, tones = max(scores)
        bass_pc = int(lowest[b]) % 12
        bass = (bass_pc - root) % 12 if bass_pc in tones else 0
        out.append(Chord(root, frozenset(tones), bass))
    return out
