"""`livestyle vis2mus enhance | stylize | from-images`: the Vis2Mus music transformations on MIDI
files (livestyle/vis2mus/, spec_vis2mus.md §3), with the exported PolyDis (`livestyle export
vis2mus`).

Any 4/4 MIDI file is an anchor: its tracks are merged into one accompaniment unless `--track`
names one; notes are quantised to the 16th grid from the file's own beats (the share of notes moved
is reported); chords come from a POP909-style `--chords` file (start, end, Harte label) or are
estimated per beat from the notes; the piece is processed in 2-bar segments however long it is.
Outputs are written whole or not at all (a temporary beside the target, renamed when complete);
`--wav` also renders the result with FluidSynth.
"""

from __future__ import annotations

import argparse
import logging
import math
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from livestyle.errors import UserError
from livestyle.io.paths import check_output, temporary_beside

log = logging.getLogger(__name__)

SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
MELODY_NAMES = ("melody", "mel", "%mel", "lead", "vocal", "voice")


@dataclass
class Anchor:
    path: Path
    notes: list            # on the 16th grid from the piece's start
    chords: np.ndarray     # (beats, 36), one row per beat
    bpm: float
    moved: float           # share of notes the quantisation moved
    n_segments: int


def read_anchor(path: Path, track: str | None = None, exclude: tuple[str, ...] = (),
                chords_file: Path | None = None, piece=None) -> Anchor:
    """A 4/4 MIDI file as 2-bar segments' worth of notes and per-beat chords; `piece`: the file
    already read (read_midi), so one file gives several anchors without reading it again."""
    from livestyle.vis2mus.midi import quantize, read_midi
    from livestyle.vis2mus.representation import STEPS, STEPS_PER_BEAT, chord_matrix, estimate_chords

    if piece is None:
        piece = read_midi(path)
    if not piece.is_four_four():
        sigs = ", ".join(f"{n}/{d}" for _, n, d in piece.time_signatures)
        raise UserError(f"{path}: Vis2Mus works on music in 4/4 (or 2/4, 2/2); this file is in {sigs}")
    if track is not None:
        if track not in piece.tracks:
            raise UserError(f"{path}: no track named {track!r} (tracks: {', '.join(piece.tracks) or 'none'})")
        names = [track]
    else:
        names = [n for n in piece.tracks if n not in exclude]
    timed = piece.notes(names)
    if not timed:
        raise UserError(f"{path}: no notes{' in track ' + repr(track) if track else ''}")
    notes, moved = quantize(timed)
    end = max(n.onset + 1 for n in notes)
    n_segments = max(1, math.ceil(end / STEPS))
    beats = n_segments * STEPS // STEPS_PER_BEAT
    if chords_file is not None:
        from livestyle.vis2mus.pop909 import read_chord_labels

        if not chords_file.is_file():
            raise UserError(f"{chords_file}: chord file not found")
        chords = chord_matrix(read_chord_labels(chords_file, piece.beat_seconds(beats)))
    else:
        chords = chord_matrix(estimate_chords(notes, beats))
    return Anchor(path, notes, chords, piece.bpm, moved, n_segments)


def segment_tensors(anchor: Anchor):
    import torch

    from livestyle.vis2mus.representation import BEATS, notes_to_prmat
    from livestyle.vis2mus.transforms import split_segments

    pr = np.stack([notes_to_prmat(seg) for seg in split_segments(anchor.notes, anchor.n_segments)])
    c = anchor.chords[:anchor.n_segments * BEATS].reshape(anchor.n_segments, BEATS, 36)
    return torch.tensor(pr, dtype=torch.float32), torch.tensor(c, dtype=torch.float32)


def write_output(path: Path, tracks, bpm: float, wav: Path | None) -> None:
    """The MIDI file (and the WAV), each written whole or not at all."""
    from livestyle.vis2mus.midi import write_midi

    tmp = temporary_beside(path)
    try:
        write_midi(tmp, tracks, bpm)
        if wav is not None:
            render_wav(tmp, wav)
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def render_wav(midi: Path, wav: Path) -> None:
    synth = shutil.which("fluidsynth")
    if synth is None or not SOUNDFONT.exists():
        raise UserError(f"{wav}: --wav needs FluidSynth and a General MIDI soundfont "
                        f"(Debian: apt install fluidsynth fluid-soundfont-gm)")
    tmp = temporary_beside(wav)
    try:
        subprocess.run([synth, "-ni", "-q", "-g", "0.6", "-r", "44100", "-F", str(tmp), str(SOUNDFONT), str(midi)],
                       check=True, capture_output=True, timeout=600)
        tmp.replace(wav)
    except subprocess.CalledProcessError as exc:
        tmp.unlink(missing_ok=True)
        raise UserError(f"{wav}: FluidSynth failed ({exc.stderr.decode(errors='replace').strip()[:200]})") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def check_percent(value: float, option: str) -> float:
    if not math.isfinite(value) or not -100.0 <= value <= 100.0:
        raise UserError(f"{option} {value:g}: must be a percentage in -100..100")
    return value


