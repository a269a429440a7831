"""MVNet training: dataset parsing and bad inputs, every loss term decreases on a tiny overfit,
and a short run trains, logs, checkpoints and resumes."""

import csv
import json
import random
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from livestyle.io.decode import load_audio
from livestyle.errors import UserError
from livestyle.models.mvnet import seeded_z
from livestyle.train.data import EraBins, read_year_csv
from livestyle.train.mvnet_trainer import (MusicArtDataset, MVNetTrainConfig, MVNetTrainer, clip_starts,
                                   gram_style_loss, grams, ragan_d_loss, ragan_g_loss, triplets)
from livestyle.train.mvnet_data import write_csv, write_wav

REPO = Path(__file__).resolve().parents[1]
PAINTINGS = REPO / "data" / "paintings"


@pytest.fixture(scope="module")
def tiny_set(tmp_path_factory) -> Path:
    """4 real pieces (10 s cuts of the bundled recordings) in two eras, 4 paintings in each."""
    root = tmp_path_factory.mktemp("mvdata")
    (root / "audio").mkdir()
    rows = []
    for name, years in (("brahms_hungarian_dance_5.ogg", (1869, 1870)),
                        ("tchaikovsky_sugar_plum_fairy_macleod.ogg", (1905, 1906))):
        audio = load_audio(REPO / "data" / "audio" / name, duration=25)
        for k, year in enumerate(years):
            path = root / "audio" / f"{Path(name).stem}_{k}.wav"
            write_wav(path, audio[k * 220500:(k + 1) * 220500 + 22050], 22050)
            rows.append((f"audio/{path.name}", year, path.stem))
    write_csv(root / "audio.csv", rows)
    images = [(f"{PAINTINGS / n}", int(n[:4]), n) for n in sorted(p.name for p in PAINTINGS.glob("18[6-9]*.jpg"))[:4]]
    images += [(f"{PAINTINGS / n}", int(n[:4]), n) for n in sorted(p.name for p in PAINTINGS.glob("19*.jpg"))[:4]]
    write_csv(root / "images.csv", images)
    return root


def config(root: Path, out: Path, **kw) -> MVNetTrainConfig:
    return MVNetTrainConfig(audio_csv=str(root / "audio.csv"), images_csv=str(root / "images.csv"),
                            out_dir=str(out), era_base=1450, era_bin_years=50, era_count=10,
                            clips_per_piece=2, batch_size=4, eras_per_batch=2, threads=0, device="cpu", **kw)


def test_era_bins():
    bins = EraBins()
    assert bins.label(1480) == 0 and bins.label(1489) == 0 and bins.label(1490) == 1
    assert bins.label(1479) is None and bins.label(1480 + 540) is None
    assert EraBins(1450, 50, 10).name(8) == "1850-1899"


def test_clip_starts_begin_at_one_third():
    starts = clip_starts(100 * 22050, 196_466, 4)
    assert starts[0] == 100 * 22050 // 3 and len(starts) == 4
    assert all(0 <= s <= 100 * 22050 - 196_466 for s in starts)


def test_dataset_pairs_only_eras_with_music_and_paintings(tiny_set, tmp_path):
    data = MusicArtDataset(config(tiny_set, tmp_path), tmp_path, progress=False)
    assert data.eras == [8, 9]
    assert data.mels.shape == (8, 3, 128, 256)  # 4 pieces x 2 clips
    batches = data.epoch_batches(random.Random(0))
    for batch in batches:
        eras = [data.clip_eras[i] for i in batch]
        assert sorted(set(eras)) == [8, 9] and len(batch) == 4
    a, p, n = triplets(torch.tensor([8, 8, 9, 9]), random.Random(0))
    assert len(a) == 4 and all(i != j for i, j in zip(a, p))


def test_painting_crops_at_several_scales(tiny_set, tmp_path):
    """crop_scales: crops of crop * s pixels (s in the range), resized to crop: the same output
    size, and a wider view of the painting than a one-scale crop (smoother, since shrunk)."""
    data = MusicArtDataset(config(tiny_set, tmp_path), tmp_path, progress=False)
    one = [data.painting(0, random.Random(k), 64) for k in range(20)]
    many = [data.painting(0, random.Random(k), 64, (1.4, 1.5)) for k in range(20)]
    assert all(t.shape == (3, 64, 64) for t in one + many)
    assert all(-1.0 <= float(t.min()) and float(t.max()) <= 1.0 for t in many)
    detail = lambda ts: float(np.mean([(t[:, :, 1:] - t[:, :, :-1]).abs().mean() for t in ts]))  # noqa: E731
    assert detail(many) < detail(one)


