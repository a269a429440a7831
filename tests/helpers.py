"""Small helpers shared by test modules (pytest puts tests/ on sys.path)."""

from __future__ import annotations

import numpy as np


def layout(image: np.ndarray) -> np.ndarray:
    """Coarse light/dark layout (32x18 luminance, mean removed): survives stylisation."""
    import cv2

    g = cv2.resize(image, (32, 18), interpolation=cv2.INTER_AREA).astype(float).mean(2)
    return (g - g.mean()).ravel()
