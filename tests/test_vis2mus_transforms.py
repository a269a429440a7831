"""Vis2Mus transforms (issue 14): the spec's exact brightness and contrast on the feature map, per
channel; the register shift; the decoded shapes; chord-tone share."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from livestyle.vis2mus.model import PolyDis, PolyDisConfig  # noqa: E402
from livestyle.vis2mus.representation import Note, chord_matrix, parse_harte  # noqa: E402
from livestyle.vis2mus.transforms import (brightness, chord_tone_share, contrast, enhance_segments,  # noqa: E402
                                          register_shift, shifted_chords, split_segments, trees_to_notes)

DATA = Path(__file__).parent / "data" / "vis2mus"


def test_brightness_and_contrast_are_the_spec_formulas_per_channel():
    fmap = torch.tensor([[[[0.0, 1.0], [2.0, 4.0]], [[10.0, 10.0], [10.0, 30.0]]]])   # (1, 2, 2, 2)
    assert torch.equal(brightness(fmap, 0), fmap) and torch.equal(contrast(fmap, 0), fmap)
    up = brightness(fmap, 50)   # + 0.5 * max / 2: +1 on channel 0 (max 4), +7.5 on channel 1 (max 30)
    assert torch.allclose(up[0, 0], fmap[0, 0] + 1.0) and torch.allclose(up[0, 1], fmap[0, 1] + 7.5)
    down = brightness(fmap, -100)  # - max / 2, clamped at 0
    assert torch.allclose(down[0, 0], torch.tensor([[0.0, 0.0], [0.0, 2.0]]))
    sharp = contrast(fmap, 100)    # m + 2 (X - m), m = 1.75 on channel 0
    assert torch.allclose(sharp[0, 0], torch.tensor([[0.0, 0.25], [2.25, 6.25]]))
    flat = contrast(fmap, -100)    # every entry becomes its channel's mean
    assert torch.allclose(flat[0, 1], torch.full((2, 2), 15.0))


@pytest.mark.parametrize("gap, expected", [(12.0, 12), (10.0, 12), (-3.0, -5), (5.5, 5), (0.0, 0), (-6.0, -5), (-8.0, -7)])
def test_register_shift_snaps_to_unison_fourth_or_fifth(gap, expected):
    """gap: mean of the accompaniment's top quarter minus the melody's mean."""
    melody = [Note(0, 60, 4)]
    top = 60 + gap
    acc = [Note(0, int(round(top)), 4)] * 4 + [Note(0, 30, 4)] * 12 if gap == int(gap) else \
        [Note(0, int(np.floor(top)), 4), Note(0, int(np.ceil(top)), 4)] * 2 + [Note(0, 30, 4)] * 12
    shift = register_shift(melody, acc)
    assert shift == expected and shift % 12 in (0, 5, 7)
    assert register_shift(melody, acc[:3]) == 0 and register_shift([], acc) == 0


def test_enhance_decodes_every_segment():
    torch.manual_seed(0)
    model = PolyDis(PolyDisConfig.small()).eval()
    s = np.load(DATA / "sample1.npz")
    pr = torch.tensor(np.stack([s["pr_mat"]] * 3), dtype=torch.float32)
    c = torch.tensor(np.stack([s["c"]] * 3), dtype=torch.float32)
    trees = enhance_segments(model, pr, c, 40, -30)
    assert trees.shape == (3, 32, 15, 6)
    notes = trees_to_notes(trees)
    assert all(0 <= n.onset < 96 for n in notes)


def test_segments_chords_and_chord_tones():
    notes = [Note(0, 60, 4), Note(4, 61, 4), Note(33, 67, 40)]
    first, second = split_segments(notes, 2)
    assert first == [Note(0, 60, 4), Note(4, 61, 4)] and second == [Note(1, 67, 32)]
    chords = chord_matrix([parse_harte("C:maj")] * 8 + [parse_harte("N")] * 8)
    assert chord_tone_share(notes, chords) == 0.5   # C is a tone, C# is not; the third is on no chord
    assert np.array_equal(shifted_chords(chords, -5)[0], parse_harte("G:maj").row())
