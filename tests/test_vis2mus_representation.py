"""Vis2Mus representation (issue 14): the golden 2-bar samples round-trip exactly between the
piano roll, the duration matrix and the PianoTree grid, and chord labels give their 36-d rows.
Fixtures: tests/data/vis2mus/sample{1,2}.npz from ZZWaang/icm-deep-music-generation (MIT, LICENSE
beside them)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from livestyle.vis2mus.representation import (NO_CHORD, Note, bits_duration, chord_matrix, duration_bits,
                                              estimate_chords, melody_onehot, notes_to_pr, parse_harte,
                                              pr_to_prmat, prmat_to_notes, prmat_to_tree, transpose_chords,
                                              tree_to_notes, tree_to_prmat)

DATA = Path(__file__).parent / "data" / "vis2mus"


@pytest.fixture(params=["sample1", "sample2"])
def sample(request):
    return dict(np.load(DATA / f"{request.param}.npz"))


def test_golden_samples_round_trip_exactly(sample):
    pr, pr_mat, tree = sample["pr"], sample["pr_mat"], sample["ptree"]
    assert np.array_equal(pr_to_prmat(pr), pr_mat)
    assert np.array_equal(prmat_to_tree(pr_mat), tree)
    assert np.array_equal(tree_to_prmat(tree), pr_mat)
    notes = prmat_to_notes(pr_mat)
    assert np.array_equal(notes_to_pr(notes), pr)
    assert tree_to_notes(tree) == notes


def test_the_documented_check_values():
    s = np.load(DATA / "sample1.npz")
    notes = prmat_to_notes(s["pr_mat"])
    assert len(notes) == 45 and min(n.pitch for n in notes) == 37 and max(n.pitch for n in notes) == 92
    assert s["ptree"][0, :4].tolist() == [[128, 2, 2, 2, 2, 2], [40, 0, 0, 1, 0, 1], [87, 0, 0, 0, 0, 1],
                                          [129, 2, 2, 2, 2, 2]]
    assert [n for n in notes if n.onset == 0] == [Note(0, 40, 6), Note(0, 87, 2)]


def test_chord_rows_match_the_samples():
    c1 = np.load(DATA / "sample1.npz")["c"]
    c2 = np.load(DATA / "sample2.npz")["c"]
    assert np.array_equal(chord_matrix([parse_harte(x) for x in
                                        ["E:maj"] * 2 + ["D#:min"] * 2 + ["C#:min"] * 2 + ["F#:maj"] * 2]), c1)
    assert np.array_equal(parse_harte("F#:maj").row(), c2[0]) and np.array_equal(parse_harte("Eb:maj").row(), c2[2])


@pytest.mark.parametrize("label, root, chroma, bass", [
    ("B:maj", 11, {11, 3, 6}, 0), ("Bb:min", 10, {10, 1, 5}, 0), ("F#:maj7/5", 6, {6, 10, 1, 5}, 7),
    ("Bb:sus4(b7)", 10, {10, 3, 5, 8}, 0), ("C:maj/3", 0, {0, 4, 7}, 4), ("A:min/b3", 9, {9, 0, 4}, 3),
    ("G:7/b7", 7, {7, 11, 2, 5}, 10), ("D:hdim7", 2, {2, 5, 8, 0}, 0), ("C", 0, {0, 4, 7}, 0),
    ("E:maj(*5)", 4, {4, 8}, 0),
])
def test_harte_labels(label, root, chroma, bass):
    chord = parse_harte(label)
    assert (chord.root, set(chord.chroma), chord.bass) == (root, chroma, bass)


def test_no_chord_and_bad_labels():
    assert parse_harte("N") == NO_CHORD and not NO_CHORD.row().any()
    for bad in ("H:maj", "C:weird", "C:maj/12"):
        with pytest.raises(ValueError):
            parse_harte(bad)


def test_transposition_keeps_the_relative_bass():
    c = parse_harte("C:maj/5").row()[None]
    up = transpose_chords(c, 2)
    assert np.array_equal(up, parse_harte("D:maj/5").row()[None])
    assert np.array_equal(transpose_chords(c, 2, bass_relative=False)[0, 24:], np.roll(c[0, 24:], 2))


def test_durations_and_overflowing_steps(caplog):
    assert duration_bits(6) == [0, 0, 1, 0, 1] and bits_duration([0, 0, 1, 0, 1]) == 6
    assert bits_duration(duration_bits(32)) == 32
    crowded = np.zeros((32, 128))
    crowded[0, 40:60] = 1   # 20 onsets in one step
    with caplog.at_level("WARNING"):
        tree = prmat_to_tree(crowded)
    kept = [int(p) for p in tree[0, 1:15, 0]]
    assert kept == list(range(40, 47)) + list(range(53, 60)) and tree[0, 15, 0] == 129
    assert "6 note(s)" in caplog.text


def test_melody_onehot_and_chord_estimation():
    melody = [Note(0, 72, 4), Note(4, 74, 2), Note(8, 76, 8)]
    m = melody_onehot(melody)
    assert m.argmax(1)[:10].tolist() == [72, 128, 128, 128, 74, 128, 129, 129, 76, 128]
    assert (m.sum(1) == 1).all()
    # C major then A minor, two beats each, with the bass of the second on C (an inversion)
    notes = [Note(0, 48, 8), Note(0, 64, 8), Note(0, 67, 8), Note(8, 48, 8), Note(8, 57, 8), Note(8, 64, 8)]
    chords = estimate_chords(notes, beats=4)
    assert [(c.root, c.bass) for c in chords] == [(0, 0), (0, 0), (9, 3), (9, 3)]
    assert estimate_chords([], beats=2) == [NO_CHORD, NO_CHORD]