def test_csv_errors_are_clear(tmp_path, tiny_set):
    bad = tmp_path / "bad.csv"
    bad.write_text("file,year\nx.wav,1900\n")
    with pytest.raises(UserError, match="missing column\\(s\\) path"):
        read_year_csv(bad)
    bad.write_text("path,year\nx.wav,eighteen\n")
    with pytest.raises(UserError, match="bad.csv:2: year 'eighteen' is not a number"):
        read_year_csv(bad)
    with pytest.raises(UserError, match="not found"):
        read_year_csv(tmp_path / "none.csv")


def test_unreadable_and_too_short_audio_are_clear_errors(tmp_path, tiny_set):
    root = tmp_path / "d"
    shutil.copytree(tiny_set, root)
    (root / "audio" / "broken.wav").write_text("garbage")
    with open(root / "audio.csv", "a", newline="") as f:
        csv.writer(f).writerow(["audio/broken.wav", 1880, "broken"])
    with pytest.raises(UserError, match="broken.wav: not a readable media file"):
        MusicArtDataset(config(root, tmp_path), tmp_path, progress=False)
    write_wav(root / "audio" / "broken.wav", np.zeros(22050 * 3, np.float32), 22050)
    with pytest.raises(UserError, match="broken.wav: audio is 3.00 s long"):
        MusicArtDataset(config(root, tmp_path), tmp_path, progress=False)


def test_every_loss_term_decreases_on_a_tiny_overfit(tiny_set, tmp_path):
    torch.manual_seed(0)
    trainer = MVNetTrainer(config(tiny_set, tmp_path), progress=False)
    data, net = trainer.data, trainer.net
    batch = [0, 1, 4, 5]
    mel = data.mels[batch]
    eras = torch.tensor([data.clip_eras[i] for i in batch])
    real = torch.stack([data.painting(data.paintings_by_era[int(e)][0], random.Random(0), 64) for e in eras])
    z = seeded_z(0, 4)
    a, p, n = triplets(eras, random.Random(0))

    def fake():
        return net(mel, z)

    terms = {
        "tri": (net.encoder.parameters(), lambda: trainer.triplet(*(net.encoder(mel).flatten(1)[i] for i in (a, p, n)))),
        "sty": (net.parameters(), lambda: gram_style_loss(grams(trainer.vgg, fake()), grams(trainer.vgg, real))),
        "cls_c": (trainer.classifier.parameters(),
                  lambda: torch.nn.functional.cross_entropy(trainer.classifier.train()(real), eras)),
        "cls_g": (net.parameters(), lambda: torch.nn.functional.cross_entropy(trainer.classifier.eval()(fake()), eras)),
        "adv_g": (net.parameters(), lambda: ragan_g_loss(trainer.disc(real).detach(), trainer.disc(fake()))),
        "adv_d": (trainer.disc.parameters(), lambda: ragan_d_loss(trainer.disc(real), trainer.disc(fake().detach()))),
    }
    for name, (params, loss_fn) in terms.items():  # C learns first, then G learns to satisfy it
        opt = torch.optim.Adam(params, lr=1e-3)
        history = []
        for _ in range(12):
            opt.zero_grad()
            loss = loss_fn()
            loss.backward()
            opt.step()
            history.append(loss.item())
        assert min(history[-3:]) < 0.9 * history[0], (name, history)


