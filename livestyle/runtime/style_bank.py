"""A bank of the user's own style images (a VJ's looks): their style states are computed once, and
each tick the music chooses and blends among them.

The choice follows MVNet's generated image for the tick: its colour moments (mean and spread of
CIELAB L, a, b) are compared with each bank image's, the distances are standardised across the bank
(so that even a weakly varying generator moves the choice from look to look), and a softmax with
`temperature` turns them into blend weights. Blending states is exact for the content graph, which
is affine in the state (see style_state.py); the ticker's smoothing then keeps the changes fluid.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from livestyle.errors import UserError
from livestyle.io.images import IMAGE_EXTENSIONS, read_image, resize_shorter
from livestyle.runtime.stnet_runner import STNetRunner
from livestyle.runtime.style_state import StyleState

MAX_IMAGES = 64


def square_crop(image: np.ndarray, side: int) -> np.ndarray:
    h, w = image.shape[:2]
    y, x = (h - side) // 2, (w - side) // 2
    return np.ascontiguousarray(image[y:y + side, x:x + side])


def colour_moments(rgb01: np.ndarray) -> np.ndarray:
    """Mean and standard deviation of CIELAB L, a, b of an RGB image (H, W, 3) in [0, 1]."""
    lab = cv2.cvtColor(np.ascontiguousarray(rgb01, np.float32), cv2.COLOR_RGB2LAB).reshape(-1, 3)
    return np.concatenate([lab.mean(0), lab.std(0)])


class StyleBank:
    def __init__(self, names: list[str], states: list[StyleState], moments: np.ndarray, temperature: float = 0.5):
        if not states:
            raise ValueError("a style bank needs at least one image")
        if temperature <= 0:
            raise UserError(f"style bank temperature must be positive, got {temperature}")
        self.names, self.states, self.moments = names, states, moments
        self.temperature = temperature

    @staticmethod
    def image_files(folder: Path) -> list[Path]:
        """The bank's images, checked (commands call this before loading any model)."""
        folder = Path(folder)
        if not folder.is_dir():
            raise UserError(f"{folder}: --styles needs a folder of images")
        files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)
        if not files:
            raise UserError(f"{folder}: no images ({', '.join(IMAGE_EXTENSIONS)}) in the --styles folder")
        if len(files) > MAX_IMAGES:
            raise UserError(f"{folder}: {len(files)} images; a style bank takes at most {MAX_IMAGES}")
        return files

    @classmethod
    def from_folder(cls, folder: Path, stnet: STNetRunner, style_size: int, temperature: float = 0.5) -> "StyleBank":
        """Every image as a centre crop of `style_size` squared: the shape the style graph is
        built for (TensorRT's fixed profile), so no engine is rebuilt per image."""
        names, states, moments = [], [], []
        for path in cls.image_files(folder):
            image = square_crop(resize_shorter(read_image(path), style_size), style_size)  # unreadable: UserError
            names.append(path.name)
            states.append(stnet.style_state(image))
            moments.append(colour_moments(image.astype(np.float32) / 255.0))
        return cls(names, states, np.stack(moments), temperature)

    def weights(self, style_image: np.ndarray) -> np.ndarray:
        """Blend weights for MVNet's image (1,3,64,64) in [-1,1]: softmax of the standardised
        negative distances of colour moments, over the bank."""
        rgb = np.clip(style_image[0].transpose(1, 2, 0) * 0.5 + 0.5, 0.0, 1.0)
        distance = np.linalg.norm(self.moments - colour_moments(rgb), axis=1)
        if len(distance) == 1:
            return np.ones(1)
        z = (distance - distance.mean()) / (distance.std() + 1e-9)
        logits = -z / self.temperature
        w = np.exp(logits - logits.max())
        return w / w.sum()

    def state(self, style_image: np.ndarray) -> StyleState:
        return StyleState.blend(self.states, self.weights(style_image))
