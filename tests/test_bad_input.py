"""The standing bad-input suite: every user mistake gives one line `livestyle: error: FILE: problem`,
exit status 2, no traceback, nothing at the output path or beside it (no temporary file), and the
inputs unchanged.

Every new option or input file gets its bad-input cases here: add a row to CASES (a name, a
function building the command line from the test's media, the expected message fragment and the
offending file's name) and `assert_user_error` checks all of the above. Media are generated tiny
(a 64x48 clip of 1.5 s with audio, a 2x2 clip, 1x1 and 32x32 PNGs); nothing large is written.
Also here: concurrent writers to one target, SIGTERM during render and live, write failures.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Callable

import av
import numpy as np
import pytest

from livestyle.cli import main
from livestyle.errors import UserError

REPO = Path(__file__).resolve().parents[1]
CLIP = REPO / "data" / "video" / "big_buck_bunny_cut_10s.mp4"
TCHAIKOVSKY = REPO / "data" / "audio" / "tchaikovsky_sugar_plum_fairy_macleod.ogg"  # 120 s
FAST = ["--providers", "cpu", "--quiet"]
LIVE = ["--providers", "cpu", "--quiet", "--no-window", "--height", "36"]


# ------------------------------------------------------------------------------------------ media

def make_clip(path: Path, width: int, height: int, frames: int = 30, fps: int = 20, audio: bool = True) -> Path:
    """Random-looking video (libx264) with a mono AAC tone of the same length."""
    rng = np.random.default_rng(0)
    with av.open(str(path), "w") as out:
        v = out.add_stream("libx264", rate=fps)
        v.width, v.height, v.pix_fmt = width, height, "yuv420p"
        a = out.add_stream("aac", rate=44100, layout="mono") if audio else None
        for i in range(frames):
            frame = av.VideoFrame.from_ndarray(rng.integers(0, 256, (height, width, 3), np.uint8), format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, fps)
            out.mux(v.encode(frame))
        out.mux(v.encode(None))
        if a is not None:
            t = np.arange(int(44100 * frames / fps)) / 44100
            tone = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
            for k in range(0, len(tone) - 1024, 1024):
                af = av.AudioFrame.from_ndarray(np.ascontiguousarray(tone[None, k:k + 1024]), format="fltp", layout="mono")
                af.sample_rate, af.pts, af.time_base = 44100, k, Fraction(1, 44100)
                out.mux(a.encode(af))
            out.mux(a.encode(None))
    return path


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> dict[str, Path]:
    from livestyle.io.images import write_image

    folder = tmp_path_factory.mktemp("bad_input_media")
    rng = np.random.default_rng(1)
    write_image(folder / "dot.png", rng.integers(0, 256, (1, 1, 3), np.uint8))
    write_image(folder / "style.png", rng.integers(0, 256, (32, 32, 3), np.uint8))
    empty_manifest = folder / "models_list"
    empty_manifest.mkdir()
    (empty_manifest / "manifest.json").write_text("[]\n")
    no_sha = folder / "models_nosha"
    no_sha.mkdir()
    manifest = json.loads((REPO / "exported" / "manifest.json").read_text())
    del manifest["graphs"]["mvnet.onnx"]["sha256"]
    (no_sha / "manifest.json").write_text(json.dumps(manifest))
    no_lite = folder / "models_nolite"  # an export with r31 only (symlinked graphs)
    no_lite.mkdir()
    manifest = json.loads((REPO / "exported" / "manifest.json").read_text())
    manifest["models"].pop("lite", None)
    manifest["models"].pop("vis2mus", None)   # an export without the Vis2Mus weights either
    (no_lite / "manifest.json").write_text(json.dumps(manifest))
    for graph in (REPO / "exported").iterdir():
        if graph.name != "manifest.json" and graph.suffix in (".onnx", ".json"):
            (no_lite / graph.name).symlink_to(graph)
    import mido

    waltz = mido.MidiFile(type=1)
    waltz.tracks.append(mido.MidiTrack([mido.MetaMessage("time_signature", numerator=3, denominator=4),
                                        mido.Message("note_on", note=60, velocity=80, time=0),
                                        mido.Message("note_off", note=60, velocity=0, time=480)]))
    waltz.save(str(folder / "waltz.mid"))
    silent = mido.MidiFile(type=1)
    silent.tracks.append(mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=500000)]))
    silent.save(str(folder / "silent.mid"))
    return {"waltz": folder / "waltz.mid", "silent_midi": folder / "silent.mid", "clip": make_clip(folder / "clip.mp4", 64, 48), "music": make_clip(folder / "music.mp4", 32, 32),
            "tiny": make_clip(folder / "tiny.mp4", 2, 2), "dot": folder / "dot.png", "style": folder / "style.png",
            "models_list": empty_manifest, "models_nosha": no_sha, "models_nolite": no_lite}


# ------------------------------------------------------------------------------------------ helper

def sha256(path: Path) -> str:
    if path.is_dir():
        return "dir:" + ",".join(sorted(p.name for p in path.iterdir()))
    return hashlib.sha256(path.read_bytes()).hexdigest()


def listing(folder: Path) -> set[str]:
    return set(os.listdir(folder)) if folder.is_dir() else set()


def assert_user_error(argv: list[str], target: Path, inputs: list[Path], fragment: str, name: str | None,
                      capsys) -> str:
    """Run the CLI in-process and check everything a user error must be."""
    hashes = {p: sha256(p) for p in inputs}
    existed = os.path.lexists(target)
    before = listing(target.parent)
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exc:  # argparse
        code = exc.code
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("livestyle: error:"), err
    assert fragment in lines[0], lines[0]
    if name is not None:
        assert name in lines[0], lines[0]
    if not existed:
        assert not os.path.lexists(target), f"{target} was written"
    assert listing(target.parent) == before, "a file was left beside the target"
    for path, digest in hashes.items():
        assert sha256(path) == digest, f"input {path} changed"
    return lines[0]


@dataclass
class Ctx:
    """What a case's builder gets: the shared media, the test's own folder, and monkeypatch."""
    m: dict[str, Path]
    tmp: Path
    monkeypatch: pytest.MonkeyPatch

    def copy(self, key: str, name: str) -> Path:
        path = self.tmp / name
        path.write_bytes(self.m[key].read_bytes())
        return path

    def copy_file(self, source: Path, name: str) -> Path:
        path = self.tmp / name
        path.write_bytes(source.read_bytes())
        return path

    def empty_dir(self, name: str) -> Path:
        (self.tmp / name).mkdir()
        return self.tmp / name

    def broken_bank(self, name: str) -> Path:
        """A style folder with one good image and one that is not an image."""
        folder = self.empty_dir(name)
        (folder / "good.png").write_bytes(self.m["style"].read_bytes())
        (folder / "broken.png").write_bytes(b"not an image at all")
        return folder

    def mvnet_export(self, name: str) -> Path:
        """A folder with the exported MVNet and the manifest only (no music map)."""
        folder = self.empty_dir(name)
        manifest = json.loads((REPO / "exported" / "manifest.json").read_text())
        manifest["models"]["mvnet"].pop("music_map", None)
        (folder / "manifest.json").write_text(json.dumps(manifest))
        (folder / "mvnet.onnx").write_bytes((REPO / "exported" / "mvnet.onnx").read_bytes())
        return folder

    def config(self, name: str, text: str) -> Path:
        """A livestyle YAML config holding `text`."""
        path = self.tmp / name
        path.write_text(text)
        return path

    def read_only(self, folder: Path) -> Path:
        """Make os.access report `folder` unwritable (tests run as root, where chmod does not)."""
        real = os.access
        self.monkeypatch.setattr(os, "access", lambda p, mode, *a, **k:
                                 False if Path(p) == folder and mode & os.W_OK else real(p, mode, *a, **k))
        return folder


Built = tuple[list, Path, list[Path]]  # argv, target, inputs


def _symlink(c: Ctx) -> Built:
    src = c.copy("clip", "in.mp4")
    (c.tmp / "link.mp4").symlink_to(src)
    return ["render", src, "-o", c.tmp / "link.mp4", *FAST], c.tmp / "link.mp4", [src]


def _hardlink(c: Ctx) -> Built:
    src = c.copy("clip", "in.mp4")
    os.link(src, c.tmp / "hard.mp4")
    return ["render", src, "-o", c.tmp / "hard.mp4", *FAST], c.tmp / "hard.mp4", [src]


def _existing_dir(c: Ctx, command: list) -> Built:
    (c.tmp / "out.mp4").mkdir()
    return [*command, "-o", c.tmp / "out.mp4"], c.tmp / "out.mp4", [c.tmp / "out.mp4"]


def _read_only(c: Ctx, command: list, name: str) -> Built:
    folder = c.read_only(c.tmp / "ro")
    folder.mkdir()
    return [*command, "-o", folder / name], folder / name, []


def _osc_port_taken(c: Ctx) -> Built:
    import socket

    taken = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    taken.bind(("127.0.0.1", 0))
    c.monkeypatch.setattr(c, "held_socket", taken, raising=False)  # held (by monkeypatch) for the test
    port = taken.getsockname()[1]
    return live_cmd(c, "--osc-port", str(port), "-o", c.tmp / "o.mp4"), c.tmp / "o.mp4", []


def _no_loopback(c: Ctx) -> Built:
    import types

    def camera(*args, **kwargs):
        raise RuntimeError("'v4l2loopback' backend: device /dev/video7 does not exist")

    fake = types.SimpleNamespace(Camera=camera, PixelFormat=types.SimpleNamespace(RGB="RGB"))
    c.monkeypatch.setitem(sys.modules, "pyvirtualcam", fake)
    return live_cmd(c, "--virtual-cam", "/dev/video7", "-o", c.tmp / "o.mp4"), c.tmp / "o.mp4", []


VIS2MUS_SONG = REPO / "tests" / "data" / "vis2mus" / "pop909" / "001" / "001.mid"


def _vis2mus(c: Ctx, action: str, anchor: Path, *extra) -> Built:
    out = c.tmp / "out.mid"
    return ["vis2mus", action, anchor, "-o", out, "--quiet", *extra], out, [anchor]


def _train(c: Ctx, model: str, name: str, settings: str) -> Built:
    """`train MODEL` with a config whose out_dir is the target: nothing may be written there."""
    out = c.tmp / "run"
    config = c.config(name, f"out_dir: {out}\n{settings}")
    return ["train", model, "--config", config, "--quiet"], out, [config]


def render_cmd(c: Ctx, *extra) -> list:
    return ["render", c.m["clip"], *FAST, *extra]


def live_cmd(c: Ctx, *extra) -> list:
    return ["live", "--clip", c.m["clip"], *LIVE, *extra]


def stylize_cmd(c: Ctx, *extra) -> list:
    return ["stylize", c.m["style"], c.m["style"], *FAST[:2], *extra]


CASES: list[tuple[str, Callable[[Ctx], Built], str, str | None]] = [
    # 1. an output must never be an input (path, symlink, hard link)
    ("render -o is the --audio file",
     lambda c: (render_cmd(c, "--audio", c.m["music"], "-o", c.m["music"]), c.m["music"], [c.m["clip"], c.m["music"]]),
     "would overwrite the input", "music.mp4"),
    ("render -o is a symlink to the input", _symlink, "would overwrite the input", "link.mp4"),
    ("render -o is a hard link to the input", _hardlink, "would overwrite the input", "hard.mp4"),
    ("live --json is the --clip file",
     lambda c: (live_cmd(c, "-o", c.tmp / "rec.mp4", "--json", c.m["clip"]), c.tmp / "rec.mp4", [c.m["clip"]]),
     "would overwrite the input", "clip.mp4"),
    ("live -o is the --audio file",
     lambda c: (live_cmd(c, "--audio", c.m["music"], "-o", c.m["music"]), c.m["music"], [c.m["music"]]),
     "would overwrite the input", "music.mp4"),
    ("stylize -o is the style image",
     lambda c: (stylize_cmd(c, "-o", c.m["style"]), c.m["style"], [c.m["style"]]),
     "would overwrite the input", "style.png"),
    ("bench --json is the --clip file",
     lambda c: (["bench", "--clip", c.m["clip"], "--json", c.m["clip"], *FAST], c.m["clip"], [c.m["clip"]]),
     "would overwrite the input", "clip.mp4"),
    # 5. no video frame would be rendered
    ("render --start leaves less than a frame",
     lambda c: (render_cmd(c, "--start", "1.48", "-o", c.tmp / "o.mp4"), c.tmp / "o.mp4", [c.m["clip"]]),
     "nothing to render", "clip.mp4"),
    # 7. frames too small or too large for the network
    ("render a 2x2 video",
     lambda c: (["render", c.m["tiny"], "-o", c.tmp / "o.mp4", *FAST], c.tmp / "o.mp4", [c.m["tiny"]]),
     "too small", "tiny.mp4"),
    ("render --height 4", lambda c: (render_cmd(c, "--height", "4", "-o", c.tmp / "o.mp4"), c.tmp / "o.mp4", []),
     "too small", "clip.mp4"),
    ("render --height 100000",
     lambda c: (render_cmd(c, "--height", "100000", "-o", c.tmp / "o.mp4"), c.tmp / "o.mp4", []),
     "larger than the largest", "clip.mp4"),
    ("stylize a 1x1 image",
     lambda c: (["stylize", c.m["dot"], c.m["style"], "-o", c.tmp / "o.png", *FAST[:2]], c.tmp / "o.png", [c.m["dot"]]),
     "too small", "dot.png"),
    ("stylize --style-size 1",
     lambda c: (stylize_cmd(c, "--style-size", "1", "-o", c.tmp / "o.png"), c.tmp / "o.png", []),
     "too small", "--style-size"),
    ("bench --sizes 2x2",
     lambda c: (["bench", "--sizes", "2x2", "--json", c.tmp / "b.json", *FAST], c.tmp / "b.json", []),
     "too small", "--sizes"),
    ("live on a 2x2 clip",
     lambda c: (["live", "--clip", c.m["tiny"], "-o", c.tmp / "rec.mp4", *LIVE[:4]], c.tmp / "rec.mp4", [c.m["tiny"]]),
     "too small", "tiny.mp4"),
    # 7. seeds are integers >= 0
    ("render --seed -1", lambda c: (render_cmd(c, "--seed", "-1", "-o", c.tmp / "o.mp4"), c.tmp / "o.mp4", []),
     "integer >= 0", "--seed"),
    ("live --seed -1", lambda c: (live_cmd(c, "--seed", "-1", "-o", c.tmp / "o.mp4"), c.tmp / "o.mp4", []),
     "integer >= 0", "--seed"),
    ("visualize --seed -1",
     lambda c: (["visualize", c.m["music"], "-o", c.tmp / "vis", "--seed", "-1", *FAST], c.tmp / "vis", []),
     "integer >= 0", "--seed"),
    # 7. where the output cannot go
    ("render into a read-only folder", lambda c: _read_only(c, render_cmd(c), "o.mp4"), "cannot write", "o.mp4"),
    ("stylize into a read-only folder", lambda c: _read_only(c, stylize_cmd(c), "o.png"), "cannot write", "o.png"),
    ("live into a read-only folder", lambda c: _read_only(c, live_cmd(c), "o.mp4"), "cannot write", "o.mp4"),
    ("visualize into a read-only folder",
     lambda c: _read_only(c, ["visualize", c.m["music"], *FAST], "vis"), "cannot write", "vis"),
    ("render -o an existing directory", lambda c: _existing_dir(c, render_cmd(c)), "is a directory", "out.mp4"),
    ("stylize -o an existing directory", lambda c: _existing_dir(c, stylize_cmd(c)), "is a directory", "out.mp4"),
    ("live -o an existing directory", lambda c: _existing_dir(c, live_cmd(c)), "is a directory", "out.mp4"),
    ("visualize -o an existing file",
     lambda c: (["visualize", c.m["music"], "-o", c.copy("style", "taken.png"), *FAST], c.tmp / "taken.png",
                [c.tmp / "taken.png"]),
     "is not a directory", "taken.png"),
    ("live --json into a missing folder",
     lambda c: (live_cmd(c, "-o", c.tmp / "rec.mp4", "--json", c.tmp / "no" / "f.json"), c.tmp / "rec.mp4", []),
     "does not exist", "f.json"),
    ("bench --json into a missing folder",
     lambda c: (["bench", "--json", c.tmp / "no" / "f.json", *FAST], c.tmp / "f.json", []),
     "does not exist", "f.json"),
    # 7. manifests that are not livestyle manifests
    ("a manifest that is []",
     lambda c: (render_cmd(c, "--models", c.m["models_list"], "-o", c.tmp / "o.mp4"), c.tmp / "o.mp4", []),
     "not a livestyle manifest", "manifest.json"),
    ("a manifest graph without sha256",
     lambda c: (render_cmd(c, "--models", c.m["models_nosha"], "-o", c.tmp / "o.mp4"), c.tmp / "o.mp4", []),
     "mvnet.onnx' has no sha256", "manifest.json"),
    # 8. visualize hops
    ("visualize --hop 0.005",
     lambda c: (["visualize", c.m["music"], "-o", c.tmp / "vis", "--hop", "0.005", *FAST], c.tmp / "vis", []),
     "at least 0.01", "--hop"),
    ("visualize --hop making over 10 000 images",
     lambda c: (["visualize", TCHAIKOVSKY, "-o", c.tmp / "vis", "--hop", "0.01", *FAST], c.tmp / "vis", [TCHAIKOVSKY]),
     "would make 1", "tchaikovsky"),
    # 9. encoder quality and durations
    ("render --crf beyond libx264's range",
     lambda c: (render_cmd(c, "--crf", "60", "-o", c.tmp / "o.mp4"), c.tmp / "o.mp4", []), "range 0-51", "--crf"),
    ("render --crf beyond VP9's range",
     lambda c: (render_cmd(c, "--crf", "64", "-o", c.tmp / "o.webm"), c.tmp / "o.webm", []), "range 0-63", "--crf"),
    ("render --duration 0", lambda c: (render_cmd(c, "--duration", "0", "-o", c.tmp / "o.mp4"), c.tmp / "o.mp4", []),
     "positive number of seconds", "--duration"),
    ("live --duration 0", lambda c: (live_cmd(c, "--duration", "0", "-o", c.tmp / "o.mp4"), c.tmp / "o.mp4", []),
     "positive number of seconds", "--duration"),
    ("live --stream to a protocol this FFmpeg lacks",
     lambda c: (live_cmd(c, "--stream", "nosuchproto://127.0.0.1:9", "-o", c.tmp / "o.mp4"), c.tmp / "o.mp4", []),
     "cannot send nosuchproto://", "nosuchproto://127.0.0.1:9"),
    # --styles (issue 10): a folder of the user's style images
    ("render --styles a missing folder",
     lambda c: (render_cmd(c, "--styles", c.tmp / "nope", "-o", c.tmp / "o.mp4"), c.tmp / "o.mp4", []),
     "needs a folder of images", "nope"),
    ("render --styles a file, not a folder",
     lambda c: (render_cmd(c, "--styles", c.m["style"], "-o", c.tmp / "o.mp4"), c.tmp / "o.mp4", [c.m["style"]]),
     "needs a folder of images", "style.png"),
    ("live --styles a folder without images",
     lambda c: (live_cmd(c, "--styles", c.empty_dir("looks"), "-o", c.tmp / "o.mp4"), c.tmp / "o.mp4", []),
     "no images", "looks"),
    ("render --styles with an unreadable image",
     lambda c: (render_cmd(c, "--styles", c.broken_bank("bank"), "-o", c.tmp / "o.mp4"), c.tmp / "o.mp4", []),
     "not a readable image", "broken.png"),
    ("render --styles that is empty",
     lambda c: (render_cmd(c, "--styles", "", "-o", c.tmp / "o.mp4"), c.tmp / "o.mp4", []),
     "styles must be a folder of images, 'builtin'", "--styles"),
    ("render styles in the config that is a number",
     lambda c: (render_cmd(c, "--config", c.config("st.yaml", "render:\n  styles: 5\n"), "-o", c.tmp / "o.mp4"),
                c.tmp / "o.mp4", []),
     "styles must be text", "st.yaml"),
    ("live styles in the config that names no folder",
     lambda c: (live_cmd(c, "--config", c.config("sl.yaml", f"live:\n  styles: {c.tmp / 'gone'}\n"), "-o",
                         c.tmp / "o.mp4"), c.tmp / "o.mp4", []),
     "needs a folder of images", "gone"),
    ("live styles_follow below 0 in the config",
     lambda c: (live_cmd(c, "--config", c.config("sf.yaml", "live:\n  styles_follow: -2\n"), "-o", c.tmp / "o.mp4"),
                c.tmp / "o.mp4", []),
     "styles_follow must be a number >= 0", "sf.yaml"),
    ("export music-map without --audio-csv",
     lambda c: (["export", "music-map", "--out-dir", c.mvnet_export("exp")], c.tmp / "exp" / "mvnet_music.json",
                [c.tmp / "exp" / "mvnet.onnx"]), "needs --audio-csv", "music-map"),
    ("export music-map with an --audio-csv that is missing",
     lambda c: (["export", "music-map", "--audio-csv", c.tmp / "none.csv", "--out-dir", c.mvnet_export("exp")],
                c.tmp / "exp" / "mvnet_music.json", [c.tmp / "exp" / "mvnet.onnx"]), "not found", "none.csv"),
    ("export music-map into a folder without an MVNet",
     lambda c: (["export", "music-map", "--audio-csv", c.config("a.csv", "path,year\n"), "--out-dir",
                 c.empty_dir("bare")], c.tmp / "bare" / "mvnet_music.json", []), "no exported MVNet", "bare"),
    # reactive: (issue 10): the loudness mapping's config section
    ("render reactive: floor above the reference",
     lambda c: (render_cmd(c, "--config", c.config("up.yaml", "reactive:\n  reference_dbfs: -60\n"), "-o", c.tmp / "o.mp4"),
                c.tmp / "o.mp4", []),
     "must be above floor_dbfs", "up.yaml"),
    ("render reactive: strength beyond 1",
     lambda c: (render_cmd(c, "--config", c.config("s.yaml", "reactive:\n  strength_loud: 2\n"), "-o", c.tmp / "o.mp4"),
                c.tmp / "o.mp4", []),
     "strength_loud must be in [0, 1]", "s.yaml"),
    ("live reactive: a level that is not a number",
     lambda c: (live_cmd(c, "--config", c.config("n.yaml", "reactive:\n  floor_dbfs: quiet\n"), "-o", c.tmp / "o.mp4"),
                c.tmp / "o.mp4", []),
     "floor_dbfs must be a number", "n.yaml"),
    ("live reactive: brightness beyond 100 %",
     lambda c: (live_cmd(c, "--config", c.config("b.yaml", "reactive:\n  brightness_loud: 250\n"), "-o", c.tmp / "o.mp4"),
                c.tmp / "o.mp4", []),
     "percentage in [-100, 100]", "b.yaml"),
    # refused before any model loads (issue 12's last two)
    ("stylize -o with an unknown image extension",
     lambda c: (stylize_cmd(c, "--models", c.tmp / "no_models", "-o", c.tmp / "o.xyz"), c.tmp / "o.xyz", []),
     "unsupported image extension", "o.xyz"),
    ("visualize --hop making over 10 000 images, before the model loads",
     lambda c: (["visualize", TCHAIKOVSKY, "-o", c.tmp / "vis", "--hop", "0.01", "--models", c.tmp / "no_models",
                 *FAST[:2]], c.tmp / "vis", [TCHAIKOVSKY]),
     "would make 1", "tchaikovsky"),
    # --model (issue 11)
    ("render --model lite with an export that has no lite model",
     lambda c: (render_cmd(c, "--models", c.m["models_nolite"], "--model", "lite", "-o", c.tmp / "o.mp4"),
                c.tmp / "o.mp4", []),
     "no 'lite' model recorded", "manifest.json"),
    ("render --model with an unknown name",
     lambda c: (render_cmd(c, "--model", "r41", "-o", c.tmp / "o.mp4"), c.tmp / "o.mp4", []),
     "invalid choice", "r41"),
    ("stylize runtime.model unknown in the config",
     lambda c: (stylize_cmd(c, "--config", c.config("m.yaml", "runtime:\n  model: huge\n"), "-o", c.tmp / "o.png"),
                c.tmp / "o.png", []),
     "runtime.model must be one of", "huge"),
    ("render style_hz of 0",
     lambda c: (render_cmd(c, "--config", c.config("rz.yaml", "render:\n  style_hz: 0\n"), "-o", c.tmp / "o.mp4"),
                c.tmp / "o.mp4", []),
     "style_hz must be a whole number", "rz.yaml"),
    ("render cpu_style_hz that is not a number",
     lambda c: (render_cmd(c, "--config", c.config("rc.yaml", "render:\n  cpu_style_hz: fast\n"), "-o", c.tmp / "o.mp4"),
                c.tmp / "o.mp4", []),
     "cpu_style_hz must be a whole number", "rc.yaml"),
    ("render --hold beyond 2",
     lambda c: (render_cmd(c, "--hold", "5", "-o", c.tmp / "o.mp4"), c.tmp / "o.mp4", []),
     "RMS difference in [0, 2]", "--hold"),
    ("live --hold that is not a number",
     lambda c: (live_cmd(c, "--hold", "steady", "-o", c.tmp / "o.mp4"), c.tmp / "o.mp4", []),
     "RMS difference in [0, 2]", "--hold"),
    ("render hold below 0 in the config",
     lambda c: (render_cmd(c, "--config", c.config("h.yaml", "render:\n  hold: -0.1\n"), "-o", c.tmp / "o.mp4"),
                c.tmp / "o.mp4", []),
     "hold must be a number in [0, 2]", "h.yaml"),
    ("live smoothing below 0 in the config",
     lambda c: (live_cmd(c, "--config", c.config("ls.yaml", "live:\n  smoothing: -1.0\n"), "-o", c.tmp / "o.mp4"),
                c.tmp / "o.mp4", []),
     "smoothing must be a number >= 0", "ls.yaml"),
    ("live cpu_style_hz of 0",
     lambda c: (live_cmd(c, "--config", c.config("hz.yaml", "live:\n  cpu_style_hz: 0\n"), "-o", c.tmp / "o.mp4"),
                c.tmp / "o.mp4", []),
     "cpu_style_hz must be a whole number", "hz.yaml"),
    ("live input_gain_db that is not a number",
     lambda c: (live_cmd(c, "--config", c.config("g.yaml", "live:\n  input_gain_db: loud\n"), "-o", c.tmp / "o.mp4"),
                c.tmp / "o.mp4", []),
     "input_gain_db must be a number", "g.yaml"),
    # live control (issue 13)
    ("live --osc-port beyond 65535",
     lambda c: (live_cmd(c, "--osc-port", "70000", "-o", c.tmp / "o.mp4"), c.tmp / "o.mp4", []),
     "not a port number", "70000"),
    ("live --osc-port already taken", lambda c: _osc_port_taken(c), "cannot listen", "--osc-port"),
    ("live --osc-send without a port",
     lambda c: (live_cmd(c, "--osc-send", "mixer.local", "-o", c.tmp / "o.mp4"), c.tmp / "o.mp4", []),
     "expected HOST:PORT", "mixer.local"),
    ("live --presets that is not JSON",
     lambda c: (live_cmd(c, "--presets", c.config("presets.json", "{slots"), "-o", c.tmp / "o.mp4"),
                c.tmp / "o.mp4", []),
     "invalid JSON", "presets.json"),
    ("live --presets with a strength beyond 1",
     lambda c: (live_cmd(c, "--presets", c.config("p.json", '{"slots": {"2": {"strength": 4}}}'), "-o",
                         c.tmp / "o.mp4"), c.tmp / "o.mp4", []),
     "slot 2: 4 is outside", "p.json"),
    ("live --midi-map without --midi",
     lambda c: (live_cmd(c, "--midi-map", c.config("m.yaml", "midi: []"), "-o", c.tmp / "o.mp4"), c.tmp / "o.mp4", []),
     "need --midi PORT", "--midi-map"),
    ("live --midi-map with an unknown action",
     lambda c: (live_cmd(c, "--midi", "x", "--midi-map", c.config("map.yaml", "midi:\n  - {cc: 1, action: warp}\n"),
                         "-o", c.tmp / "o.mp4"), c.tmp / "o.mp4", []),
     "unknown action 'warp'", "map.yaml"),
    ("live --midi a port that is not there",
     lambda c: (live_cmd(c, "--midi", "NoSuchController", "-o", c.tmp / "o.mp4"), c.tmp / "o.mp4", []),
     "MIDI", "NoSuchController"),
    ("live --virtual-cam without pyvirtualcam",
     lambda c: (c.monkeypatch.setitem(sys.modules, "pyvirtualcam", None)
                or live_cmd(c, "--virtual-cam", "-o", c.tmp / "o.mp4"), c.tmp / "o.mp4", []),
     "pip install 'livestyle[virtualcam]'", "--virtual-cam"),
    ("live --virtual-cam with no loopback device", lambda c: _no_loopback(c), "modprobe v4l2loopback", "/dev/video7"),
    ("live --ndi without ndi-python",
     lambda c: (c.monkeypatch.setitem(sys.modules, "NDIlib", None)
                or live_cmd(c, "--ndi", "show", "-o", c.tmp / "o.mp4"), c.tmp / "o.mp4", []),
     "pip install 'livestyle[ndi]'", "--ndi"),
    ("live --ndi with an empty name",
     lambda c: (live_cmd(c, "--ndi", " ", "-o", c.tmp / "o.mp4"), c.tmp / "o.mp4", []),
     "needs a name", "--ndi"),
    ("live --stream tcp:// to a port nobody listens on",
     lambda c: (live_cmd(c, "--stream", "tcp://127.0.0.1:9", "-o", c.tmp / "o.mp4"), c.tmp / "o.mp4", []),
     "cannot open the stream", "tcp://127.0.0.1:9"),
    ("live camera_loss neither last nor black",
     lambda c: (live_cmd(c, "--config", c.config("cl.yaml", "live:\n  camera_loss: grey\n"), "-o", c.tmp / "o.mp4"),
                c.tmp / "o.mp4", []),
     "camera_loss must be 'last' or 'black'", "cl.yaml"),
    ("live --camera-loss with an unknown choice",
     lambda c: (live_cmd(c, "--camera-loss", "grey", "-o", c.tmp / "o.mp4"), c.tmp / "o.mp4", []),
     "invalid choice", "grey"),
    # vis2mus (issue 14)
    ("vis2mus enhance on a waltz", lambda c: _vis2mus(c, "enhance", c.m["waltz"]), "4/4 (or 2/4, 2/2)", "waltz.mid"),
    ("vis2mus enhance on a MIDI file without notes", lambda c: _vis2mus(c, "enhance", c.m["silent_midi"]),
     "no notes", "silent.mid"),
    ("vis2mus enhance --track that is not there",
     lambda c: _vis2mus(c, "enhance", VIS2MUS_SONG, "--track", "VIOLIN"), "no track named 'VIOLIN'", "001.mid"),
    ("vis2mus enhance --brightness beyond 100",
     lambda c: _vis2mus(c, "enhance", VIS2MUS_SONG, "--brightness", "150"), "must be a percentage", "--brightness"),
    ("vis2mus enhance on a file that is not MIDI",
     lambda c: _vis2mus(c, "enhance", c.config("fake.mid", "not midi at all")), "not a readable MIDI", "fake.mid"),
    ("vis2mus enhance -o the anchor itself",
     lambda c: (["vis2mus", "enhance", c.copy_file(VIS2MUS_SONG, "a.mid"), "-o", c.tmp / "a.mid"], c.tmp / "a.mid",
                [c.tmp / "a.mid"]), "would overwrite the input", "a.mid"),
    ("vis2mus enhance --chords that is missing",
     lambda c: _vis2mus(c, "enhance", VIS2MUS_SONG, "--chords", c.tmp / "none.txt"), "chord file not found", "none.txt"),
    ("vis2mus enhance without exported vis2mus weights",
     lambda c: _vis2mus(c, "enhance", VIS2MUS_SONG, "--models", c.m["models_nolite"]),
     "no 'vis2mus' model recorded", "manifest.json"),
    ("vis2mus from-images with images of two sizes",
     lambda c: _vis2mus(c, "from-images", VIS2MUS_SONG, "--image", c.m["style"], "--edited", c.m["dot"]),
     "differ in size", "dot.png"),
    ("train stnet device that is not one",
     lambda c: _train(c, "stnet", "t.yaml", "device: tpu\n"), "device 'tpu': must be one of auto, cpu, cuda", "t.yaml"),
    ("train stnet style_relative that is not true or false",
     lambda c: _train(c, "stnet", "t.yaml", "transform:\n  style_relative: yes please\n"),
     "style_relative must be true or false", "t.yaml"),
    ("train stnet a learning rate YAML reads as text",
     lambda c: _train(c, "stnet", "t.yaml", "transform:\n  lr: 1e-4\n"), "write 1.0e-4", "t.yaml"),
    ("train vis2mus device that is not one",
     lambda c: _train(c, "vis2mus", "v.yaml", "device: gpu\n"), "device 'gpu': must be one of", "v.yaml"),
    ("render reactive: an unknown key",
     lambda c: (render_cmd(c, "--config", c.config("k.yaml", "reactive:\n  loudness: 3\n"), "-o", c.tmp / "o.mp4"),
                c.tmp / "o.mp4", []),
     "unknown key(s) loudness", "k.yaml"),
]


@pytest.mark.parametrize("name, build, fragment, offender", CASES, ids=[c[0] for c in CASES])
def test_user_error(name, build, fragment, offender, media, tmp_path, monkeypatch, capsys):
    argv, target, inputs = build(Ctx(media, tmp_path, monkeypatch))
    assert_user_error(argv, target, [*inputs, media["clip"]], fragment, offender, capsys)


# ------------------------------------------------------------------ 2: unique temporaries, last wins

def test_two_writers_to_one_target_last_complete_wins(tmp_path):
    from livestyle.io.encode import VideoWriter

    target = tmp_path / "o.mp4"
    a = VideoWriter(target, 32, 32, Fraction(20))
    b = VideoWriter(target, 32, 32, Fraction(20))
    assert a.tmp_path != b.tmp_path and a.tmp_path.suffix == ".mp4"
    for _ in range(3):
        a.write(np.zeros((32, 32, 3), np.uint8))
    for _ in range(5):
        b.write(np.full((32, 32, 3), 255, np.uint8))
    assert a.commit() == target
    with av.open(str(target)) as c:
        assert sum(1 for _ in c.decode(video=0)) == 3  # a's own video, reported truthfully
    assert b.commit() == target
    with av.open(str(target)) as c:
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    assert len(frames) == 5 and frames[0].mean() > 200  # the last complete job's file
    assert os.listdir(tmp_path) == ["o.mp4"]


def test_concurrent_image_writes_never_share_a_temporary(tmp_path, monkeypatch):
    from livestyle.io import images, paths

    seen, real = [], paths.temporary_beside
    monkeypatch.setattr(paths, "temporary_beside", lambda p: seen.append(real(p)) or seen[-1])
    threads = [threading.Thread(target=images.write_image, args=(tmp_path / "o.png", np.full((8, 8, 3), v, np.uint8)))
               for v in (0, 255)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(seen)) == 2 and os.listdir(tmp_path) == ["o.png"]


# ------------------------------------------------------------- 5, 7: what the writer itself refuses

def test_writer_without_frames_leaves_nothing(tmp_path):
    from livestyle.io.encode import VideoWriter

    writer = VideoWriter(tmp_path / "o.mp4", 32, 32, Fraction(20))
    with pytest.raises(UserError, match="o.mp4: no video frame"):
        writer.commit()
    assert os.listdir(tmp_path) == []


def test_disk_full_names_the_output_and_leaves_nothing(tmp_path, monkeypatch):
    from livestyle.io.encode import VideoWriter
    from livestyle.io.images import write_image

    writer = VideoWriter(tmp_path / "o.mp4", 32, 32, Fraction(20))
    real = writer.output

    class Full:
        def mux(self, packets):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        def close(self):
            real.close()

    writer.output = Full()
    with pytest.raises(UserError, match=r"o\.mp4: cannot write .*No space left"):
        for _ in range(30):  # the encoder buffers a few frames before the first packet
            writer.write(np.zeros((32, 32, 3), np.uint8))
    writer.abort()

    def full(src, dst):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "replace", full)
    with pytest.raises(UserError, match=r"o\.png: cannot write \(No space left"):
        write_image(tmp_path / "o.png", np.zeros((8, 8, 3), np.uint8))
    assert os.listdir(tmp_path) == []


# ---------------------------------------------------------------------- 4: SIGTERM is like Ctrl-C

def start_cli(args: list[str], folder: Path) -> subprocess.Popen:
    env = dict(os.environ, OMP_NUM_THREADS="1", SDL_VIDEODRIVER="dummy")
    return subprocess.Popen([sys.executable, "-m", "livestyle", *map(str, args)], cwd=folder, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for_partial(proc: subprocess.Popen, folder: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not list(folder.glob(".*partial*")):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "no partial file appeared"
        time.sleep(0.05)


def test_sigterm_during_render_leaves_nothing(tmp_path):
    out = tmp_path / "o.mp4"
    proc = start_cli(["render", CLIP, "-o", out, "--height", "36", *FAST], tmp_path)
    wait_for_partial(proc, tmp_path)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode in (130, 143), err
    assert "Traceback" not in err
    assert os.listdir(tmp_path) == []


def test_sigterm_ends_a_live_set_and_keeps_the_recording(tmp_path):
    out = tmp_path / "rec.mp4"
    proc = start_cli(["live", "--clip", CLIP, "-o", out, "--height", "48", "--providers", "cpu", "--no-window",
                      "--quiet"], tmp_path)
    wait_for_partial(proc, tmp_path)
    time.sleep(3)  # models loaded, frames recorded
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0 and "Traceback" not in err, err
    with av.open(str(out)) as c:
        assert sum(1 for _ in c.decode(video=0)) >= 1
    assert os.listdir(tmp_path) == ["rec.mp4"]


# --------------------------------------------------------------- 8: one image per window, every one

def test_visualize_small_hop_writes_every_image(media, tmp_path):
    from livestyle.commands.visualize import visualize_file

    audio = tmp_path / "short.mp4"
    make_clip(audio, 16, 16, frames=5)  # 0.23 s of audio (whole AAC frames)
    written = visualize_file(audio, tmp_path / "vis", hop=0.01, providers=("cpu",), progress=False)
    assert len(written) >= 23 and len(set(written)) == len(written)
    assert sorted(p.name for p in (tmp_path / "vis").glob("style_*.png")) == sorted(p.name for p in written)
    assert written[1].name == "style_00001_0.010s.png"


def test_odd_sizes_are_noted_once(tmp_path, caplog):
    from livestyle.io.encode import VideoWriter

    with caplog.at_level("INFO", logger="livestyle.io.encode"):
        writer = VideoWriter(tmp_path / "o.mp4", 33, 35, Fraction(20))
    writer.abort()
    notes = [r.getMessage() for r in caplog.records]
    assert len(notes) == 1 and "33x35 is encoded as 34x36" in notes[0]


# ------------------------------------------------- 3: a failing output does not end the live set

def test_a_dropped_stream_keeps_the_recording_going_and_is_retried(tmp_path, monkeypatch, caplog):
    """A stream that keeps failing (it connects, then every send fails) is retried with a back-off
    that keeps growing, so the terminal is not flooded; the recording beside it goes on."""
    from livestyle.io.outputs import StreamOutput

    calls = []

    def dropped(self, image, now):
        calls.append(now)
        raise UserError(f"{self.url}: the stream failed (Connection reset by peer)")

    monkeypatch.setattr(StreamOutput, "show", dropped)
    out = tmp_path / "rec.mp4"
    with caplog.at_level("WARNING", logger="livestyle.io.recovery"):
        assert main(["live", "--clip", str(CLIP), "-o", str(out), "--stream", "udp://127.0.0.1:9", "--duration", "2",
                     *LIVE]) == 0
    assert 1 <= len(calls) <= 5   # 0.25 + 0.5 + 1 s of back-off fit in the 2 s set
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert warnings[0] == "stream udp://127.0.0.1:9: lost (the stream failed (Connection reset by peer)); retrying"
    with av.open(str(out)) as c:
        assert sum(1 for _ in c.decode(video=0)) >= 10


@pytest.mark.parametrize("failing", ["window", "file"])
def test_a_failing_output_leaves_the_others_running(failing, tmp_path, monkeypatch, caplog):
    """Fault injection for the other outputs of live: the window dies (SDL error) -> the recording
    goes on; the recording's disk fails -> the window goes on. The set ends normally either way."""
    from livestyle.io.outputs import FileOutput, WindowOutput

    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")
    shown: dict[str, int] = {"window": 0, "file": 0}
    originals = {"window": WindowOutput.show, "file": FileOutput.show}

    def wrap(kind):
        def show(self, image, now):
            shown[kind] += 1
            if kind == failing and shown[kind] == 3:
                raise UserError(f"{kind}: failed mid-set")
            return originals[kind](self, image, now)
        return show

    monkeypatch.setattr(WindowOutput, "show", wrap("window"))
    monkeypatch.setattr(FileOutput, "show", wrap("file"))
    out = tmp_path / "rec.mp4"
    with caplog.at_level("WARNING", logger="livestyle.commands.live"):
        live_args = [a for a in LIVE if a != "--no-window"]
        assert main(["live", "--clip", str(CLIP), "-o", str(out), "--window", "--duration", "2", *live_args]) == 0
    other = "file" if failing == "window" else "window"
    assert shown[failing] == 3 and shown[other] >= 10  # the failed one stopped, the other went on
    assert any("output failed" in r.getMessage() for r in caplog.records if r.levelname == "WARNING")
    if failing == "window":  # the recording is complete and playable
        with av.open(str(out)) as c:
            assert sum(1 for _ in c.decode(video=0)) >= 10


