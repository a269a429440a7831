"""MIDI in and out for Vis2Mus (mido): notes with their times in beats (from the file's own
ticks per beat) and in seconds (through its tempo map), quantisation to the 16th-note grid, and
writing notes on that grid back to a file."""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from livestyle.errors import UserError
from livestyle.vis2mus.representation import STEPS_PER_BEAT, Note


@dataclass(frozen=True)
class TimedNote:
    start_beat: float
    end_beat: float
    start_s: float
    end_s: float
    pitch: int
    velocity: int


@dataclass
class MidiPiece:
    path: Path
    ticks_per_beat: int
    tracks: dict[str, list[TimedNote]]       # by track name ("track N" when unnamed)
    tempos: list[tuple[int, int]]            # (tick, microseconds per beat)
    time_signatures: list[tuple[int, int, int]]   # (tick, numerator, denominator)

    @property
    def bpm(self) -> float:
        return 60e6 / self.tempos[0][1] if self.tempos else 120.0

    def notes(self, names: Sequence[str] | None = None) -> list[TimedNote]:
        """The notes of the named tracks (all tracks when None), merged in time order."""
        picked = self.tracks.values() if names is None else [self.tracks[n] for n in names if n in self.tracks]
        return sorted((n for track in picked for n in track), key=lambda n: (n.start_beat, n.pitch))

    def beat_seconds(self, beats: int) -> np.ndarray:
        """Times (s) of beats 0..beats-1 through the tempo map."""
        seconds = _tick_to_seconds(self.tempos, self.ticks_per_beat)
        return np.array([seconds(b * self.ticks_per_beat) for b in range(beats)])

    def is_four_four(self) -> bool:
        """4/4, or a duple metre that the 4-beat grid also fits (2/4, as POP909's files are marked,
        and 2/2); no time signature means 4/4."""
        return all((num, den) in ((4, 4), (2, 4), (2, 2)) for _, num, den in self.time_signatures)


def import_mido():
    try:
        import mido
    except ImportError:
        raise UserError("Vis2Mus reads and writes MIDI with mido: pip install 'livestyle[vis2mus]'") from None
    return mido


def read_midi(path: Path) -> MidiPiece:
    """All notes of a MIDI file (type 0 or 1), each with beats and seconds. A note-on without its
    note-off ends at the track's end."""
    mido = import_mido()
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: MIDI file not found")
    try:
        midi = mido.MidiFile(str(path))
    except (OSError, EOFError, ValueError, KeyError, IndexError) as exc:
        raise UserError(f"{path}: not a readable MIDI file ({exc})") from None
    if midi.type == 2:
        raise UserError(f"{path}: MIDI type 2 (independent sequences) is not supported")
    tpq = midi.ticks_per_beat
    tempos: list[tuple[int, int]] = []
    signatures: list[tuple[int, int, int]] = []
    raw: dict[str, list[tuple[int, int, int, int]]] = {}
    for index, track in enumerate(midi.tracks):
        name, tick, sounding, notes = f"track {index}", 0, {}, []
        for msg in track:
            tick += msg.time
            if msg.type == "track_name":
                name = msg.name.strip() or name
            elif msg.type == "set_tempo":
                tempos.append((tick, msg.tempo))
            elif msg.type == "time_signature":
                signatures.append((tick, msg.numerator, msg.denominator))
            elif msg.type == "note_on" and msg.velocity > 0:
                sounding.setdefault((msg.channel, msg.note), []).append((tick, msg.velocity))
            elif msg.type in ("note_off", "note_on"):
                started = sounding.get((msg.channel, msg.note))
                if started:
                    on, velocity = started.pop(0)
                    notes.append((on, tick, msg.note, velocity))
        for (_, pitch), starts in sounding.items():
            notes.extend((on, tick, pitch, velocity) for on, velocity in starts)
        if notes:
            raw[name if name not in raw else f"{name} ({index})"] = notes
    tempos.sort()
    seconds = _tick_to_seconds(tempos, tpq)
    tracks = {name: sorted((TimedNote(on / tpq, max(off, on) / tpq, seconds(on), seconds(max(off, on)), pitch, velocity)
                            for on, off, pitch, velocity in notes), key=lambda n: (n.start_beat, n.pitch))
              for name, notes in raw.items()}
    return MidiPiece(path, tpq, tracks, tempos, sorted(signatures))


