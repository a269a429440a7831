"""Still images in and out (OpenCV), as RGB uint8 arrays of shape (H, W, 3)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from livestyle.errors import UserError
from livestyle.io.paths import write_atomically

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")


def read_image(path: str | Path) -> np.ndarray:
    """Read any common image format as RGB uint8; greyscale is expanded, alpha dropped."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"{path}: no such file")
    if path.is_dir():
        raise UserError(f"{path}: is a directory, expected an image file")
    data = np.fromfile(path, dtype=np.uint8)
    image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
    if image is None:
        raise UserError(f"{path}: not a readable image (tried {', '.join(IMAGE_EXTENSIONS)} decoders)")
    if image.dtype != np.uint8:  # 16-bit PNG/TIFF
        image = (image / (65535.0 if image.dtype == np.uint16 else image.max() or 1) * 255).round().astype(np.uint8)
    if image.ndim == 2:
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    elif image.shape[2] == 4:
        image = cv2.cvtColor(image, cv2.COLOR_BGRA2RGB)
    else:
        image = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    return image


def check_image_suffix(path: str | Path) -> str:
    """The image format `path` names (".png" without a suffix), or a UserError naming it: commands
    call this before any work, so a typo in -o costs nothing."""
    path = Path(path)
    suffix = path.suffix.lower() or ".png"
    if suffix not in IMAGE_EXTENSIONS:
        raise UserError(f"{path}: unsupported image extension {suffix!r} (use one of {', '.join(IMAGE_EXTENSIONS)})")
    return suffix


def write_image(path: str | Path, image: np.ndarray) -> None:
    """Write RGB uint8 atomically: a temporary file beside the target, renamed when complete."""
    path = Path(path)
    suffix = check_image_suffix(path)
    if not path.parent.exists():
        raise UserError(f"{path}: directory {path.parent} does not exist")
    ok, encoded = cv2.imencode(suffix, cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    if not ok:
        raise UserError(f"{path}: could not encode image as {suffix}")
    write_atomically(path, encoded.tofile)  # unique temporary: concurrent writers never share it


def resize_to(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """Area interpolation when shrinking (no aliasing), cubic when enlarging."""
    h, w = image.shape[:2]
    if (w, h) == (width, height):
        return image
    shrinking = width * height < w * h
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC)


def fit_height(image: np.ndarray, height: int) -> np.ndarray:
    """Resize to `height` keeping the aspect ratio (width rounded to an even number)."""
    h, w = image.shape[:2]
    width = max(2, int(round(w * height / h / 2)) * 2)
    return resize_to(image, width, height)


def resize_shorter(image: np.ndarray, side: int) -> np.ndarray:
    """Resize so the shorter side is `side` (aspect kept; neither side ends up below `side`)."""
    h, w = image.shape[:2]
    scale = side / min(h, w)
    size = (max(side, round(w * scale)), max(side, round(h * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)


def centre_tile(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """Centre crop to the aspect ratio of width x height, then resize to it (grids, contact sheets)."""
    h, w = image.shape[:2]
    if w / h > width / height:
        new_w = int(h * width / height)
        image = image[:, (w - new_w) // 2:(w - new_w) // 2 + new_w]
    else:
        new_h = int(w * height / width)
        image = image[(h - new_h) // 2:(h - new_h) // 2 + new_h]
    return fit_height(image, height)[:, :width]


def output_size(width: int, height: int, size: tuple[int, int] | None = None,
                out_height: int | None = None) -> tuple[int, int]:
    """--size WxH as given, else --height with the aspect kept (even width, for 4:2:0 video),
    else the source size."""
    if size is not None:
        return size
    if out_height is not None:
        return max(2, int(round(width * out_height / height / 2)) * 2), out_height
    return width, height