def test_short_run_logs_checkpoints_and_resumes(tiny_set, tmp_path):
    out = tmp_path / "run"
    MVNetTrainer(config(tiny_set, out, epochs=1, sample_every_epochs=1), progress=False).train()
    records = [json.loads(x) for x in (out / "log.jsonl").read_text().splitlines()]
    assert records[0]["epoch"] == 1 and "era_accuracy_generated" in records[0]
    assert (out / "mvnet.ckpt").exists() and (out / "samples_epoch0001.png").exists()
    path = MVNetTrainer(config(tiny_set, out, epochs=2, sample_every_epochs=1), progress=False).train()
    records = [json.loads(x) for x in (out / "log.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in records] == [1, 2]
    state = torch.load(path, weights_only=True)
    assert state["epochs"] == 2 and "opt_g" not in state and "evaluation" in state


def test_starter_renders_a_score_with_fluidsynth(tmp_path):
    """One real music21 score through the starter set's renderer (needs Debian's fluidsynth and
    fluid-soundfont-gm, which `make test` installs)."""
    from music21 import corpus

    from livestyle.train.mvnet_data import find_soundfont, normalise_loudness, render_midi

    midi, wav = tmp_path / "bwv.mid", tmp_path / "bwv.wav"
    corpus.parse("bach/bwv66.6").write("midi", fp=str(midi))
    assert render_midi(midi, wav, find_soundfont(), 22050, timeout=60)
    audio = load_audio(wav)
    assert len(audio) > 10 * 22050 and np.abs(audio).max() > 0.01
    level = normalise_loudness(audio)
    rms, peak, limit = np.sqrt(np.mean(level.astype(np.float64) ** 2)), np.abs(level).max(), 10 ** (-1 / 20)
    assert peak <= limit + 1e-6
    assert rms == pytest.approx(0.1, rel=1e-3) or peak == pytest.approx(limit, rel=1e-4)  # -20 dBFS or limited


def test_resize_upsampling_has_no_checkerboard_at_init():
    """A stride-2 transposed conv gives neighbouring pixels different taps; resize-conv does not.
    On a constant latent, the untrained deconv generator's output has a 2-pixel period the
    resize generator's lacks."""
    from livestyle.models.mvnet import MVNet

    def period2_share(upsample: str) -> float:
        torch.manual_seed(0)
        net = MVNet(upsample=upsample).eval()
        with torch.no_grad():
            image = net.generator(torch.ones(1, 257, 8, 8))[0].mean(0)
        spectrum = torch.fft.fft2(image - image.mean()).abs() ** 2
        return float((spectrum[32, :].sum() + spectrum[:, 32].sum()) / spectrum.sum())

    assert period2_share("deconv") > 5 * period2_share("resize")


def test_each_epoch_logs_diversity_realism_and_keeps_the_best(tiny_set, tmp_path, caplog):
    out = tmp_path / "run"
    cfg = config(tiny_set, out, epochs=2, sample_every_epochs=5, generator_upsample="resize",
                 collapse_diversity=100.0)  # any variety is "collapse" here: the warning must show
    with caplog.at_level("WARNING"):
        path = MVNetTrainer(cfg, progress=False).train()
    records = [json.loads(x) for x in (out / "log.jsonl").read_text().splitlines()]
    for r in records:
        assert r["diversity"] > 0 and r["realism_nn_ratio"] > 0
        assert r["selection_score"] == pytest.approx(min(r["diversity"], 1) / max(r["realism_nn_ratio"], 1))
    assert "collapsing" in caplog.text
    state = torch.load(path, weights_only=True)
    best = max(records, key=lambda r: r["selection_score"])
    assert state["chosen_epoch"] == best["epoch"]
    assert state["config"]["generator_upsample"] == "resize"
    from livestyle.commands.export import TOLERANCE, export_mvnet

    manifest = export_mvnet(path, tmp_path / "exported")  # the resize generator exports with parity
    assert manifest["graphs"]["mvnet.onnx"]["max_abs_diff"] <= TOLERANCE


def test_mode_seeking_pays_for_looks_as_varied_as_the_paintings():
    """loss.ms: 1 when every generated image has the same look, 0 when they vary as their paired
    paintings do (the collapse the starter runs showed, and its cure)."""
    from livestyle.models.vgg import VGGEncoder
    from livestyle.train.mvnet_trainer import grams, mode_seeking_loss

    torch.manual_seed(0)
    vgg = VGGEncoder("r31").eval()
    real = torch.rand(6, 3, 32, 32) * torch.rand(6, 3, 1, 1) * 2 - 1  # different palettes
    one_look = real[:1].expand(6, -1, -1, -1).contiguous()
    with torch.no_grad():
        assert mode_seeking_loss(grams(vgg, one_look), grams(vgg, real)) > 0.99
        assert mode_seeking_loss(grams(vgg, real.clone()), grams(vgg, real)) < 1e-6


def test_piece_losses_seek_between_pieces_and_hold_within_one():
    """mode_seeking_pairs: pieces. Looks that are all alike cost the most between pieces (seek 1)
    and nothing within a piece (hold 0); looks that differ by piece, alike within it, cost less
    to seek and still nothing to hold; looks that differ within a piece cost to hold."""
    from livestyle.models.vgg import VGGEncoder
    from livestyle.train.mvnet_trainer import grams, piece_losses

    torch.manual_seed(0)
    vgg = VGGEncoder("r31").eval()
    real = torch.rand(4, 3, 32, 32) * 2 - 1
    pieces = torch.tensor([0, 0, 1, 1])
    same = real[:1].expand(4, -1, -1, -1)
    seek, hold = piece_losses(grams(vgg, same), grams(vgg, real), pieces)
    assert float(seek) == pytest.approx(1.0) and float(hold) == pytest.approx(0.0, abs=1e-6)
    by_piece = real[[0, 0, 2, 2]]
    seek2, hold2 = piece_losses(grams(vgg, by_piece), grams(vgg, real), pieces)
    assert float(seek2) < 0.5 and float(hold2) == pytest.approx(0.0, abs=1e-6)
    _, hold3 = piece_losses(grams(vgg, real), grams(vgg, real), pieces)
    assert float(hold3) > 0.1


@pytest.mark.parametrize("field,value,message", [("mode_seeking_pairs", "all", "not one of neighbours, pieces"),
                                                 ("crop_scales", (1.5, 1.0), "1 <= low <= high"),
                                                 ("crop_scales", (0.5, 1.0), "1 <= low <= high")])
def test_bad_mvnet_training_settings_are_clear_errors(tiny_set, tmp_path, field, value, message):
    from livestyle.errors import UserError

    with pytest.raises(UserError, match=message):
        MVNetTrainer(config(tiny_set, tmp_path, **{field: value}), progress=False)


def test_steady_shift_gives_each_clip_a_window_a_moment_later(tiny_set, tmp_path):
    """steady_shift_s: every clip's mel has a twin from the window 0.25 s later, nearer to it than
    the other clips' mels are; steady_loss is 0 for unchanged looks and grows with the change."""
    from livestyle.models.vgg import VGGEncoder
    from livestyle.train.mvnet_trainer import grams, steady_loss

    data = MusicArtDataset(config(tiny_set, tmp_path, steady_shift_s=0.25), tmp_path, progress=False)
    assert data.shifted_mels is not None and data.shifted_mels.shape == data.mels.shape
    gaps = torch.cdist(data.mels.flatten(1), data.shifted_mels.flatten(1))
    assert torch.equal(gaps.argmin(1), torch.arange(len(data.mels)))  # nearest: its own later window
    assert float(gaps.diagonal().min()) > 0  # but not the same window
    assert MusicArtDataset(config(tiny_set, tmp_path), tmp_path, progress=False).shifted_mels is None

    torch.manual_seed(0)
    vgg = VGGEncoder("r31").eval()
    real, fake = torch.rand(4, 3, 32, 32) * 2 - 1, torch.rand(4, 3, 32, 32) * 2 - 1
    g = lambda x: grams(vgg, x)  # noqa: E731
    assert float(steady_loss(g(fake), g(fake), g(real))) == pytest.approx(0.0, abs=1e-6)
    small = steady_loss(g(fake), g((fake + 0.05 * torch.randn_like(fake)).clamp(-1, 1)), g(real))
    large = steady_loss(g(fake), g(torch.rand(4, 3, 32, 32) * 2 - 1), g(real))
    assert 0 < float(small) < float(large)


def test_steady_loss_needs_its_shift(tiny_set, tmp_path):
    from livestyle.errors import UserError
    from livestyle.train.mvnet_trainer import LossWeights

    with pytest.raises(UserError, match="steady_shift_s"):
        MVNetTrainer(config(tiny_set, tmp_path, loss=LossWeights(steady=1.0)), progress=False)
    with pytest.raises(UserError, match="steady_shift_s"):
        MVNetTrainer(config(tiny_set, tmp_path, steady_shift_s=-0.5), progress=False)


def test_a_training_step_with_the_piece_and_steady_terms(tiny_set, tmp_path):
    """One step of the pieces recipe with the steady term on: every term is finite and logged."""
    from livestyle.train.mvnet_trainer import LossWeights

    torch.manual_seed(0)
    cfg = config(tiny_set, tmp_path, steady_shift_s=0.25, mode_seeking_pairs="pieces", z_per_batch=True,
                 loss=LossWeights(ms=3.0, piece=2.0, steady=2.0))
    trainer = MVNetTrainer(cfg, progress=False)
    losses = trainer.train_step([0, 1, 4, 5])
    assert {"ms", "piece", "steady"} <= set(losses)
    assert losses["steady"] > 0 and all(np.isfinite(v) for v in losses.values())
