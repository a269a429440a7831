"""Training data: folders of images for STNet (any layout, recursive); year-labelled CSVs of audio
and images for MVNet."""

from __future__ import annotations

import csv
import logging
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from livestyle.errors import UserError
from livestyle.io.images import IMAGE_EXTENSIONS, read_image, resize_shorter

log = logging.getLogger(__name__)


def list_images(folder: str | Path) -> list[Path]:
    """All files with an image extension under `folder`, sorted (reproducible order)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise UserError(f"{folder}: image folder not found")
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)
    if not files:
        raise UserError(f"{folder}: no images ({', '.join(IMAGE_EXTENSIONS)}) found")
    return files


def to_tensor(image: np.ndarray) -> torch.Tensor:
    """RGB uint8 (H,W,3) -> float (3,H,W) in [0,1]."""
    return torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).float() / 255.0


def to_image(tensor: torch.Tensor) -> np.ndarray:
    """float (3,H,W) in [0,1] -> RGB uint8 (H,W,3)."""
    return (tensor.detach().clamp(0, 1).permute(1, 2, 0).cpu().numpy() * 255.0).round().astype(np.uint8)


@dataclass(frozen=True)
class ColourJitter:
    """Style augmentation so that palettes cover the colour wheel: with probability `hue_p` the hue
    turns by a uniform angle; saturation and value are scaled by uniform factors in the ranges."""
    hue_p: float = 0.0
    saturation: tuple[float, float] = (1.0, 1.0)
    value: tuple[float, float] = (1.0, 1.0)

    @property
    def active(self) -> bool:
        return self.hue_p > 0 or self.saturation != (1.0, 1.0) or self.value != (1.0, 1.0)

    def __call__(self, image: np.ndarray, rng: random.Random) -> np.ndarray:
        import cv2

        hsv = cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2HSV_FULL).astype(np.float32)
        if rng.random() < self.hue_p:
            hsv[..., 0] = (hsv[..., 0] + rng.uniform(0, 256)) % 256
        hsv[..., 1] *= rng.uniform(*self.saturation)
        hsv[..., 2] *= rng.uniform(*self.value)
        hsv = np.clip(hsv, 0, 255).astype(np.uint8)
        return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB_FULL)


class ImageFolder:
    """Random crops of the images in a folder.

    Each sample: resize the shorter side to a random size in [crop, crop * max_zoom] (so crops see
    the image at several scales), random crop `crop` x `crop`, random horizontal flip (and vertical
    with `vflip`), optional colour jitter. Decoded images are cached at that largest size: the
    starter sets are small, and re-decoding would cost more than a training step's data time.
    Unreadable files are skipped with one warning each. `refuse`: file stems that must not be in
    the folder (the frozen held-out set).
    """

    def __init__(self, folder: str | Path, crop: int, max_zoom: float = 1.5, seed: int = 0,
                 jitter: ColourJitter | None = None, vflip: bool = False, refuse: set[str] | None = None):
        self.files = list_images(folder)
        self.folder = Path(folder)
        if refuse:
            from livestyle.train.stnet_data import check_not_heldout

            check_not_heldout(self.files, refuse, self.folder)
        self.crop = crop
        self.max_side = int(crop * max_zoom)
        self.jitter = jitter
        self.vflip = vflip
        self.rng = random.Random(seed)
        self.cache: dict[Path, np.ndarray] = {}
        self.bad: set[Path] = set()

    def __len__(self) -> int:
        return len(self.files)

    def _load(self, path: Path) -> np.ndarray | None:
        if path in self.cache:
            return self.cache[path]
        try:
            image = resize_shorter(read_image(path), self.max_side)
        except UserError as exc:
            log.warning("skipping unreadable training image: %s", exc)
            self.bad.add(path)
            return None
        self.cache[path] = image
        return image

    def sample(self) -> torch.Tensor:
        for _ in range(100):
            path = self.rng.choice(self.files)
            if path in self.bad:
                continue
            image = self._load(path)
            if image is not None:
                return self._augment(image)
        raise UserError(f"{self.folder}: no readable images")

    def _augment(self, image: np.ndarray) -> torch.Tensor:
        side = self.rng.randint(self.crop, self.max_side)
        image = resize_shorter(image, side)
        h, w = image.shape[:2]
        y, x = self.rng.randint(0, h - self.crop), self.rng.randint(0, w - self.crop)
        image = image[y:y + self.crop, x:x + self.crop]
        if self.rng.random() < 0.5:
            image = image[:, ::-1]
        if self.vflip and self.rng.random() < 0.5:
            image = image[::-1]
        if self.jitter is not None and self.jitter.active:
            image = self.jitter(image, self.rng)
        return to_tensor(image)

    def batch(self, size: int) -> torch.Tensor:
        return torch.stack([self.sample() for _ in range(size)])

    def fixed(self, size: int) -> torch.Tensor:
        """Deterministic centre crops of the first images (for sample grids and evaluation)."""
        images = []
        for path in self.files:
            image = self._load(path)
            if image is None:
                continue
            image = resize_shorter(image, self.crop)
            h, w = image.shape[:2]
            y, x = (h - self.crop) // 2, (w - self.crop) // 2
            images.append(to_tensor(image[y:y + self.crop, x:x + self.crop]))
            if len(images) == size:
                break
        return torch.stack(images)


# ------------------------------------------------------------------------------ era-labelled data

@dataclass(frozen=True)
class EraBins:
    """Era label = (year - base) // bin_years; the paper: base 1480, 10-year bins, 54 classes."""
    base: int = 1480
    bin_years: int = 10
    count: int = 54

    def label(self, year: int) -> int | None:
        """The era index, or None when the year falls outside the configured range."""
        era = (year - self.base) // self.bin_years
        return era if 0 <= era < self.count else None

    def name(self, era: int) -> str:
        start = self.base + era * self.bin_years
        return f"{start}-{start + self.bin_years - 1}"


@dataclass(frozen=True)
class Item:
    path: Path
    year: int
    title: str


def read_year_csv(csv_path: str | Path) -> list[Item]:
    """A CSV with columns path, year[, title]; paths are relative to the CSV's folder.

    Any user can fill this format: one row per audio file (or image) with the year it was made."""
    csv_path = Path(csv_path)
    if not csv_path.is_file():
        raise UserError(f"{csv_path}: CSV file not found")
    with open(csv_path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        columns = [c.strip() for c in (reader.fieldnames or [])]
        missing = [c for c in ("path", "year") if c not in columns]
        if missing:
            raise UserError(f"{csv_path}: missing column(s) {', '.join(missing)} "
                            f"(found: {', '.join(columns) or 'none'}; expected path, year[, title])")
        items = []
        for line, row in enumerate(reader, start=2):
            row = {k.strip(): (v or "").strip() for k, v in row.items() if k}
            try:
                year = int(float(row["year"]))
            except ValueError:
                raise UserError(f"{csv_path}:{line}: year {row['year']!r} is not a number") from None
            if not row["path"]:
                raise UserError(f"{csv_path}:{line}: empty path")
            path = Path(row["path"])
            items.append(Item(path if path.is_absolute() else csv_path.parent / path, year,
                              row.get("title") or path.stem))
    if not items:
        raise UserError(f"{csv_path}: no rows")
    return items
