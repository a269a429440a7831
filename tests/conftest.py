"""Shared fixtures. Tests use only material inside the repository (data/, exported/)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "data"
CLIP = DATA / "video" / "big_buck_bunny_cut_10s.mp4"
PAINTINGS = DATA / "paintings"


@pytest.fixture(scope="session")
def clip_frames() -> list[np.ndarray]:
    from livestyle.io.decode import sample_frames

    return sample_frames(CLIP, 4)


@pytest.fixture
def photo_dir(tmp_path: Path, clip_frames) -> Path:
    """A few real content images (clip frames) as PNG files."""
    from livestyle.io.images import write_image

    folder = tmp_path / "content"
    folder.mkdir()
    for i, frame in enumerate(clip_frames):
        write_image(folder / f"frame{i}.png", frame)
    return folder


@pytest.fixture
def painting_dir(tmp_path: Path) -> Path:
    """A few real paintings in a nested folder (the loaders recurse)."""
    import shutil

    folder = tmp_path / "style" / "nested"
    folder.mkdir(parents=True)
    for name in ("1889_van_gogh_the_starry_night.jpg", "1830_hokusai_kazusa_sea_route.jpg",
                 "1913_picabia_udnie.jpg"):
        shutil.copy(PAINTINGS / name, folder / name)
    return tmp_path / "style"
