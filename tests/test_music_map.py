"""MVNet's music embedding and the map that steers a style bank by it (issue 10)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from livestyle.errors import UserError
from livestyle.runtime.music_map import FILE, MusicMap, window_starts


def test_fit_whitens_the_training_latents_along_their_main_directions():
    rng = np.random.default_rng(0)
    # 3 strong directions in 20 dims, plus a little noise
    basis = np.linalg.qr(rng.standard_normal((20, 3)))[0].T
    latents = (rng.standard_normal((400, 3)) * [5.0, 2.0, 1.0]) @ basis + 0.01 * rng.standard_normal((400, 20)) + 7
    m = MusicMap.fit(latents, components=3)
    white = m.whiten(latents)
    assert white.shape == (400, 3)
    assert np.allclose(white.mean(0), 0, atol=1e-9) and np.allclose(white.std(0), 1, atol=1e-6)
    assert np.allclose(np.abs(m.components @ basis.T), np.eye(3), atol=0.05)  # the strong directions, in order
    assert m.whiten(latents[0]).shape == (3,)
    with pytest.raises(ValueError, match="more than 3"):
        MusicMap.fit(latents[:3], components=3)


def test_map_round_trips_through_its_json_and_rejects_damaged_files(tmp_path):
    rng = np.random.default_rng(1)
    m = MusicMap.fit(rng.standard_normal((50, 12)), components=4)
    path = tmp_path / FILE
    path.write_text(m.to_json({"what": "test"}))
    back = MusicMap.load(path)
    x = rng.standard_normal(12)
    assert np.allclose(back.whiten(x), m.whiten(x), atol=1e-4)
    for text in ("{not json", json.dumps({"mean": [0, 0]}),
                 json.dumps({"mean": [0, 0], "components": [[1, 0, 0]], "scales": [1]}),
                 json.dumps({"mean": [0, 0], "components": [[1, 0]], "scales": [0]})):
        path.write_text(text)
        with pytest.raises(UserError, match=FILE):
            MusicMap.load(path)


def test_windows_spread_over_a_recording():
    assert window_starts(100, 200) == [0]
    starts = window_starts(1000, 200, count=5)
    assert starts == [0, 200, 400, 600, 800]


def test_bank_steering_by_music_is_a_fixed_function_of_music_and_seed():
    from livestyle.runtime.style_bank import SEED_TURN, StyleBank
    from livestyle.runtime.style_state import StyleState

    states = [StyleState(np.full((1, 32, 1, 1), i, np.float32), np.eye(32, dtype=np.float32)[None]) for i in range(6)]
    bank = StyleBank([f"{i}.jpg" for i in range(6)], states, np.zeros((6, 6)), temperature=0.5)
    rng = np.random.default_rng(2)
    music = rng.standard_normal((40, 8))   # whitened: unit variance per axis, as training music
    w0 = np.array([bank.music_weights(m, seed=0) for m in music])
    assert np.allclose(w0.sum(1), 1) and (w0 >= 0).all()
    assert np.array_equal(w0[0], bank.music_weights(music[0].copy(), seed=0))           # same music, same look
    distance = lambda u, v: np.abs(u - v).sum(-1).mean()  # noqa: E731
    other = distance(w0[:-1], w0[1:])                                                   # other music, other look
    assert other > 0.5
    near = np.array([bank.music_weights(m + 0.02, seed=0) for m in music])
    assert distance(w0, near) < 0.1 * other                                            # similar music, similar look
    w1 = np.array([bank.music_weights(m, seed=1) for m in music])
    assert 0.1 * other < distance(w0, w1) < other                                     # the seed matters, less than music
    # the seed turns the directions by SEED_TURN: every seed's stay as close to the fixed ones
    fixed = np.random.default_rng([0x5EED_BA4C, 6, 8]).standard_normal((6, 8)) / np.sqrt(8)
    for seed in (0, 1, 7):   # seed 0 too: it is turned like every other, not the fixed directions
        d = bank.directions(seed, 8)
        cos = (d * fixed).sum(1) / np.linalg.norm(d, axis=1) / np.linalg.norm(fixed, axis=1)
        assert cos.mean() == pytest.approx(np.cos(SEED_TURN), abs=0.25) and cos.max() < 0.99
    # a sharper temperature concentrates the blend
    sharp = StyleBank(bank.names, states, np.zeros((6, 6)), temperature=0.05)
    assert np.mean([sharp.music_weights(m, 0).max() for m in music]) > w0.max(1).mean()


@pytest.fixture(scope="module")
def models_with_map(tmp_path_factory):
    """The shipped graphs with the music output and a map fitted on two bundled recordings."""
    from livestyle.commands.export import export_music_map
    from livestyle.runtime.manifest import models_dir

    from conftest import REPO

    folder = tmp_path_factory.mktemp("models")
    for p in models_dir().iterdir():
        if p.suffix in (".onnx", ".json") and not p.name.startswith("stnet_content_fp16"):
            shutil.copy(p, folder / p.name)
    data = tmp_path_factory.mktemp("music")
    rows = ["path,year,title"]
    for name in ("brahms_hungarian_dance_5.ogg", "tchaikovsky_sugar_plum_fairy_macleod.ogg"):
        shutil.copy(REPO / "data" / "audio" / name, data / name)
        rows.append(f"{name},1880,{name}")
    (data / "audio.csv").write_text("\n".join(rows) + "\n")
    export_music_map(folder, data / "audio.csv")
    return folder


def test_export_adds_the_music_output_without_changing_the_style(models_with_map):
    import onnxruntime as ort

    from livestyle.runtime.manifest import load_manifest, models_dir

    folder = models_with_map
    info = load_manifest(folder)["models"]["mvnet"]["music_map"]
    assert info["pieces"] == 2 and info["windows"] == 16 and 0 < info["variance_share"] <= 1
    rng = np.random.default_rng(0)
    feed = {"mel": (rng.standard_normal((1, 3, 128, 256)) * 3 - 5).astype(np.float32),
            "z": rng.standard_normal((1, 256, 8, 8)).astype(np.float32)}
    old = ort.InferenceSession(str(models_dir() / "mvnet.onnx"), providers=["CPUExecutionProvider"])
    new = ort.InferenceSession(str(folder / "mvnet.onnx"), providers=["CPUExecutionProvider"])
    style, music = new.run(["style", "music"], feed)
    assert np.array_equal(style, old.run(["style"], feed)[0])
    assert music.shape == (1, 128) and np.isfinite(music).all()
    # the music output is E's latent: it does not depend on z
    feed["z"] = rng.standard_normal((1, 256, 8, 8)).astype(np.float32)
    assert np.array_equal(new.run(["music"], feed)[0], music)


def test_ticker_steers_a_bank_by_the_averaged_music(models_with_map, tmp_path):
    from livestyle.io.decode import load_audio
    from livestyle.runtime.mvnet_runner import MVNetRunner
    from livestyle.runtime.sessions import Engine, RuntimeConfig
    from livestyle.runtime.stnet_runner import STNetRunner
    from livestyle.runtime.style_bank import StyleBank
    from livestyle.runtime.style_ticker import StyleTicker, TickSettings

    from conftest import PAINTINGS, REPO

    engine = Engine(RuntimeConfig(intra_op_threads=1), ("cpu",))
    mvnet, stnet = MVNetRunner(engine, models_with_map), STNetRunner(engine, models_with_map, style_size=64)
    assert mvnet.music_map is not None
    looks = tmp_path / "looks"
    looks.mkdir()
    for name in ("1889_van_gogh_the_starry_night.jpg", "1913_picabia_udnie.jpg", "1923_kandinsky_composition_viii.jpg",
                 "1503_vinci_mona_lisa.jpg"):
        shutil.copy(PAINTINGS / name, looks / name)
    bank = StyleBank.from_folder(looks, stnet, style_size=64, temperature=0.3)
    assert len(bank.thumbnails) == 4 and bank.thumbnails[0].shape == (64, 64, 3)

    def weights(recording: str, follow: float) -> list[np.ndarray]:
        audio = load_audio(REPO / "data" / "audio" / recording, mvnet.mel_config.sample_rate, duration=14.0)
        ticker = StyleTicker(mvnet, stnet, TickSettings(style_size=64, smoothing=0.0, tick_seconds=0.5,
                                                        follow=follow), bank=bank)
        assert ticker.steered_by_music
        out = []
        for k in range(6):
            ticker.tick(audio, ticker.centred_start(4.5 + 0.5 * k))
            out.append(ticker.last_weights.copy())
        return out

    brahms, tchaikovsky = weights("brahms_hungarian_dance_5.ogg", 3.0), weights("tchaikovsky_sugar_plum_fairy_macleod.ogg", 3.0)
    assert all(w.sum() == pytest.approx(1) for w in brahms)
    assert np.abs(brahms[-1] - tchaikovsky[-1]).sum() > 0.2                   # two pieces, two blends
    raw = weights("brahms_hungarian_dance_5.ogg", 0.0)
    step = lambda ws: np.mean([np.abs(a - b).sum() for a, b in zip(ws, ws[1:])])  # noqa: E731
    assert step(brahms) < step(raw)                                          # the average steadies the choice
    # without a map the bank falls back to MVNet's image colours
    unmapped = tmp_path / "unmapped"
    shutil.copytree(models_with_map, unmapped)
    manifest = json.loads((unmapped / "manifest.json").read_text())
    del manifest["models"]["mvnet"]["music_map"]
    (unmapped / "manifest.json").write_text(json.dumps(manifest))
    plain = StyleTicker(MVNetRunner(engine, unmapped), stnet, TickSettings(style_size=64), bank=bank)
    assert not plain.steered_by_music
    plain.tick(np.zeros(plain.mel_config.clip_samples, np.float32), 0)
    assert np.allclose(plain.last_weights, bank.weights(plain.style_image(plain.mel_window(
        np.zeros(plain.mel_config.clip_samples, np.float32), 0))))


def test_a_damaged_map_or_a_graph_without_music_is_a_clear_error(models_with_map, tmp_path):
    from livestyle.runtime.manifest import load_manifest
    from livestyle.runtime.mvnet_runner import MVNetRunner
    from livestyle.runtime.sessions import Engine, RuntimeConfig

    engine = Engine(RuntimeConfig(intra_op_threads=1), ("cpu",))
    damaged = tmp_path / "damaged"
    shutil.copytree(models_with_map, damaged)
    (damaged / FILE).write_text("{}")
    with pytest.raises(UserError, match="sha256 differs"):
        MVNetRunner(engine, damaged)
    # a manifest that promises a map for a graph without the output
    old = tmp_path / "old"
    shutil.copytree(models_with_map, old)
    import onnx

    from livestyle.runtime.manifest import sha256

    graph = onnx.load(str(old / "mvnet.onnx"))
    keep = [o for o in graph.graph.output if o.name != "music"]
    del graph.graph.output[:]
    graph.graph.output.extend(keep)
    onnx.save(graph, str(old / "mvnet.onnx"))
    manifest = load_manifest(old)
    manifest["graphs"]["mvnet.onnx"]["sha256"] = sha256(old / "mvnet.onnx")
    (old / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(UserError, match="no 'music' output"):
        MVNetRunner(engine, old)
