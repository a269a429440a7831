"""Whatever pixel format the decoder reports comes out as the same RGB picture: 10-bit HEVC,
ProRes 422 (what VJ tools export), full-range MJPEG (webcams), PNG with alpha, 16-bit grey."""

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from livestyle.io.images import read_image, resize_to
from livestyle.io.decode import decode_video
from livestyle.io.media import probe

REPO = Path(__file__).resolve().parents[1]

CASES = [  # (container suffix, encoder, pixel format, allowed mean |error| in 8-bit levels)
    ("mp4", "libx265", "yuv420p10le", 6.0),   # measured 4.6 (lossy at the encoder's defaults)
    ("mov", "prores_ks", "yuv422p10le", 3.0),  # 1.9
    ("avi", "mjpeg", "yuvj422p", 4.0),         # 2.6, full-range YUV
    ("mov", "png", "rgba", 0.5),               # 0.0
    ("mkv", "ffv1", "gray16le", 1.0),          # 0.5
]


@pytest.fixture(scope="module")
def picture() -> np.ndarray:
    """A real painting at 128x96, slightly blurred so chroma subsampling loses little and a colour
    error (wrong range or matrix) stands out from codec loss."""
    import cv2

    image = resize_to(read_image(REPO / "data" / "paintings" / "1889_van_gogh_the_starry_night.jpg"), 128, 96)
    return cv2.GaussianBlur(image, (0, 0), 1.5)


@pytest.mark.parametrize("suffix,codec,pix_fmt,tolerance", CASES, ids=[c[2] for c in CASES])
def test_decoded_rgb_matches_the_source(tmp_path, picture, suffix, codec, pix_fmt, tolerance):
    path = tmp_path / f"clip.{suffix}"
    with av.open(str(path), "w") as out:
        v = out.add_stream(codec, rate=20, options={"x265-params": "log-level=error"} if codec == "libx265" else {})
        v.width, v.height, v.pix_fmt = 128, 96, pix_fmt
        for i in range(3):
            frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, 20)
            out.mux(v.encode(frame.reformat(format=pix_fmt)))
        out.mux(v.encode(None))
    info = probe(path)
    assert (info.width, info.height) == (128, 96)
    frames = [f for _, f in decode_video(path, info.zero, 0.0, info.orientation)]
    assert len(frames) == 3
    expected = picture.astype(float)
    if pix_fmt.startswith("gray"):  # BT.601 luma
        expected = (expected @ [0.299, 0.587, 0.114])[..., None].repeat(3, 2)
    for got in frames:
        assert got.shape == (96, 128, 3) and got.dtype == np.uint8
        got = got.astype(float)
        assert np.abs(got - expected).mean() < tolerance
        assert np.all(np.abs((got - expected).mean((0, 1))) < 3)  # no colour cast
        for c in range(3):  # full/limited range confusion would give a slope of 0.86 or 1.16
            assert 0.95 < np.polyfit(expected[..., c].ravel(), got[..., c].ravel(), 1)[0] < 1.05
