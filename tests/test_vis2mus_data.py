"""Vis2Mus MIDI I/O and the POP909 loader (issue 14) on the two POP909 songs in tests/data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from livestyle.errors import UserError
from livestyle.vis2mus.midi import TimedNote, quantize, read_midi, seconds_to_beats, write_midi
from livestyle.vis2mus.pop909 import load_song, segments, split_songs
from livestyle.vis2mus.representation import Note

POP909 = Path(__file__).parent / "data" / "vis2mus" / "pop909"


def test_write_then_read_keeps_the_grid(tmp_path):
    notes = [Note(0, 60, 4, 90), Note(2, 64, 2, 70), Note(8, 67, 8, 80)]
    path = tmp_path / "x.mid"
    write_midi(path, [("PIANO", notes), ("MELODY", [Note(0, 72, 16, 100)])], bpm=96)
    piece = read_midi(path)
    assert set(piece.tracks) == {"PIANO", "MELODY"} and piece.bpm == pytest.approx(96, abs=0.01)
    assert piece.is_four_four()
    back, moved = quantize(piece.tracks["PIANO"])
    assert back == notes and moved == 0.0
    assert piece.tracks["MELODY"][0].end_s == pytest.approx(4 * 60 / 96, abs=1e-3)


def test_quantize_reports_the_notes_it_moved():
    swung = [TimedNote(0.0, 1.0, 0, 0, 60, 80), TimedNote(0.33, 0.5, 0, 0, 62, 80), TimedNote(1.02, 1.1, 0, 0, 64, 80)]
    notes, moved = quantize(swung)
    assert [n.onset for n in notes] == [0, 1, 4] and notes[2].duration == 1   # too short: one step
    assert moved == pytest.approx(2 / 3)


def test_seconds_to_beats_interpolates_and_extrapolates():
    beats = np.array([1.0, 1.5, 2.0, 3.0])
    assert seconds_to_beats(np.array([0.5, 1.25, 2.5, 4.0]), beats).tolist() == [-1.0, 0.5, 2.5, 4.0]


def test_bad_midi_files_are_user_errors(tmp_path):
    with pytest.raises(UserError, match="not found"):
        read_midi(tmp_path / "none.mid")
    junk = tmp_path / "junk.mid"
    junk.write_bytes(b"MThd not really")
    with pytest.raises(UserError, match="not a readable MIDI"):
        read_midi(junk)


def test_pop909_song_to_segments():
    song = load_song(POP909 / "001")
    assert song.four_four() and song.bpm == pytest.approx(90, abs=1)
    assert {k: len(v) for k, v in song.tracks.items()} == {"MELODY": 264, "BRIDGE": 307, "PIANO": 985}
    segs = segments(song)
    assert len(segs) == 72   # every 4-beat bar with notes that has a 4-beat successor
    s = segs[10]
    assert s.pr_mat.shape == (32, 128) and s.chords.shape == (8, 36) and s.melody.shape == (32, 130)
    assert (s.pr_mat > 0).sum() > 5 and s.chords[:, :12].sum() == 8   # a chord on every beat
    assert s.pr_mat.max() <= 32
    # 8-bar anchors (Vis2Mus) and PIANO alone
    long = segments(song, num_bar=8, accompaniment=("PIANO",))
    assert long and long[0].pr_mat.shape == (128, 128) and long[0].chords.shape == (32, 36)


def test_triple_metre_songs_give_no_segments(tmp_path):
    song = load_song(POP909 / "002")
    song.downbeats = np.arange(0, len(song.beats), 3)   # as a 3/4 song's annotations would be
    assert not song.four_four() and segments(song) == []


def test_split_by_song_is_fixed_by_its_seed():
    names = [f"{i:03d}" for i in range(1, 910)]
    train, val = split_songs(names)
    assert len(train) == 808 and len(val) == 101 and not set(train) & set(val)
    assert split_songs(list(reversed(names))) == (train, val)
