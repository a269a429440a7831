"""Brightness and contrast follow PIL's ImageEnhance exactly as the Vis2Mus interface uses them."""

import numpy as np
import pytest

from livestyle.image_adjust import adjust, brightness, contrast, contrast_factor
from conftest import PAINTINGS

PIL = pytest.importorskip("PIL")
from PIL import Image, ImageEnhance  # noqa: E402


@pytest.fixture(scope="module")
def painting():
    from livestyle.io.images import read_image, resize_shorter

    return resize_shorter(read_image(PAINTINGS / "1889_van_gogh_the_starry_night.jpg"), 96)


@pytest.mark.parametrize("b", [-70, -20, 0, 35, 100])
def test_brightness_matches_pil(painting, b):
    expected = np.asarray(ImageEnhance.Brightness(Image.fromarray(painting)).enhance(1 + b / 100))
    assert np.abs(brightness(painting, b).astype(int) - expected).max() <= 1


@pytest.mark.parametrize("k", [-70, -10, 0, 5, 30])
def test_contrast_matches_pil_with_the_interface_factor(painting, k):
    expected = np.asarray(ImageEnhance.Contrast(Image.fromarray(painting)).enhance(contrast_factor(k)))
    assert np.abs(contrast(painting, k).astype(int) - expected).max() <= 1


def test_factor_convention_and_float_images(painting):
    assert contrast_factor(-50) == 0.5 and contrast_factor(50) == 6.0  # 1 + k/10 above zero
    x = painting.astype(np.float32) / 255
    out = adjust(x, b=20, k=-30)
    assert out.dtype == np.float32 and 0 <= out.min() and out.max() <= 1
    assert np.abs(out * 255 - adjust(painting, b=20, k=-30)).max() <= 1.5
    flat = contrast(x, -100)  # factor 0: every pixel the mean luminance
    assert np.ptp(flat) < 1e-6
