"""Rotation/mirror metadata: frames come out the way FFmpeg's autorotate shows them, and a portrait
phone clip (landscape frames + a 90-degree display matrix) renders as a portrait video."""

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from livestyle.cli import main
from livestyle.io.images import read_image, resize_to
from livestyle.io.decode import decode_video
from livestyle.io.media import Orientation, probe

from helpers import layout

REPO = Path(__file__).resolve().parents[1]

# What `ffmpeg -i clip -f rawvideo -` (autorotate on, FFmpeg 9.0.2 from the imageio-ffmpeg wheel)
# showed for clips written with PyAV's VideoStream.set_display_rotation(degrees, hflip, vflip):
# the displayed picture as a numpy operation on the coded one. One case per signed permutation.
FFMPEG_DISPLAYS = {
    (0, False, False): lambda a: a,
    (0, False, True): lambda a: a[::-1],                      # vflip
    (0, True, False): lambda a: a[:, ::-1],                   # hflip
    (180, False, False): lambda a: a[::-1, ::-1],             # 180
    (90, False, False): lambda a: np.rot90(a, 1),             # 90 counter-clockwise
    (-90, False, False): lambda a: np.rot90(a, -1),           # 90 clockwise (a phone's rotate=90)
    (90, False, True): lambda a: a.transpose(1, 0, 2),        # transpose
    (90, True, False): lambda a: a[::-1, ::-1].transpose(1, 0, 2),  # anti-transpose
}


def write_clip(path: Path, frames: list[np.ndarray], degrees: int, hflip: bool = False,
               vflip: bool = False, audio: np.ndarray | None = None) -> None:
    """Lossless H.264 (4:4:4, qp 0) at 20 fps carrying the given display matrix."""
    h, w = frames[0].shape[:2]
    with av.open(str(path), "w") as out:
        v = out.add_stream("libx264", rate=20, options={"qp": "0"})
        v.width, v.height, v.pix_fmt = w, h, "yuv444p"
        v.set_display_rotation(degrees, hflip=hflip, vflip=vflip)
        a = out.add_stream("aac", rate=44100, layout="mono") if audio is not None else None
        for i, img in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, 20)
            out.mux(v.encode(frame))
        out.mux(v.encode(None))
        if a is not None:
            for k in range(0, len(audio) - 1024, 1024):
                af = av.AudioFrame.from_ndarray(np.ascontiguousarray(audio[None, k:k + 1024]), format="fltp",
                                                layout="mono")
                af.sample_rate, af.pts, af.time_base = 44100, k, Fraction(1, 44100)
                out.mux(a.encode(af))
            out.mux(a.encode(None))


@pytest.mark.parametrize("degrees,hflip,vflip", list(FFMPEG_DISPLAYS))
def test_decoded_frames_match_ffmpeg_autorotate(tmp_path, degrees, hflip, vflip):
    coded = (np.random.default_rng(0).integers(0, 8, (4, 6, 3)) * 32).astype(np.uint8).repeat(8, 0).repeat(8, 1)
    path = tmp_path / "clip.mp4"
    write_clip(path, [coded, coded], degrees, hflip, vflip)
    info = probe(path)
    expected = FFMPEG_DISPLAYS[(degrees, hflip, vflip)](coded)
    assert (info.height, info.width) == expected.shape[:2]
    (_, first), _ = decode_video(path, info.zero, 0.0, info.orientation)
    assert first.shape == expected.shape
    assert np.abs(first.astype(int) - expected).mean() < 4  # lossless but for 4:4:4 rounding


def test_identity_when_no_matrix():
    assert Orientation.from_display_matrix([65536, 0, 0, 0, 65536, 0, 0, 0, 1 << 30]) == Orientation()
    image = np.zeros((2, 3, 3), np.uint8)
    assert Orientation().apply(image) is image


def test_portrait_phone_clip_renders_upright(tmp_path):
    """A portrait painting stored sideways (as phones do) with a clockwise display rotation: the
    output is portrait, carries no rotation, and shows the painting's light/dark layout upright."""
    painting = resize_to(read_image(REPO / "data" / "paintings" / sorted(
        p.name for p in (REPO / "data" / "paintings").glob("*.jpg"))[0]), 96, 160)  # portrait 96x160
    coded = np.ascontiguousarray(np.rot90(painting, 1))  # stored landscape 160x96
    audio = np.sin(np.linspace(0, 2 * np.pi * 440 * 1.5, int(44100 * 1.5))).astype(np.float32) * 0.3
    clip = tmp_path / "phone.mp4"
    write_clip(clip, [coded] * 30, -90, audio=audio)
    out = tmp_path / "out.mp4"
    assert main(["render", str(clip), "-o", str(out), "--providers", "cpu", "--quiet"]) == 0
    with av.open(str(out)) as c:
        frame = next(c.decode(video=0))
        assert (frame.width, frame.height) == (96, 160)
        assert Orientation.of(frame) == Orientation()
        result = frame.to_ndarray(format="rgb24")
    scores = {k: np.corrcoef(layout(resize_to(np.ascontiguousarray(np.rot90(result, k)), 96, 160)),
                             layout(painting))[0, 1] for k in (0, 2)}
    assert scores[0] > 0.5 and scores[0] > scores[2] + 0.3, scores
