"""`livestyle vis2mus` and `livestyle export vis2mus` (issue 14) with a PolyDis trained for two steps
on the test songs (the pipeline, not the music: the starter weights are trained in bench/)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from livestyle.cli import main  # noqa: E402

DATA = Path(__file__).parent / "data" / "vis2mus"
SONG = DATA / "pop909" / "001" / "001.mid"


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> Path:
    from livestyle.train.vis2mus_trainer import Vis2MusTrainConfig, Vis2MusTrainer

    root = tmp_path_factory.mktemp("vis2mus")
    cfg = Vis2MusTrainConfig(data_dir=str(DATA / "pop909"), out_dir=str(root / "run"), steps=2, batch_size=2,
                             threads=1, eval_every=100, eval_segments=2, full_teacher_forcing=1.0)
    checkpoint = Vis2MusTrainer(cfg, progress=False).train()
    folder = root / "models"
    folder.mkdir()
    (folder / "manifest.json").write_text(json.dumps({"format": 2, "graphs": {}, "models": {}}))
    assert main(["export", "vis2mus", "--checkpoint", str(checkpoint), "--out-dir", str(folder)]) == 0
    return folder


def test_export_records_the_weights(models):
    manifest = json.loads((models / "manifest.json").read_text())
    entry = manifest["models"]["vis2mus"]
    assert entry["size"] == "small" and entry["weights"] == "vis2mus.safetensors"
    assert entry["training"]["data"]["train_songs"] == ["001"] and entry["parameters"] > 100_000
    assert manifest["graphs"]["vis2mus.safetensors"]["sha256"]


def test_enhance_writes_a_whole_piece(models, tmp_path, capsys):
    from livestyle.vis2mus.midi import read_midi

    out = tmp_path / "bright.mid"
    assert main(["vis2mus", "enhance", str(SONG), "--track", "PIANO", "--brightness", "40", "--contrast", "-20",
                 "-o", str(out), "--models", str(models)]) == 0
    printed = capsys.readouterr().out
    assert "2-bar segment(s) at 90 bpm" in printed and "brightness +40 %" in printed
    piece = read_midi(out)
    assert piece.bpm == pytest.approx(90, abs=1) and piece.is_four_four()
    assert list(tmp_path.iterdir()) == [out]


def test_stylize_and_from_images(models, tmp_path, capsys):
    import cv2

    from livestyle.image_adjust import adjust

    out = tmp_path / "styled.mid"
    other = DATA / "pop909" / "002" / "002.mid"
    assert main(["vis2mus", "stylize", "--melody", str(SONG), "--accompaniment", str(other), "-o", str(out),
                 "--accompaniment-track", "PIANO", "--models", str(models)]) == 0
    assert "melody moved" in capsys.readouterr().out and out.stat().st_size > 100
    photo = cv2.cvtColor(cv2.imread(str(Path(__file__).parents[1] / "data" / "photos" / "coffee.jpg")), cv2.COLOR_BGR2RGB)
    before, after = tmp_path / "before.png", tmp_path / "after.png"
    cv2.imwrite(str(before), cv2.cvtColor(photo, cv2.COLOR_RGB2BGR))
    cv2.imwrite(str(after), cv2.cvtColor(adjust(photo, -30, 20), cv2.COLOR_RGB2BGR))
    result = tmp_path / "from_images.mid"
    assert main(["vis2mus", "from-images", str(SONG), "--track", "PIANO", "--image", str(before), "--edited",
                 str(after), "-o", str(result), "--models", str(models)]) == 0
    import re

    printed = capsys.readouterr().out
    b, k = (int(v) for v in re.search(r"brightness ([-+]\d+) %, contrast ([-+]\d+) % against", printed).groups())
    assert abs(b + 30) <= 2 and abs(k - 20) <= 2 and result.exists()


@pytest.mark.skipif(shutil.which("fluidsynth") is None, reason="FluidSynth is a system package (make system-deps)")
def test_wav_rendering(models, tmp_path):
    wav = tmp_path / "out.wav"
    assert main(["vis2mus", "enhance", str(SONG), "--track", "PIANO", "-o", str(tmp_path / "o.mid"), "--wav", str(wav),
                 "--models", str(models), "--quiet"]) == 0
    assert wav.stat().st_size > 44_100


def test_identity_settings_keep_the_model_honest(models, tmp_path):
    """b = k = 0 still goes through the model (a reconstruction): the output is MIDI on the grid."""
    from livestyle.vis2mus.midi import quantize, read_midi

    out = tmp_path / "same.mid"
    assert main(["vis2mus", "enhance", str(SONG), "--track", "PIANO", "-o", str(out), "--models", str(models),
                 "--quiet"]) == 0
    notes, moved = quantize(read_midi(out).notes())
    assert moved == 0.0 and all(n.duration >= 1 for n in notes)
