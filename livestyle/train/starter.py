"""Starter training sets built from real material that ships with the repo or inside wheels.

STNet: content = real photos bundled in scikit-image and scikit-learn plus frames of the bundled
clip; style = the dated paintings in data/paintings. A few of each are held out for evaluation.
"""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import numpy as np

from livestyle.io.images import write_image
from livestyle.io.video import sample_frames

REPO = Path(__file__).resolve().parents[2]
PAINTINGS = REPO / "data" / "paintings"
CLIP = REPO / "data" / "video" / "big_buck_bunny_cut_10s.mp4"

# scikit-image photos that ship inside its wheel (others download on demand and fail offline).
SKIMAGE_PHOTOS = ("astronaut", "camera", "coffee", "chelsea", "rocket", "cat", "hubble_deep_field",
                  "immunohistochemistry", "retina", "moon", "brick", "grass", "gravel")
HELDOUT_PHOTOS = ("coffee", "flower")
HELDOUT_PAINTINGS = ("1831_hokusai_the_great_wave_off_kanagawa.jpg", "1893_munch_the_scream.jpg",
                     "1905_matisse_woman_with_a_hat.jpg", "1565_elder_the_harvesters.jpg")
CLIP_FRAMES = 24
HELDOUT_CLIP_FRAMES = (5, 17)  # indices into the sampled frames


def _photos() -> dict[str, np.ndarray]:
    import skimage.data
    from sklearn.datasets import load_sample_images

    photos = {name: np.asarray(getattr(skimage.data, name)()) for name in SKIMAGE_PHOTOS}
    samples = load_sample_images()
    for filename, image in zip(samples.filenames, samples.images):
        photos[Path(filename).stem] = image
    for name, image in photos.items():
        if image.ndim == 2:
            photos[name] = np.repeat(image[:, :, None], 3, axis=2)
    return photos


def build_stnet_starter(out: Path) -> dict[str, int]:
    """Write content/, content_heldout/, style/, style_heldout/ under `out`; returns file counts."""
    dirs = {k: out / k for k in ("content", "content_heldout", "style", "style_heldout")}
    for d in dirs.values():
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir(parents=True)
    for name, image in _photos().items():
        target = "content_heldout" if name in HELDOUT_PHOTOS else "content"
        write_image(dirs[target] / f"photo_{name}.png", image)
    for i, frame in enumerate(sample_frames(CLIP, CLIP_FRAMES)):
        target = "content_heldout" if i in HELDOUT_CLIP_FRAMES else "content"
        write_image(dirs[target] / f"bbb_frame_{i:02d}.png", frame)
    with open(PAINTINGS / "paintings.csv", newline="") as f:
        for row in csv.DictReader(f):
            target = "style_heldout" if row["file"] in HELDOUT_PAINTINGS else "style"
            shutil.copy(PAINTINGS / row["file"], dirs[target] / row["file"])
    (out / "SOURCES.md").write_text(
        "Built by `livestyle data stnet-starter`. Photos: scikit-image `skimage.data` and scikit-learn "
        "`load_sample_images()` (see their licences); frames: Big Buck Bunny (c) Blender Foundation, "
        "CC-BY 3.0; paintings: data/paintings/paintings.csv.\n")
    return {k: len(list(d.iterdir())) for k, d in dirs.items()}
