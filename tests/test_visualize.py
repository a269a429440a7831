"""`livestyle visualize` with the shipped MVNet (runtime only)."""

from pathlib import Path

import numpy as np

from livestyle.cli import main
from livestyle.io.images import read_image
from livestyle.runtime.sessions import Engine
from livestyle.runtime.manifest import models_dir
from livestyle.runtime.mvnet_runner import MVNetRunner, seeded_z

REPO = Path(__file__).resolve().parents[1]
BRAHMS = REPO / "data" / "audio" / "brahms_hungarian_dance_5.ogg"


def test_one_image_per_window_and_a_contact_sheet(tmp_path):
    out = tmp_path / "vis"
    assert main(["visualize", str(BRAHMS), "-o", str(out), "--hop", "5", "--providers", "cpu", "--quiet"]) == 0
    images = sorted(out.glob("style_*.png"))
    assert len(images) == 10  # t = 0, 5, ..., 45 s of a 45.8 s piece
    assert read_image(images[0]).shape == (64, 64, 3)
    assert (out / "contact_sheet.png").exists()
    # the music changes over the piece, and so do the images
    a, b = read_image(images[2]).astype(float), read_image(images[7]).astype(float)
    assert np.abs(a - b).mean() > 1.0


def test_seed_changes_the_image_and_is_reproducible():
    runner = MVNetRunner(Engine(providers=("cpu",)), models_dir())
    mel = np.random.default_rng(0).normal(-5, 3, (3, 128, 256)).astype(np.float32)
    a, b, c = (runner.style_image(mel, seeded_z(s)) for s in (1, 1, 2))
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_bad_audio_is_a_clear_error(tmp_path, capsys):
    bad = tmp_path / "song.mp3"
    bad.write_bytes(b"\x00" * 1000)
    assert main(["visualize", str(bad), "-o", str(tmp_path / "o"), "--providers", "cpu"]) == 2
    err = capsys.readouterr().err
    assert "song.mp3" in err and "Traceback" not in err
    assert main(["visualize", str(BRAHMS), "-o", str(tmp_path / "o"), "--hop", "0"]) == 2
