"""A bank of style images (a VJ's own looks, or the paintings shipped in the package): their style
states are computed once, and each tick the music chooses and blends among them.

The choice follows the music itself where the MVNet graph exposes its encoder's embedding (graphs
with a music map, runtime/music_map.py): the whitened embedding, averaged over the last few seconds
by the ticker, is projected onto one direction per bank image, and a softmax with `temperature`
turns the projections into blend weights. The directions are random but fixed (drawn from the
bank's size), so which look a kind of music gets is arbitrary, while what matters on stage holds:
the same music gets the same look, similar music similar looks, and different pieces different
looks, because the embedding tells pieces apart even where the starter generator's images do not.
The seed turns every direction by SEED_TURN radians towards a direction drawn from the seed, so the
N/P keys give a related variation of the mapping rather than a new one: the music still matters
more than the seed.

Older graphs without the embedding steer by MVNet's generated image instead: its colour moments
(mean and spread of CIELAB L, a, b) are compared with each bank image's, the distances standardised
across the bank, and the softmax applied the same way.

Blending states is exact for the content graph, which is affine in the state (see style_state.py);
the ticker's smoothing then keeps the changes fluid.

The reactive mapping's brightness and contrast (a quiet passage looks darker and flatter) apply to
a bank as to MVNet's image, without running the style branch per tick: each image's state is also
computed for the mapping's extreme looks (a 3x3 grid of brightness {quiet, 0, loud} by contrast
{quiet, 0, loud}), and a tick's look is interpolated bilinearly on that grid. At the grid's points
this is the state of the adjusted image; between them, an interpolation of states, which the
smoothing makes indistinguishable from the exact one on screen.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from livestyle.errors import UserError
from livestyle.image_adjust import adjust
from livestyle.io.images import IMAGE_EXTENSIONS, read_image, resize_shorter
from livestyle.runtime.stnet_runner import STNetRunner
from livestyle.runtime.style_state import StyleState

MAX_IMAGES = 64
BUILTIN = Path(__file__).resolve().parents[1] / "styles"   # the paintings shipped in the package
STYLES_CHOICES = "a folder of images, 'builtin' (the paintings shipped with livestyle) or 'mvnet' " \
                 "(MVNet's generated image itself)"
THUMBNAIL = 64           # side of the thumbnails a bank keeps (MVNet's image size: contact sheets, checks)
SEED_TURN = 0.3          # radians each projection direction turns towards the seed's own
MAP_SEED = 0x5EED_BA4C   # the fixed directions' generator, with the bank's size and the embedding's


def square_crop(image: np.ndarray, side: int) -> np.ndarray:
    h, w = image.shape[:2]
    y, x = (h - side) // 2, (w - side) // 2
    return np.ascontiguousarray(image[y:y + side, x:x + side])


def colour_moments(rgb01: np.ndarray) -> np.ndarray:
    """Mean and standard deviation of CIELAB L, a, b of an RGB image (H, W, 3) in [0, 1]."""
    lab = cv2.cvtColor(np.ascontiguousarray(rgb01, np.float32), cv2.COLOR_RGB2LAB).reshape(-1, 3)
    return np.concatenate([lab.mean(0), lab.std(0)])


def styles_folder(value, where: str) -> Path | None:
    """The `styles` setting (--styles or the config's) -> the bank's folder, or None where MVNet's
    own image is the style. Only the kind of value is checked here; the folder's images are checked
    by StyleBank.image_files before any model loads."""
    if isinstance(value, Path):
        return value
    if not isinstance(value, str) or not value.strip():
        raise UserError(f"{where}: styles must be {STYLES_CHOICES}, not {value!r}")
    if value == "builtin":
        return BUILTIN
    if value == "mvnet":
        return None
    return Path(value).expanduser()


NEUTRAL_GRID = ((0.0,), (0.0,))


def look_grid(reactive) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """The brightness and contrast values (PIL percent) a bank precomputes its states at, for a
    ReactiveConfig: each axis {quiet, 0, loud}, sorted; just 0 where the mapping is off."""
    if reactive is None or not reactive.enabled:
        return NEUTRAL_GRID
    return (tuple(sorted({float(reactive.brightness_quiet), 0.0, float(reactive.brightness_loud)})),
            tuple(sorted({float(reactive.contrast_quiet), 0.0, float(reactive.contrast_loud)})))


def interpolation_weights(grid: tuple[float, ...], value: float) -> list[tuple[int, float]]:
    """(index, weight) pairs of linear interpolation of `value` on the sorted `grid`, clamped to
    its ends."""
    if len(grid) == 1 or value <= grid[0]:
        return [(0, 1.0)]
    if value >= grid[-1]:
        return [(len(grid) - 1, 1.0)]
    j = int(np.searchsorted(grid, value, side="right")) - 1
    u = (value - grid[j]) / (grid[j + 1] - grid[j])
    return [(j, 1.0 - u), (j + 1, u)]


class StyleBank:
    def __init__(self, names: list[str], states: list[StyleState], moments: np.ndarray, temperature: float = 0.5,
                 thumbnails: list[np.ndarray] | None = None, grid=NEUTRAL_GRID,
                 grid_states: list[list[list[StyleState]]] | None = None):
        """`states`: each image's own state; with a look grid (look_grid), `grid_states[i][b][k]`
        is image i's state with brightness grid[0][b] and contrast grid[1][k] applied."""
        if not states:
            raise ValueError("a style bank needs at least one image")
        if temperature <= 0:
            raise UserError(f"style bank temperature must be positive, got {temperature}")
        self.names, self.states, self.moments = names, states, moments
        self.temperature = temperature
        self.thumbnails = thumbnails or []   # (THUMBNAIL, THUMBNAIL, 3) uint8 per image, where kept
        self.grid = grid
        self.grid_states = grid_states if grid_states is not None else [[[s]] for s in states]
        # the grid stacked (images, brightness, contrast, ...): a blend is two tensordots
        self._means = np.array([[[g.mean for g in row] for row in looks] for looks in self.grid_states], np.float64)
        self._matrices = np.array([[[g.matrix for g in row] for row in looks] for looks in self.grid_states], np.float64)
        self.seed_turn = SEED_TURN
        self._directions: dict[tuple[int, int, float], np.ndarray] = {}

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
    def from_folder(cls, folder: Path, stnet: STNetRunner, style_size: int, temperature: float = 0.5,
                    grid=NEUTRAL_GRID) -> "StyleBank":
        """Every image as a centre crop of `style_size` squared: the shape the style graph is
        built for (TensorRT's fixed profile), so no engine is rebuilt per image; its state at
        every look of `grid` (look_grid of the reactive mapping) is computed here, once."""
        names, moments, thumbnails, grid_states = [], [], [], []
        for path in cls.image_files(folder):
            full = read_image(path)  # unreadable: UserError
            image = square_crop(resize_shorter(full, style_size), style_size)
            names.append(path.name)
            grid_states.append([[stnet.style_state(adjust(image, b, k)) for k in grid[1]] for b in grid[0]])
            moments.append(colour_moments(image.astype(np.float32) / 255.0))
            thumbnails.append(square_crop(resize_shorter(full, THUMBNAIL * 3 // 2), THUMBNAIL))
        b0, k0 = grid[0].index(0.0), grid[1].index(0.0)   # the neutral look: each image as it is
        states = [looks[b0][k0] for looks in grid_states]
        return cls(names, states, np.stack(moments), temperature, thumbnails, grid, grid_states)

    def blend(self, weights: np.ndarray, look=None) -> StyleState:
        """The bank's states blended with `weights` (one per image) at `look`'s brightness and
        contrast (a reactive Look; None: neutral), interpolated on the precomputed grid."""
        w = np.asarray(weights, np.float64)
        if w.shape != (len(self.states),) or w.sum() <= 0 or (w < 0).any():
            raise ValueError(f"a blend of {len(self.states)} images needs as many non-negative weights, not all zero")
        on_grid = np.zeros(self._means.shape[:3])
        for bi, bw in interpolation_weights(self.grid[0], 0.0 if look is None else look.brightness):
            for ki, kw in interpolation_weights(self.grid[1], 0.0 if look is None else look.contrast):
                on_grid[:, bi, ki] = w * (bw * kw / w.sum())
        return StyleState(np.tensordot(on_grid, self._means, 3).astype(np.float32),
                          np.tensordot(on_grid, self._matrices, 3).astype(np.float32))

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

    def directions(self, seed: int, dims: int) -> np.ndarray:
        """(bank size, dims) unit-variance projection of the whitened music for `seed`: the fixed
        directions turned by `seed_turn` radians towards the seed's own (cached per seed)."""
        key = (seed, dims, self.seed_turn)
        if key not in self._directions:
            n = len(self.states)
            fixed = np.random.default_rng([MAP_SEED, n, dims]).standard_normal((n, dims))
            # the 1 keeps seed 0's stream apart from the fixed one (SeedSequence ignores trailing zeros)
            own = np.random.default_rng([MAP_SEED, n, dims, 1, seed]).standard_normal((n, dims))
            if len(self._directions) > 64:
                self._directions.clear()
            turn = self.seed_turn
            self._directions[key] = (np.cos(turn) * fixed + np.sin(turn) * own) / np.sqrt(dims)
        return self._directions[key]

    def music_weights(self, music: np.ndarray, seed: int) -> np.ndarray:
        """Blend weights for whitened music coordinates (K,): softmax over the bank of their
        projections, divided by the temperature."""
        if len(self.states) == 1:
            return np.ones(1)
        logits = self.directions(seed, len(music)) @ np.asarray(music, np.float64) / self.temperature
        w = np.exp(logits - logits.max())
        return w / w.sum()
