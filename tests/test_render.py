"""`livestyle render` end to end on real clips with the shipped graphs: frame count, duration,
audio, A/V sync, other containers and codecs, and every user error (clear, exit 2, nothing left)."""

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from livestyle.io.decode import load_audio
from livestyle.cli import main
from livestyle.io.decode import decode_video

from helpers import layout

REPO = Path(__file__).resolve().parents[1]
CLIP = REPO / "data" / "video" / "big_buck_bunny_cut_10s.mp4"
TCHAIKOVSKY = REPO / "data" / "audio" / "tchaikovsky_sugar_plum_fairy_macleod.ogg"
FAST = ["--providers", "cpu", "--quiet"]


def streams(path: Path) -> dict:
    with av.open(str(path)) as c:
        info = {"duration": c.duration / 1e6, "format": c.format.name}
        for s in c.streams:
            info[s.type] = {"codec": s.codec_context.name, "start": float((s.start_time or 0) * s.time_base)}
            if s.type == "video":
                info["video"]["size"] = (s.codec_context.width, s.codec_context.height)
        info["frames"] = sum(1 for _ in c.decode(video=0))
    return info


def audio_offset(a: np.ndarray, b: np.ndarray, sr: int, max_lag: float = 0.2) -> float:
    """Lag of b behind a in seconds, by cross-correlation of their envelopes."""
    n = min(len(a), len(b))
    a, b = a[:n] - a[:n].mean(), b[:n] - b[:n].mean()
    lags = range(-int(max_lag * sr), int(max_lag * sr) + 1, 5)
    scores = [np.dot(a[max(0, -k):n - max(0, k)], b[max(0, k):n - max(0, -k)]) for k in lags]
    return list(lags)[int(np.argmax(scores))] / sr


@pytest.fixture(scope="module")
def webm_clip(tmp_path_factory) -> Path:
    """Real material in another container/codec pair: VP9 + Opus (48 kHz stereo) in WebM, odd size
    331x187, 15 fps, 4 s: frames of the bundled clip, music of the bundled Tchaikovsky recording."""
    path = tmp_path_factory.mktemp("media") / "bbb_vp9_opus.webm"
    frames = [f for _, f in zip(range(40), (f for _, f in decode_video(CLIP, 0.0)))]
    audio = load_audio(TCHAIKOVSKY, 48000, start=20.0, duration=4.0)
    with av.open(str(path), "w", format="webm") as out:
        v = out.add_stream("libvpx-vp9", rate=15)
        v.width, v.height, v.pix_fmt = 331, 187, "yuv420p"
        a = out.add_stream("libopus", rate=48000, layout="stereo")
        for i in range(60):
            img = np.ascontiguousarray(frames[int(i * 40 / 60)][:187, :331])
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, 15)
            out.mux(v.encode(frame))
        out.mux(v.encode(None))
        stereo = np.stack([audio, audio]).astype(np.float32)
        for k in range(0, stereo.shape[1] - 960, 960):
            af = av.AudioFrame.from_ndarray(np.ascontiguousarray(stereo[:, k:k + 960]), format="fltp", layout="stereo")
            af.sample_rate, af.pts, af.time_base = 48000, k, Fraction(1, 48000)
            out.mux(a.encode(af))
        out.mux(a.encode(None))
    return path


@pytest.fixture(scope="module")
def silent_clip(tmp_path_factory) -> Path:
    """A video with no audio stream (44.1 kHz stereo music is added with --audio)."""
    path = tmp_path_factory.mktemp("media") / "silent.mp4"
    with av.open(str(path), "w") as out:
        v = out.add_stream("libx264", rate=20)
        v.width, v.height, v.pix_fmt = 160, 90, "yuv420p"
        for i, (_, img) in zip(range(50), decode_video(CLIP, 0.0)):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(img[::4, ::4][:90, :160]), format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, 20)
            out.mux(v.encode(frame))
        out.mux(v.encode(None))
    return path


def test_bundled_clip_frames_duration_and_audio_sync(tmp_path):
    out = tmp_path / "out.mp4"
    assert main(["render", str(CLIP), "-o", str(out), "--height", "72", "--start", "2", "--duration", "3", *FAST]) == 0
    info = streams(out)
    assert info["frames"] == 60  # 3 s at 20 fps
    assert info["video"]["size"] == (128, 72)
    assert info["audio"]["codec"] == "aac"
    assert abs(info["duration"] - 3.0) < 0.05  # within one frame
    # audio is the source's from 2 s on, not shifted
    src = load_audio(CLIP, 22050, start=2.0, duration=3.0)
    got = load_audio(out, 22050)
    assert abs(audio_offset(src, got, 22050)) < 0.025


