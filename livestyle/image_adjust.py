"""Brightness and contrast as the Vis2Mus interface applies them to images (spec_vis2mus §3.4):
PIL's ImageEnhance conventions, for uint8 images and for float images in [0, 1].

Slider values are integer percentages, -100..100:
  brightness b   out = in * (1 + b/100)                        (multiplicative, PIL Brightness)
  contrast k     out = mu + f * (in - mu), f = 1 + k/100 for k < 0 and 1 + k/10 for k >= 0,
                 mu = the mean luminance (ITU-R 601: 0.299 R + 0.587 G + 0.114 B), one grey for
                 all channels (PIL Contrast)
applied brightness first, then contrast. One module for both users: the reactive video mapping
(loudness -> the style image's brightness and contrast) and Vis2Mus (`from-images` estimates b and
k from an edited image and applies the matching music transform).
"""

from __future__ import annotations

import numpy as np

LUMA = np.array([0.299, 0.587, 0.114])


def brightness_factor(b: float) -> float:
    return 1.0 + b / 100.0


def contrast_factor(k: float) -> float:
    return 1.0 + k / 100.0 if k < 0 else 1.0 + k / 10.0


def _limits(image: np.ndarray) -> float:
    return 255.0 if image.dtype == np.uint8 else 1.0


def _finish(out: np.ndarray, like: np.ndarray) -> np.ndarray:
    top = _limits(like)
    out = np.clip(out, 0.0, top)
    return (out + 0.5).astype(np.uint8) if like.dtype == np.uint8 else out.astype(like.dtype)


def brightness(image: np.ndarray, b: float) -> np.ndarray:
    """PIL ImageEnhance.Brightness(1 + b/100) on an RGB image (H, W, 3), uint8 or float in [0,1]."""
    return _finish(image.astype(np.float64) * brightness_factor(b), image)


def mean_luminance(image: np.ndarray) -> float:
    """PIL's grey for Contrast: the mean of the 'L' conversion (rounded to an integer for uint8)."""
    luma = float((image.astype(np.float64) @ LUMA).mean())
    return float(int(luma + 0.5)) if image.dtype == np.uint8 else luma


def contrast(image: np.ndarray, k: float) -> np.ndarray:
    """PIL ImageEnhance.Contrast(f(k)) on an RGB image (H, W, 3), uint8 or float in [0,1]."""
    mu = mean_luminance(image)
    return _finish(mu + contrast_factor(k) * (image.astype(np.float64) - mu), image)


def adjust(image: np.ndarray, b: float = 0.0, k: float = 0.0) -> np.ndarray:
    """Brightness b, then contrast k (the order the Vis2Mus interface uses)."""
    if b:
        image = brightness(image, b)
    if k:
        image = contrast(image, k)
    return image