def enhance(args: argparse.Namespace) -> None:
    from livestyle.vis2mus.transforms import enhance_segments, trees_to_notes
    from livestyle.vis2mus.weights import load_polydis

    b, k = check_percent(args.brightness, "--brightness"), check_percent(args.contrast, "--contrast")
    check_output(args.output, (args.anchor,))
    if args.wav is not None:
        check_output(args.wav, (args.anchor, args.output), option="--wav file")
    anchor = read_anchor(args.anchor, args.track, chords_file=args.chords)
    model = load_polydis(args.models)
    pr, c = segment_tensors(anchor)
    notes = trees_to_notes(enhance_segments(model, pr, c, b, k))
    write_output(args.output, [("accompaniment", notes)], anchor.bpm, args.wav)
    report(args, anchor, f"brightness {b:+g} %, contrast {k:+g} %", len(notes))


def stylize(args: argparse.Namespace) -> None:
    import torch

    from livestyle.vis2mus.representation import BEATS, Note
    from livestyle.vis2mus.transforms import register_shift, shifted_chords, stylize_segments, trees_to_notes
    from livestyle.vis2mus.weights import load_polydis

    check_output(args.output, (args.melody, args.accompaniment))
    if args.wav is not None:
        check_output(args.wav, (args.melody, args.accompaniment, args.output), option="--wav file")
    from livestyle.vis2mus.midi import read_midi

    tune_piece, texture_piece = read_midi(args.melody), read_midi(args.accompaniment)
    melody = read_anchor(args.melody, args.melody_track or melody_track(tune_piece), piece=tune_piece)
    harmony = read_anchor(args.melody, None, chords_file=args.chords, piece=tune_piece)  # the melody piece's chords
    texture = read_anchor(args.accompaniment, args.accompaniment_track, piece=texture_piece,
                          exclude=(melody_track(texture_piece) or "",) if args.accompaniment_track is None else ())
    model = load_polydis(args.models)
    shift = register_shift(melody.notes, texture.notes)
    n = melody.n_segments
    pr, _ = segment_tensors(texture)
    pr = pr[torch.arange(n) % pr.shape[0]]        # a shorter accompaniment repeats its texture
    chords = shifted_chords(harmony.chords[:n * BEATS], shift).reshape(n, BEATS, 36)
    accompaniment = trees_to_notes(stylize_segments(model, pr, torch.tensor(chords, dtype=torch.float32)), 80)
    tune = [Note(x.onset, min(127, max(0, x.pitch + shift)), x.duration, 100) for x in melody.notes]
    notes = sorted(tune + accompaniment)
    write_output(args.output, [("melody + accompaniment", notes)], texture.bpm, args.wav)
    report(args, melody, f"melody moved {shift:+d} semitones, texture of {args.accompaniment.name}", len(notes))


def from_images(args: argparse.Namespace) -> None:
    from livestyle.image_adjust import estimate
    from livestyle.io.images import read_image

    before, after = read_image(args.image), read_image(args.edited)
    try:
        b, k = estimate(before, after)
    except ValueError as exc:
        raise UserError(f"{args.edited}: {exc}") from None
    b, k = float(np.clip(b, -100, 100)), float(np.clip(k, -100, 100))
    print(f"{args.edited.name}: brightness {b:+.0f} %, contrast {k:+.0f} % against {args.image.name}")
    args.brightness, args.contrast = round(b), round(k)
    enhance(args)


def melody_track(piece) -> str | None:
    """The track of a read MIDI file whose name says it is the melody."""
    return next((n for n in piece.tracks if n.strip().lower() in MELODY_NAMES), None)


def report(args: argparse.Namespace, anchor: Anchor, what: str, n_notes: int) -> None:
    if not getattr(args, "quiet", False):
        print(f"{args.output}: {n_notes} notes, {anchor.n_segments} 2-bar segment(s) at {anchor.bpm:.0f} bpm, "
              f"{what}; quantising moved {anchor.moved:.0%} of the anchor's notes"
              + (f"; audio {args.wav}" if args.wav else ""))


def run(args: argparse.Namespace) -> None:
    {"enhance": enhance, "stylize": stylize, "from-images": from_images}[args.action](args)