# ------------------------------------------------------------ 6: damaged input is reported, not hidden

@pytest.fixture(scope="module")
def truncated(tmp_path_factory) -> Path:
    """The bundled clip remuxed with its index at the front (faststart), then cut in half: the
    index promises 10 s, the data stops near 3 s."""
    folder = tmp_path_factory.mktemp("damaged")
    whole = folder / "whole.mp4"
    with av.open(str(CLIP)) as src, av.open(str(whole), "w", options={"movflags": "faststart"}) as out:
        streams = {s.index: out.add_stream_from_template(s) for s in src.streams}
        for packet in src.demux():
            if packet.dts is not None:
                packet.stream = streams[packet.stream.index]
                out.mux(packet)
    cut = folder / "cut.mp4"
    data = whole.read_bytes()
    cut.write_bytes(data[:len(data) // 2])
    return cut


def test_damaged_input_with_nothing_usable_is_an_error(truncated, tmp_path, capsys):
    before = sha256(truncated)
    out = tmp_path / "o.mp4"
    assert main(["render", str(truncated), "-o", str(out), "--start", "6", "--duration", "1", "--height", "36",
                 *FAST]) == 2
    err = capsys.readouterr().err
    assert "cut.mp4: no decodable video from 6 s on" in err and "Traceback" not in err
    assert not out.exists() and not list(tmp_path.iterdir()) and sha256(truncated) == before


def test_damaged_input_is_reported_with_the_time_where_it_ends(truncated, tmp_path, caplog):
    out = tmp_path / "o.mp4"
    with caplog.at_level("WARNING"):
        assert main(["render", str(truncated), "-o", str(out), "--start", "1", "--duration", "5", "--height", "36",
                     *FAST]) == 0
    warnings = " | ".join(r.getMessage() for r in caplog.records if r.levelname == "WARNING")
    assert "the video ends at 3." in warnings and "the audio ends at 3." in warnings
    assert out.exists()
