"""Level and onset features: absolute against full scale, and attacks stand out from steady sound."""

import numpy as np
import pytest

from livestyle.audio.dynamics import FLOOR_DBFS, dynamics, level_dbfs, onset_strength

SR = 22050
t = np.arange(SR) / SR


def test_level_is_absolute_dbfs():
    sine = np.sin(2 * np.pi * 440 * t)
    assert level_dbfs(sine) == pytest.approx(-3.01, abs=0.02)
    assert level_dbfs(0.1 * sine) == pytest.approx(-23.01, abs=0.02)  # -20 dB of gain stays -20 dB
    assert level_dbfs(np.zeros(100)) == FLOOR_DBFS and level_dbfs(np.zeros(0)) == FLOOR_DBFS


def test_onsets_stand_out_from_steady_sound():
    steady = 0.3 * np.sin(2 * np.pi * 220 * t)
    clicks = steady.copy()
    for start in range(0, SR - 400, SR // 8):  # eight drum-like bursts
        clicks[start:start + 400] += np.random.default_rng(start).standard_normal(400) * 0.5
    assert onset_strength(clicks) > 5 * max(onset_strength(steady), 0.05)
    assert dynamics(clicks).level_dbfs > dynamics(steady).level_dbfs
