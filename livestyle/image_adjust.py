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


def estimate(before: np.ndarray, after: np.ndarray) -> tuple[float, float]:
    """The brightness b and contrast k (percent, the conventions above) that best turn `before`
    into `after` (same size, RGB). Brightness then contrast is out = fc fb in + mu' (1 - fc), mu'
    the mean luminance of the brightened (and clipped) image: a least-squares line out = a in + c
    over the values neither step clipped gives fc = 1 - c / mu' and fb = a / fc, refined a few
    times since mu' and the clipped set depend on fb."""
    if before.shape != after.shape:
        raise ValueError(f"the images differ in size: {before.shape[1]}x{before.shape[0]} and "
                         f"{after.shape[1]}x{after.shape[0]}")
    top = _limits(before)
    image = before.astype(np.float64)
    x = image.ravel()
    y = after.astype(np.float64).ravel()
    fb = fc = 1.0
    for _ in range(6):
        keep = (y > 0.01 * top) & (y < 0.99 * top) & (x * fb < 0.99 * top)
        if keep.mean() < 0.1 or np.ptp(x[keep]) == 0:
            raise ValueError(f"the edit clips {1 - keep.mean():.0%} of the image: too little is left to read "
                             f"its brightness and contrast from")
        a, c = np.polyfit(x[keep], y[keep], 1)
        if a <= 0:
            raise ValueError("the edit is not a brightness/contrast change (it inverts the image)")

        def gap(f: float) -> float:  # c as brightness f would give it, minus the fitted c
            return float((np.clip(image * f, 0.0, top) @ LUMA).mean()) * (1.0 - a / f) - c

        lo, hi = a / 12.0, 50.0   # contrast factors reach 11 (k = +100), so fb >= a / 11
        if gap(lo) > 0 or gap(hi) < 0:
            raise ValueError("the edit is not a brightness/contrast change")
        for _ in range(60):  # gap rises with f: bisection
            mid = 0.5 * (lo + hi)
            lo, hi = (mid, hi) if gap(mid) < 0 else (lo, mid)
        fb = 0.5 * (lo + hi)
        fc = a / fb
    b = 100.0 * (fb - 1.0)
    k = 100.0 * (fc - 1.0) if fc < 1.0 else 10.0 * (fc - 1.0)
    return b, k
