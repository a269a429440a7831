"""The STNet training set, rebuilt by one command from package sources: `livestyle data stnet-starter DIR`.

Style images must cover the colour wheel and several texture scales, or the transform learns one
palette (the first starter set, 23 mostly brown paintings, did exactly that). Sources, all real
material with its licence recorded in DIR/SOURCES.md:

  paintings   data/paintings (public-domain artworks, see paintings.csv)
  wallpapers  Debian's mate-backgrounds, plasma-workspace-wallpapers and gnome-backgrounds
              (abstract art, photos, gradients; GPL/LGPL/CC-BY-SA as packaged)
  textures    Debian's krita-data patterns and paper textures (GPL-3+ as packaged)
  photos      the photos inside the scikit-image and scikit-learn wheels, as styles too

Content images: those photos, frames of the bundled clip and the nature photos of mate-backgrounds.
Debian packages are fetched with `apt-get download` into DIR/.debs and unpacked with `dpkg-deb -x`
(no root, nothing installed); their exact versions go into SOURCES.md.

The frozen held-out set (bench/stnet_heldout.json) is written to content_heldout/ and
style_heldout/ and never to the training folders; the trainer refuses any training file whose name
is listed there (`check_not_heldout`). Every file is named `<source>__<name>.<ext>` so that the
name identifies the material whatever folder it ends up in.
"""

from __future__ import annotations

import csv
import json
import logging
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from livestyle.errors import UserError
from livestyle.io.images import read_image, resize_shorter, write_image

REPO = Path(__file__).resolve().parents[2]
PAINTINGS = REPO / "data" / "paintings"
CLIP = REPO / "data" / "video" / "big_buck_bunny_cut_10s.mp4"
HELDOUT_LIST = REPO / "bench" / "stnet_heldout.json"
MAX_SIDE = 512          # shorter side of the stored images: training crops are 128-256 px
MIN_GREY_STD = 3.0      # flatter images (a transparent PNG read without alpha, a plain colour) teach nothing
CLIP_FRAMES = 24
log = logging.getLogger(__name__)

# scikit-image photos that ship inside its wheel (others download on demand and fail offline).
SKIMAGE_PHOTOS = ("astronaut", "camera", "coffee", "chelsea", "rocket", "cat", "hubble_deep_field",
                  "immunohistochemistry", "retina", "moon", "brick", "grass", "gravel")


@dataclass(frozen=True)
class DebSource:
    """Images from one Debian package: a regex over the unpacked paths, one image kept per group
    (the regex's groups joined; the largest file wins, since wallpapers ship several resolutions)."""
    package: str
    pattern: str
    prefix: str
    licence: str
    role: str = "style"   # "style", or "content" (photos, which also serve as styles)


DEB_SOURCES = (
    DebSource("mate-backgrounds", r"usr/share/backgrounds/mate/(?:desktop|abstract)/([A-Za-z-]+?)(?:_\d+x\d+)?\.(?:png|jpg)$",
              "mate", "GPL-2+ / CC-BY-SA (see the package's copyright file)"),
    DebSource("mate-backgrounds", r"usr/share/backgrounds/mate/nature/(\w+)\.jpg$", "mate-nature",
              "GPL-2+ / CC-BY-SA (see the package's copyright file)", role="content"),
    DebSource("plasma-workspace-wallpapers", r"usr/share/wallpapers/(\w+)/contents/(images(?:_dark)?)/\d+x\d+\.(?:png|jpg)$",
              "plasma", "LGPL-3 / CC-BY-SA-4.0 (see the package's copyright file)"),
    DebSource("gnome-backgrounds", r"usr/share/backgrounds/gnome/([\w-]+)\.(?:webp|jpg|png)$", "gnome",
              "CC-BY-SA-3.0 (see the package's copyright file)"),
    DebSource("krita-data", r"usr/share/krita/patterns/([\w-]+)\.png$", "krita",
              "GPL-3+ (see the package's copyright file)"),
)