@pytest.fixture(scope="module")
def slideshow(tmp_path_factory) -> tuple[Path, list[np.ndarray]]:
    """8 real paintings, 0.4 s each, at 25 fps (not the output's 20), with the Brahms recording."""
    from livestyle.io.images import read_image, resize_to

    path = tmp_path_factory.mktemp("media") / "slides.mp4"
    names = sorted(p.name for p in (REPO / "data" / "paintings").glob("*.jpg"))[::3][:8]
    slides = [resize_to(read_image(REPO / "data" / "paintings" / n), 160, 96) for n in names]
    audio = load_audio(REPO / "data" / "audio" / "brahms_hungarian_dance_5.ogg", 44100, duration=3.2)
    with av.open(str(path), "w") as out:
        v = out.add_stream("libx264", rate=25)
        v.width, v.height, v.pix_fmt = 160, 96, "yuv420p"
        a = out.add_stream("aac", rate=44100, layout="mono")
        for i in range(80):
            frame = av.VideoFrame.from_ndarray(slides[i // 10], format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, 25)
            out.mux(v.encode(frame))
        out.mux(v.encode(None))
        for k in range(0, len(audio) - 1024, 1024):
            af = av.AudioFrame.from_ndarray(np.ascontiguousarray(audio[None, k:k + 1024]), format="fltp", layout="mono")
            af.sample_rate, af.pts, af.time_base = 44100, k, Fraction(1, 44100)
            out.mux(a.encode(af))
        out.mux(a.encode(None))
    return path, slides


def test_every_output_frame_shows_the_source_frame_of_its_time(slideshow, tmp_path):
    """Output frame i (t = i/20) must show the slide of the 25 fps source frame nearest to t."""
    path, slides = slideshow
    out = tmp_path / "out.mp4"
    assert main(["render", str(path), "-o", str(out), *FAST]) == 0
    frames = [f for _, f in decode_video(out, 0.0)]
    assert len(frames) == 64  # 3.2 s at 20 fps
    refs = np.stack([layout(s) for s in slides])
    for i, frame in enumerate(frames):
        t = i / 20
        n = int(np.floor(t * 25 + 1e-9))
        n = n if t - n / 25 <= (n + 1) / 25 - t + 1e-12 else n + 1
        scores = [np.corrcoef(layout(frame), r)[0, 1] for r in refs]
        assert int(np.argmax(scores)) == min(n // 10, 7), (i, scores)


def test_whole_clip_keeps_its_duration_and_copies_audio(tmp_path):
    out = tmp_path / "whole.mkv"
    assert main(["render", str(CLIP), "-o", str(out), "--height", "36", *FAST]) == 0
    info = streams(out)
    assert info["frames"] == 200 and abs(info["duration"] - 10.0) < 0.05
    assert info["audio"]["codec"] == "aac"  # stream copy into Matroska


def test_webm_vp9_opus_odd_size_at_source_rate(webm_clip, tmp_path):
    out = tmp_path / "out.mp4"
    assert main(["render", str(webm_clip), "-o", str(out), "--fps", "source", *FAST]) == 0
    info = streams(out)
    assert info["frames"] == 60  # 4 s at the source's 15 fps
    assert info["video"]["size"] == (332, 188)  # 4:2:0 needs even sizes: one edge row/column added
    assert info["audio"]["codec"] == "opus" and abs(info["duration"] - 4.0) < 1 / 15
    out2 = tmp_path / "out.webm"
    assert main(["render", str(webm_clip), "-o", str(out2), "--height", "48", "--duration", "2", *FAST]) == 0
    info2 = streams(out2)
    assert info2["video"]["codec"] == "vp9" and info2["audio"]["codec"] == "opus"
    assert info2["frames"] == 40 and abs(info2["duration"] - 2.0) < 0.05


def test_audio_option_drives_and_muxes_another_recording(silent_clip, tmp_path):
    out = tmp_path / "out.mp4"
    assert main(["render", str(silent_clip), "-o", str(out), "--audio", str(TCHAIKOVSKY), *FAST]) == 0
    info = streams(out)
    assert info["frames"] == 50 and "audio" in info
    assert abs(info["duration"] - 2.5) < 0.05  # the 120 s recording is cut at the video's end


def run_error(args: list[str], capsys, out: Path) -> str:
    code = main(args)
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err and "error:" in err
    assert not out.exists()
    assert not list(out.parent.glob(".*partial*"))  # no half-written temporary either
    return err


def test_user_errors(tmp_path, capsys, silent_clip):
    out = tmp_path / "o.mp4"
    base = ["-o", str(out), *FAST]
    assert "missing.mp4: no such file" in run_error(["render", str(tmp_path / "missing.mp4"), *base], capsys, out)
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"\x00junk" * 100)
    assert "junk.mp4: not a readable media file" in run_error(["render", str(junk), *base], capsys, out)
    assert "has no video stream" in run_error(["render", str(TCHAIKOVSKY), *base], capsys, out)
    assert "has no audio stream; pass --audio" in run_error(["render", str(silent_clip), *base], capsys, out)
    assert "unknown video codec 'h265x'" in run_error(["render", str(CLIP), *base, "--codec", "h265x"], capsys, out)
    assert "beyond the end" in run_error(["render", str(CLIP), *base, "--start", "12"], capsys, out)
    bad_dir = tmp_path / "nope" / "o.mp4"
    assert "does not exist" in run_error(["render", str(CLIP), "-o", str(bad_dir), *FAST], capsys, bad_dir)
    odd = tmp_path / "o.xyz"
    assert "unknown output container" in run_error(["render", str(CLIP), "-o", str(odd), *FAST], capsys, odd)


def test_missing_or_mismatched_models(tmp_path, capsys):
    import shutil

    models = tmp_path / "models"
    shutil.copytree(REPO / "exported", models)
    out = tmp_path / "o.mp4"
    args = ["render", str(CLIP), "-o", str(out), "--models", str(models), *FAST]
    (models / "mvnet.onnx").write_bytes((models / "mvnet.onnx").read_bytes()[:-100])
    assert "mvnet.onnx: does not match manifest.json" in run_error(args, capsys, out)
    (models / "mvnet.onnx").unlink()
    assert "mvnet.onnx: model file missing" in run_error(args, capsys, out)


def test_failure_mid_render_leaves_nothing(tmp_path, monkeypatch):
    from livestyle.runtime.stnet_runner import STNetRunner

    calls = {"n": 0}
    original = STNetRunner.stylize

    def failing(self, frame, state):
        calls["n"] += 1
        if calls["n"] == 5:
            raise RuntimeError("simulated failure in the stylize worker")
        return original(self, frame, state)

    monkeypatch.setattr(STNetRunner, "stylize", failing)
    out = tmp_path / "o.mp4"
    with pytest.raises(RuntimeError, match="simulated failure"):
        main(["render", str(CLIP), "-o", str(out), "--height", "36", *FAST])
    assert not out.exists() and not list(tmp_path.glob(".*partial*"))


def test_styles_bank_paints_with_the_users_own_looks(tmp_path):
    """--styles: the music chooses among the user's images. With a one-image bank every frame wears
    that image's look, so the render's colours move toward it and away from MVNet's own."""
    import cv2

    def mean_lab(path):
        frames = [f for _, f in decode_video(path, 0.0)]
        lab = [cv2.cvtColor(f.astype(np.float32) / 255, cv2.COLOR_RGB2LAB).reshape(-1, 3).mean(0) for f in frames]
        return np.mean(lab, axis=0)

    bank = tmp_path / "looks"
    bank.mkdir()
    (bank / "scream.jpg").write_bytes((REPO / "data" / "paintings" / "1893_munch_the_scream.jpg").read_bytes())
    plain, styled = tmp_path / "plain.mp4", tmp_path / "bank.mp4"
    # the bank alone: the reactive mapping would also move the colours with the clip's loudness
    common = ["--height", "48", "--duration", "1", "--no-reactive", *FAST]
    assert main(["render", str(CLIP), "-o", str(plain), *common]) == 0
    assert main(["render", str(CLIP), "-o", str(styled), "--styles", str(bank), *common]) == 0
    painting = cv2.cvtColor(cv2.imread(str(bank / "scream.jpg"))[..., ::-1].astype(np.float32) / 255,
                            cv2.COLOR_RGB2LAB).reshape(-1, 3).mean(0)
    # mean-colour delta E to the painting, measured 2026-11-22: MVNet alone 35.1, with the bank 7.6
    far, near = np.linalg.norm(mean_lab(plain) - painting), np.linalg.norm(mean_lab(styled) - painting)
    assert near < far / 2 and near < 15