def _tick_to_seconds(tempos: list[tuple[int, int]], tpq: int):
    ticks = [0] + [t for t, _ in tempos]
    per_beat = [500_000] + [us for _, us in tempos]
    starts = [0.0]
    for i in range(1, len(ticks)):
        starts.append(starts[-1] + (ticks[i] - ticks[i - 1]) / tpq * per_beat[i - 1] / 1e6)

    def seconds(tick: int) -> float:
        i = bisect_right(ticks, tick) - 1
        return starts[i] + (tick - ticks[i]) / tpq * per_beat[i] / 1e6
    return seconds


def quantize(notes: Sequence[TimedNote], beats: np.ndarray | None = None,
             steps_per_beat: int = STEPS_PER_BEAT) -> tuple[list[Note], float]:
    """Notes on the 16th grid, and the share of notes whose onset moved by more than 1/100 beat.
    Positions are the file's beats, or, with `beats` (beat times in seconds, e.g. POP909's
    annotations), the note's seconds mapped to beats by piecewise-linear interpolation
    (extrapolated with the first and last intervals). A note shorter than a step keeps its onset
    (duration 1)."""
    if not notes:
        return [], 0.0
    if beats is None:
        starts = np.array([n.start_beat for n in notes])
        ends = np.array([n.end_beat for n in notes])
    else:
        starts = seconds_to_beats(np.array([n.start_s for n in notes]), beats)
        ends = seconds_to_beats(np.array([n.end_s for n in notes]), beats)
    onsets = np.round(starts * steps_per_beat).astype(int)
    offsets = np.round(ends * steps_per_beat).astype(int)
    moved = float(np.mean(np.abs(starts * steps_per_beat - onsets) > steps_per_beat / 100))
    out = [Note(int(o), n.pitch, int(max(1, off - o)), n.velocity)
           for n, o, off in zip(notes, onsets, offsets) if o >= 0]
    return out, moved


def seconds_to_beats(seconds: np.ndarray, beats: np.ndarray) -> np.ndarray:
    index = np.arange(len(beats), dtype=float)
    out = np.interp(seconds, beats, index)
    first, last = beats[1] - beats[0], beats[-1] - beats[-2]
    out = np.where(seconds < beats[0], (seconds - beats[0]) / first, out)
    return np.where(seconds > beats[-1], len(beats) - 1 + (seconds - beats[-1]) / last, out)


def write_midi(path: Path, tracks: Sequence[tuple[str, Sequence[Note]]], bpm: float,
               steps_per_beat: int = STEPS_PER_BEAT, ticks_per_beat: int = 480) -> None:
    """Notes on the grid (onset/duration in steps) -> a type-1 MIDI file at `bpm`, one track per
    (name, notes), piano (program 0), 4/4."""
    mido = import_mido()
    midi = mido.MidiFile(type=1, ticks_per_beat=ticks_per_beat)
    meta = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=int(round(60e6 / bpm)), time=0),
                           mido.MetaMessage("time_signature", numerator=4, denominator=4, time=0)])
    midi.tracks.append(meta)
    step = ticks_per_beat // steps_per_beat
    for channel, (name, notes) in enumerate(tracks):
        events = []
        for n in notes:
            events.append((n.onset * step, 1, n.pitch, n.velocity))
            events.append(((n.onset + n.duration) * step, 0, n.pitch, 0))
        events.sort()
        track = mido.MidiTrack([mido.MetaMessage("track_name", name=name, time=0),
                                mido.Message("program_change", program=0, channel=channel % 16, time=0)])
        now = 0
        for tick, on, pitch, velocity in events:
            kind = "note_on" if on else "note_off"
            track.append(mido.Message(kind, note=pitch, velocity=velocity, channel=channel % 16, time=tick - now))
            now = tick
        midi.tracks.append(track)
    path.parent.mkdir(parents=True, exist_ok=True)
    midi.save(str(path))