def load_heldout(path: Path = HELDOUT_LIST) -> dict:
    """The frozen held-out list: {"styles": [stem, ...], "contents": [stem, ...], "pairs": [[c, s], ...]}."""
    if not path.is_file():
        raise UserError(f"{path}: held-out list not found")
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise UserError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(data, dict) or not all(isinstance(data.get(k), list) for k in ("styles", "contents", "pairs")):
        raise UserError(f"{path}: expected lists 'styles', 'contents' and 'pairs'")
    return data


def heldout_names(path: Path = HELDOUT_LIST) -> set[str]:
    data = load_heldout(path)
    return set(data["styles"]) | set(data["contents"])


def check_not_heldout(files: Iterable[Path], heldout: set[str], folder: Path | str) -> None:
    """Refuse a training folder that holds a held-out image: by its stem (`<source>__<name>`, as
    built) or by the bare name (the same material copied under its original file name)."""
    bare = {name.split("__", 1)[-1] for name in heldout}
    clash = sorted(p.name for p in files if p.stem in heldout or p.stem.split("__", 1)[-1] in bare)
    if clash:
        raise UserError(f"{folder}: holds {len(clash)} image(s) of the frozen held-out set "
                        f"({', '.join(clash[:5])}{', ...' if len(clash) > 5 else ''}); training on "
                        f"them would make every held-out figure meaningless (heldout_list: \"\" turns "
                        f"the check off for unrelated data sets)")


def is_flat(image: np.ndarray) -> bool:
    return float(image.mean(axis=2).std()) < MIN_GREY_STD


# ---------------------------------------------------------------------------------- sources

def fetch_debs(packages: Iterable[str], cache: Path) -> dict[str, tuple[str, Path]]:
    """`apt-get download` each package into `cache` (once) and unpack it; {package: (version, root)}."""
    if shutil.which("apt-get") is None or shutil.which("dpkg-deb") is None:
        raise UserError("the STNet set needs Debian packages: apt-get and dpkg-deb were not found "
                        "(build it on Debian/Ubuntu, or point configs/train_stnet.yaml at your own folders)")
    cache.mkdir(parents=True, exist_ok=True)
    result = {}
    for package in sorted(set(packages)):
        debs = sorted(cache.glob(f"{package}_*.deb"))
        if not debs:
            proc = subprocess.run(["apt-get", "download", package], cwd=cache, capture_output=True, text=True)
            debs = sorted(cache.glob(f"{package}_*.deb"))
            if proc.returncode != 0 or not debs:
                raise UserError(f"apt-get download {package} failed: {proc.stderr.strip()[-300:]} "
                                f"(run `apt-get update` first)")
        deb = debs[-1]
        version = subprocess.run(["dpkg-deb", "-f", str(deb), "Version"], capture_output=True,
                                 text=True, check=True).stdout.strip()
        root = cache / f"{package}.unpacked"
        if not root.is_dir():
            tmp = root.with_suffix(".tmp")
            shutil.rmtree(tmp, ignore_errors=True)
            subprocess.run(["dpkg-deb", "-x", str(deb), str(tmp)], check=True)
            tmp.rename(root)
        result[package] = (version, root)
    return result


def deb_images(source: DebSource, root: Path) -> Iterator[tuple[str, Path]]:
    """(name, path) per group of `source`, the largest file of each group."""
    regex = re.compile(source.pattern)
    best: dict[str, Path] = {}
    for path in sorted(root.rglob("*")):
        match = regex.search(path.relative_to(root).as_posix())
        if match is None or not path.is_file():
            continue
        key = "_".join(g for g in match.groups() if g)
        if key not in best or path.stat().st_size > best[key].stat().st_size:
            best[key] = path
    for key in sorted(best):
        yield f"{source.prefix}__{key}", best[key]


