"""`livestyle stylize CONTENT STYLE -o OUT`: one image, one style, no torch."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from livestyle.config import load_config
from livestyle.io.images import check_image_suffix, fit_height, read_image, resize_shorter, resize_to, write_image
from livestyle.io.paths import check_output
from livestyle.runtime.sessions import Engine, RuntimeConfig, frame_size_limits
from livestyle.runtime.manifest import models_dir
from livestyle.runtime.stnet_runner import STNetRunner, check_frame_size

log = logging.getLogger(__name__)


def stylize_file(content: Path, style: Path, output: Path, size: tuple[int, int] | None = None,
                 height: int | None = None, style_size: int = 256, models: Path | None = None,
                 providers: tuple[str, ...] | None = None, config_path: Path | None = None,
                 model: str | None = None) -> Path:
    """Restyle `content` with `style`; output has the content's size unless `size`/`height`;
    `model`: auto, lite or r31 (default: the config's runtime.model)."""
    cfg = load_config(RuntimeConfig, config_path, section="runtime")
    if model is not None:
        cfg.model = model
    # read inputs and check the output before loading any model: fail fast on user mistakes
    content_image = read_image(content)
    style_image = read_image(style)
    check_output(output, (content, style))
    check_image_suffix(output)
    if size is not None:
        content_image = resize_to(content_image, *size)
    elif height is not None:
        content_image = fit_height(content_image, height)
    limits = frame_size_limits(cfg)
    check_frame_size(content_image.shape[1], content_image.shape[0], limits, f"{content}: output")
    check_frame_size(style_size, style_size, limits, "--style-size")
    runner = STNetRunner(Engine(cfg, providers), models_dir(models))
    state = runner.style_state(resize_shorter(style_image, style_size))
    result = runner.stylize(content_image, state)
    write_image(output, result)
    log.info("wrote %s (%dx%d, %s)", output, result.shape[1], result.shape[0], runner.provider)
    return Path(output)


def run(args: argparse.Namespace) -> None:
    """`livestyle stylize`: options -> job -> result on the terminal."""
    stylize_file(args.content, args.style, args.output, size=args.size, height=args.height,
                 style_size=args.style_size, models=args.models, providers=args.providers,
                 config_path=args.config, model=args.model)
