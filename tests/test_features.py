"""The log-mel front end (spec A.1 with log on): numpy runtime == torchaudio training reference."""

from pathlib import Path

import numpy as np
import pytest
import torch

from livestyle.io.decode import load_audio
from livestyle.audio.features import (IncrementalMel, MelConfig, clip_start_for, log_mel_window, torch_log_mel,
                                      window_samples)
from livestyle.errors import UserError

AUDIO = Path(__file__).resolve().parents[1] / "data" / "audio"
BRAHMS = AUDIO / "brahms_hungarian_dance_5.ogg"
TCHAIKOVSKY = AUDIO / "tchaikovsky_sugar_plum_fairy_macleod.ogg"


@pytest.fixture(scope="module")
def brahms():
    return load_audio(BRAHMS)


def test_clip_geometry():
    cfg = MelConfig()
    assert cfg.clip_samples == 196_466 and cfg.n_frames == 768 and cfg.chunk_frames == 256


@pytest.mark.parametrize("path,centre", [(BRAHMS, 12.0), (BRAHMS, 33.3), (TCHAIKOVSKY, 60.0)])
def test_numpy_matches_torchaudio_on_real_music(path, centre):
    audio = load_audio(path, duration=70)
    for cfg in (MelConfig(log=False), MelConfig()):
        start = clip_start_for(centre, cfg)
        ours = log_mel_window(audio, start, cfg)
        clip = torch.from_numpy(window_samples(audio, start, cfg.clip_samples).astype(np.float32))[None]
        ref = torch_log_mel(clip, cfg)[0].numpy()
        assert ours.shape == ref.shape == (3, 128, 256)
        if cfg.log:  # a log difference is a relative difference of the power
            assert np.abs(ours - ref).max() <= 1e-4
        else:
            assert (np.abs(ours - ref) / np.abs(ref).clip(1e-30)).max() <= 1e-4


def test_channels_are_consecutive_time_chunks(brahms):
    cfg = MelConfig()
    start = clip_start_for(20.0)
    x = log_mel_window(brahms, start)
    # chunk 1 starts 256 hops later: same as the first chunk of a window 256 hops later,
    # except the first two frames (reflect padding at that window's edge)
    later = log_mel_window(brahms, start + 256 * cfg.hop)
    np.testing.assert_allclose(x[1][:, 2:], later[0][:, 2:], atol=1e-5)


def test_silence_padding_outside_the_recording(brahms):
    cfg = MelConfig()
    x = log_mel_window(brahms, clip_start_for(0.0))  # first half of the window is before 0 s
    silent = np.log(cfg.eps)
    assert np.allclose(x[0][:, :100], silent)
    assert x[2].mean() > silent + 5  # the second half holds music
    end = len(brahms) / cfg.sample_rate
    y = log_mel_window(brahms, clip_start_for(end + 1.0))
    assert np.allclose(y[2][:, -100:], silent)


def test_incremental_equals_one_shot_and_computes_only_new_frames(brahms):
    inc = IncrementalMel()
    first = clip_start_for(10.0)
    inc.window(brahms, first)
    assert inc.computed == 768
    before = inc.computed
    for k in range(1, 21):  # one second of 50 ms steps
        start = clip_start_for(10.0 + 0.05 * k)
        got = inc.window(brahms, start)
        np.testing.assert_array_equal(got, log_mel_window(brahms, start))
    per_step = (inc.computed - before) / 20
    assert per_step < 12  # ~4.3 new frames + 4 edge frames per 50 ms, not 768


def test_window_start_must_be_on_hop_grid(brahms):
    with pytest.raises(ValueError):
        IncrementalMel().window(brahms, 1001)


def test_hamming_window_and_log_are_config_values(brahms):
    start = clip_start_for(15.0)
    hann = log_mel_window(brahms, start, MelConfig())
    hamming = log_mel_window(brahms, start, MelConfig(window="hamming"))
    assert np.abs(hann - hamming).mean() > 1e-3
    raw = log_mel_window(brahms, start, MelConfig(log=False))
    assert raw.min() >= 0 and raw.max() / max(raw[raw > 0].min(), 1e-30) > 1e6  # why log is on


def test_resampling_and_bad_audio(tmp_path):
    audio_44k = load_audio(BRAHMS, sample_rate=44100, duration=2.0)
    audio_22k = load_audio(BRAHMS, duration=2.0)
    assert len(audio_44k) == 88200 and len(audio_22k) == 44100
    bad = tmp_path / "bad.wav"
    bad.write_text("not audio")
    with pytest.raises(UserError, match="bad.wav: not a readable media file"):
        load_audio(bad)
    with pytest.raises(UserError, match="no such file"):
        load_audio(tmp_path / "missing.ogg")
    video_only = Path(__file__).resolve().parents[1] / "data" / "paintings" / "1913_picabia_udnie.jpg"
    with pytest.raises(UserError, match="no audio stream"):
        load_audio(video_only)