def wheel_photos() -> dict[str, np.ndarray]:
    import skimage.data
    from sklearn.datasets import load_sample_images

    photos = {f"skimage__{name}": np.asarray(getattr(skimage.data, name)()) for name in SKIMAGE_PHOTOS}
    samples = load_sample_images()
    for filename, image in zip(samples.filenames, samples.images):
        photos[f"sklearn__{Path(filename).stem}"] = image
    for name, image in photos.items():
        if image.ndim == 2:
            photos[name] = np.repeat(image[:, :, None], 3, axis=2)
    return photos


# ---------------------------------------------------------------------------------- builder

def _store(image: np.ndarray, folder: Path, name: str) -> None:
    if min(image.shape[:2]) > MAX_SIDE:
        image = resize_shorter(image, MAX_SIDE)
    write_image(folder / f"{name}.jpg", image)


def build_stnet_set(out: Path, heldout_list: Path = HELDOUT_LIST) -> dict[str, int]:
    """Write content/, content_heldout/, style/, style_heldout/ and SOURCES.md under `out`."""
    from livestyle.io.decode import sample_frames

    frozen = load_heldout(heldout_list)
    heldout = {"content": set(frozen["contents"]), "style": set(frozen["styles"])}
    anywhere = heldout["content"] | heldout["style"]
    debs = fetch_debs((s.package for s in DEB_SOURCES), out / ".debs")
    dirs = {k: out / k for k in ("content", "content_heldout", "style", "style_heldout")}
    for d in dirs.values():
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir(parents=True)
    written: set[str] = set()

    def put(image: np.ndarray, name: str, roles: tuple[str, ...]) -> None:
        """Held out in one role means trained on in none."""
        if is_flat(image):
            log.info("skipping %s: a flat image", name)
            return
        for role in roles:
            if name in heldout[role]:
                _store(image, dirs[f"{role}_heldout"], name)
            elif name not in anywhere:
                _store(image, dirs[role], name)
        written.add(name)

    for name, image in wheel_photos().items():
        put(image, name, ("content", "style"))
    for i, frame in enumerate(sample_frames(CLIP, CLIP_FRAMES)):
        put(frame, f"bbb__frame_{i:02d}", ("content",))
    with open(PAINTINGS / "paintings.csv", newline="") as f:
        for row in csv.DictReader(f):
            put(read_image(PAINTINGS / row["file"]), f"painting__{Path(row['file']).stem}", ("style",))
    for source in DEB_SOURCES:
        _, root = debs[source.package]
        roles = ("content", "style") if source.role == "content" else ("style",)
        for name, path in deb_images(source, root):
            try:
                image = read_image(path)
            except UserError as exc:
                log.warning("skipping %s", exc)
                continue
            put(image, name, roles)
    missing = sorted(anywhere - written)
    if missing:
        raise UserError(f"{heldout_list}: held-out images not found in the sources: {', '.join(missing)}")
    _write_sources(out, debs)
    return {k: len(list(d.iterdir())) for k, d in dirs.items()}


def _write_sources(out: Path, debs: dict[str, tuple[str, Path]]) -> None:
    lines = ["# STNet training set", "", "Built by `livestyle data stnet-starter`. File names are "
             "`<source>__<name>`; `_heldout` folders hold the frozen held-out set "
             "(bench/stnet_heldout.json).", "", "| source | what | licence |", "|---|---|---|",
             "| `skimage__*`, `sklearn__*` | photos inside the scikit-image and scikit-learn wheels | "
             "see each package's data licence (CC0 / public domain / CC-BY) |",
             "| `bbb__*` | frames of Big Buck Bunny | CC-BY 3.0, (c) Blender Foundation |",
             "| `painting__*` | data/paintings (paintings.csv) | public-domain artworks |"]
    for source in DEB_SOURCES:
        version = debs[source.package][0]
        lines.append(f"| `{source.prefix}__*` | Debian package {source.package} {version} | {source.licence} |")
    (out / "SOURCES.md").write_text("\n".join(lines) + "\n")
