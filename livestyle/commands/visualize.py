"""`livestyle visualize AUDIO -o DIR`: one MVNet style image per window of a piece, plus a contact
sheet. Windows are centred on t = 0, hop, 2 hop, ... up to the end (as `render` does per frame),
with silence where a window leaves the recording. No torch."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from livestyle.io.decode import load_audio, require_audio
from livestyle.audio.features import IncrementalMel, clip_start_for
from livestyle.config import load_config
from livestyle.errors import UserError
from livestyle.io.images import write_image
from livestyle.io.paths import check_output
from livestyle.runtime.sessions import Engine, RuntimeConfig
from livestyle.runtime.manifest import models_dir
from livestyle.runtime.mvnet_runner import MVNetRunner, seeded_z

log = logging.getLogger(__name__)

MIN_HOP = 0.01        # seconds between windows: below this, neighbouring images are alike
MAX_IMAGES = 10_000   # per run: more is a mistaken --hop, not a visualisation


def contact_sheet(images: list[np.ndarray], labels: list[str], columns: int = 8, scale: int = 2) -> np.ndarray:
    size = images[0].shape[0] * scale
    rows = (len(images) + columns - 1) // columns
    sheet = np.full((rows * (size + 18), columns * size, 3), 255, np.uint8)
    for i, (image, label) in enumerate(zip(images, labels)):
        r, c = divmod(i, columns)
        y, x = r * (size + 18), c * size
        sheet[y:y + size, x:x + size] = cv2.resize(image, (size, size), interpolation=cv2.INTER_NEAREST)
        cv2.putText(sheet, label, (x + 2, y + size + 13), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
    return sheet


def check_image_count(audio_path: Path, duration: float, hop: float) -> np.ndarray:
    """The image times for `duration` seconds every `hop`, refused above MAX_IMAGES."""
    times = np.arange(0.0, duration + 1e-9, hop)
    if len(times) > MAX_IMAGES:
        raise UserError(f"{audio_path}: --hop {hop:g} over {duration:.1f} s would make {len(times)} images, "
                        f"more than {MAX_IMAGES}; use a larger --hop")
    return times


def visualize_file(audio_path: Path, out_dir: Path, seed: int = 0, hop: float = 1.0,
                   models: Path | None = None, providers: tuple[str, ...] | None = None,
                   config_path: Path | None = None, progress: bool = True) -> list[Path]:
    if not hop >= MIN_HOP:  # also refuses NaN
        raise UserError(f"--hop must be at least {MIN_HOP} s, got {hop:g}")
    check_output(out_dir, (audio_path,), directory=True)
    declared = require_audio(audio_path)  # before any model loads: unreadable input, too many images
    if declared is not None:
        check_image_count(audio_path, declared, hop)
    cfg = load_config(RuntimeConfig, config_path, section="runtime")
    runner = MVNetRunner(Engine(cfg, providers), models_dir(models))
    mel_cfg = runner.mel_config
    audio = load_audio(audio_path, mel_cfg.sample_rate)
    if len(audio) == 0:
        raise UserError(f"{audio_path}: the audio stream holds no samples")
    duration = len(audio) / mel_cfg.sample_rate
    times = check_image_count(audio_path, duration, hop)  # again: the declared duration can be wrong
    out_dir.mkdir(parents=True, exist_ok=True)
    z = seeded_z(seed, 1, runner.z_dim)
    mel = IncrementalMel(mel_cfg)
    images, labels, written = [], [], []
    for i, t in enumerate(tqdm(times, desc=f"visualize {audio_path.name}", disable=not progress)):
        image = runner.style_image(mel.window(audio, clip_start_for(t, mel_cfg)), z)
        path = out_dir / f"style_{i:05d}_{t:.3f}s.png"  # the index keeps names unique and in order
        write_image(path, image)
        images.append(image)
        labels.append(f"{t:.1f}s")
        written.append(path)
    sheet = out_dir / "contact_sheet.png"
    write_image(sheet, contact_sheet(images, labels))
    log.info("wrote %d style images and %s (seed %d, %s)", len(written), sheet, seed, runner.provider)
    return written


def run(args: argparse.Namespace) -> None:
    """`livestyle visualize`: options -> job -> result on the terminal."""
    visualize_file(args.audio, args.output, seed=args.seed, hop=args.hop, models=args.models,
                   providers=args.providers, config_path=args.config, progress=not args.quiet)
