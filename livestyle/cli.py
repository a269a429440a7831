"""`livestyle` command line. Heavy modules are imported inside each command, so `render`, `live`,
`bench` and `stylize` never import torch."""

from __future__ import annotations

import argparse
import json
import logging
import shlex
import sys
from pathlib import Path

from livestyle.errors import UserError

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CHECKPOINTS = {"stnet": "runs/stnet/stnet_r31.pt", "mvnet": "runs/mvnet/mvnet.pt"}


def _parse_size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WxH such as 640x360, got {text!r}") from None
    if w <= 0 or h <= 0:
        raise argparse.ArgumentTypeError(f"width and height must be positive, got {text!r}")
    return w, h


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _providers(text: str) -> tuple[str, ...]:
    return tuple(p.strip().lower() for p in text.split(",") if p.strip())


# ------------------------------------------------------------------------------------------ commands

def cmd_stylize(args: argparse.Namespace) -> None:
    from livestyle.runtime.stylize import stylize_file

    stylize_file(args.content, args.style, args.output, size=args.size, height=args.height,
                 style_size=args.style_size, models=args.models, providers=args.providers,
                 config_path=args.config)


def cmd_render(args: argparse.Namespace) -> None:
    from livestyle.render import RenderJob, load_render_config, render

    cfg, runtime = load_render_config(args.config)
    for name in ("fps", "seed", "smoothing", "crf"):
        value = getattr(args, name)
        if value is not None:
            setattr(cfg, name, value)
    job = RenderJob(args.input, args.output, cfg, runtime, providers=args.providers, audio=args.audio,
                    start=args.start, duration=args.duration, size=args.size, height=args.height,
                    codec=args.codec, models=args.models, progress=not args.quiet)
    stats = render(job)
    if not args.quiet:
        print(f"{stats.output}: {stats.frames} frames in {stats.seconds:.1f} s "
              f"({stats.frames / max(stats.seconds, 1e-9):.2f} fps on {stats.provider})")


def cmd_live(args: argparse.Namespace) -> None:
    from livestyle.live import LiveJob, list_devices, live, load_live_config

    if args.list_devices:
        print(list_devices())
        return
    cfg, runtime = load_live_config(args.config)
    for name in ("seed", "smoothing"):
        if getattr(args, name) is not None:
            setattr(cfg, name, getattr(args, name))
    window = not args.no_window and not (args.output or args.stream) or args.window
    job = LiveJob(camera=args.camera, clip=args.clip, loop=args.loop, mic=args.mic, audio=args.audio,
                  window=window, fullscreen=args.fullscreen, record=args.output, stream=args.stream,
                  stream_format=args.stream_format, size=args.size, height=args.height, duration=args.duration,
                  cfg=cfg, runtime=runtime, providers=args.providers, models=args.models, status=not args.quiet)
    stats = live(job)
    summary = stats.summary()
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2) + "\n")
    if not args.quiet:
        print(f"live: {stats.shown} frames shown in {stats.seconds:.1f} s; {stats.line()}")
        if args.output:
            print(f"recorded {args.output}")


def cmd_doctor(args: argparse.Namespace) -> None:
    from livestyle.doctor import report, run_doctor

    checks = run_doctor(models=args.models, providers=args.providers or ("tensorrt", "cuda", "cpu"),
                        camera=None if args.no_camera else args.camera)
    print(report(checks))
    if any(c.required and not c.ok for c in checks):
        raise UserError("a check that render needs failed (see the FAIL lines)")


def cmd_bench(args: argparse.Namespace) -> None:
    from livestyle.bench import BenchConfig, format_table, run_bench, write_json
    from livestyle.config import load_config
    from livestyle.runtime.engine import RuntimeConfig

    runtime = load_config(RuntimeConfig, args.config, section="runtime")
    if args.threads is not None:
        runtime.intra_op_threads = args.threads
    cfg = BenchConfig(providers=args.providers or runtime.providers, sizes=tuple(args.sizes), warmup=args.warmup,
                      repeats=args.repeats, clip=args.clip, clip_height=args.clip_height,
                      clip_seconds=args.clip_seconds, models=args.models)
    if args.clip is not None and not args.clip.is_file():
        raise UserError(f"{args.clip}: no such file")
    report = run_bench(cfg, runtime, log=(lambda _: None) if args.quiet else
                       (lambda m: print(m, file=sys.stderr, flush=True)))
    print(format_table(report), flush=True)
    if args.json:
        write_json(report, args.json)
        print(f"\nwrote {args.json}")


def _sizes(text: str) -> list[tuple[int, int]]:
    return [_parse_size(part) for part in text.split(",") if part.strip()]


def _fps(text: str) -> int | str:
    if text == "source":
        return text
    return _positive_int(text)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds, got {text!r}") from None
    if value < 0 or value != value:
        raise argparse.ArgumentTypeError(f"expected a non-negative number of seconds, got {text!r}")
    return value


def cmd_visualize(args: argparse.Namespace) -> None:
    from livestyle.runtime.visualize import visualize_file

    visualize_file(args.audio, args.output, seed=args.seed, hop=args.hop, models=args.models,
                   providers=args.providers, config_path=args.config, progress=not args.quiet)


def cmd_export(args: argparse.Namespace) -> None:
    from livestyle import export

    checkpoint = Path(args.checkpoint or DEFAULT_CHECKPOINTS[args.model])
    exporter = {"stnet": export.export_stnet, "mvnet": export.export_mvnet}[args.model]
    manifest = exporter(checkpoint, Path(args.out_dir), training_command=args.training_command)
    for name in manifest["models"][args.model]["graphs"]:
        entry = manifest["graphs"][name]
        print(f"{Path(args.out_dir) / name}: {entry['bytes'] / 1e6:.1f} MB, max |onnx - torch| = "
              f"{entry['max_abs_diff']:.2g}")


def cmd_train(args: argparse.Namespace) -> None:
    from livestyle.config import load_config

    if args.model == "stnet":
        from livestyle.train.stnet import STNetTrainConfig as Config, STNetTrainer as Trainer
    else:
        from livestyle.train.mvnet import MVNetTrainConfig as Config, MVNetTrainer as Trainer
    cfg = load_config(Config, args.config)
    if args.out_dir:
        cfg.out_dir = args.out_dir
    command = shlex.join(["livestyle", *sys.argv[1:]])
    path = Trainer(cfg, progress=not args.quiet, command=command).train()
    print(f"trained weights: {path}")


def cmd_data(args: argparse.Namespace) -> None:
    from livestyle.train import starter, stnet_data

    if args.kind == "stnet-starter":
        counts = stnet_data.build_stnet_set(Path(args.dir))
    else:
        counts = starter.build_mvnet_starter(Path(args.dir), pieces_per_composer=args.pieces)
    print(f"{args.dir}: " + ", ".join(f"{v} {k}" for k, v in counts.items()))


# ------------------------------------------------------------------------------------------ parser

def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="livestyle",
        description="Music restyles video: MVNet turns a window of audio into a style image, the "
                    "Linear style-transfer network (ONNX Runtime) paints every frame with it.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("stylize", help="restyle one image with one style image",
                       description="Restyle CONTENT with the style of STYLE using the exported STNet "
                                   "graphs. Needs no torch. Any image size works: the frame is padded "
                                   "to the network's stride and cropped back.")
    p.add_argument("content", type=Path, help="content image (jpg, png, ...)")
    p.add_argument("style", type=Path, help="style image, e.g. a painting")
    p.add_argument("-o", "--output", type=Path, required=True, help="output image path (.png, .jpg, ...)")
    size = p.add_mutually_exclusive_group()
    size.add_argument("--size", type=_parse_size, help="output size WxH (default: the content's size)")
    size.add_argument("--height", type=_positive_int, help="output height, aspect ratio kept")
    p.add_argument("--style-size", type=_positive_int, default=256,
                   help="shorter side the style image is resized to before its statistics are taken "
                        "(default 256; larger = finer brush strokes)")
    p.add_argument("--models", type=Path, default=None, help="folder with the exported graphs (default: exported/)")
    p.add_argument("--providers", type=_providers, default=None,
                   help="ONNX Runtime providers in order of preference, e.g. tensorrt,cuda,cpu "
                        "(default from the runtime config: tensorrt,cuda,cpu)")
    p.add_argument("--config", type=Path, default=None, help="settings YAML (see configs/livestyle.yaml)")
    p.set_defaults(func=cmd_stylize)

    p = sub.add_parser("render", help="restyle a movie clip with its own music",
                       description="Restyle every frame of INPUT with style images that MVNet computes "
                                   "20 times a second from the 8.91 s of audio centred on each moment, "
                                   "and write OUTPUT with the original audio muxed back. Needs no torch. "
                                   "Ctrl-C or an error leaves nothing at OUTPUT.")
    p.add_argument("input", type=Path, help="video file with an audio track (or use --audio)")
    p.add_argument("-o", "--output", type=Path, required=True, help="output video (.mp4, .mkv, .mov, .webm)")
    p.add_argument("--fps", type=_fps, default=None, help="output frame rate, or 'source' (default 20)")
    p.add_argument("--seed", type=int, default=None, help="seed of the fixed noise z (default 0)")
    size = p.add_mutually_exclusive_group()
    size.add_argument("--height", type=_positive_int, help="output height, aspect ratio kept")
    size.add_argument("--size", type=_parse_size, help="output size WxH (default: the input's size)")
    p.add_argument("--smoothing", type=_seconds, default=None,
                   help="time constant in seconds of the style's moving average (0: off; default 0.5)")
    p.add_argument("--audio", type=Path, default=None, help="drive the style from, and mux, this audio file")
    p.add_argument("--start", type=_seconds, default=0.0, help="start at this time of the input (seconds)")
    p.add_argument("--duration", type=_seconds, default=None, help="render only this many seconds")
    p.add_argument("--providers", type=_providers, default=None, help="e.g. tensorrt,cuda,cpu")
    p.add_argument("--codec", default=None, help="video encoder (default libx264; libvpx-vp9 for .webm)")
    p.add_argument("--crf", type=int, default=None, help="encoder quality, lower is better (default 20)")
    p.add_argument("--models", type=Path, default=None, help="folder with the exported graphs (default: exported/)")
    p.add_argument("--config", type=Path, default=None, help="settings YAML (see configs/livestyle.yaml)")
    p.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    p.set_defaults(func=cmd_render)

    p = sub.add_parser("live", help="camera + microphone in, restyled video to a window / file / stream",
                       description="Restyle a live camera feed with the music the microphone hears: "
                                   "20 times a second the trailing 8.91 s of audio becomes a style image "
                                   "(MVNet, fixed z) that paints the newest camera frame (STNet). Slow "
                                   "stages drop frames and style ticks instead of falling behind. Shows a "
                                   "window by default (F: fullscreen, Space: freeze the style, N/P: next/"
                                   "previous seed, Esc/Q: quit); -o records and "
                                   "--stream sends it out. Ctrl-C ends the set and keeps the recording. "
                                   "Prints frame rate and capture-to-output latency. Needs no torch.")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--camera", default="0", help="camera index, device path or URL OpenCV opens (default 0)")
    src.add_argument("--clip", type=Path, default=None,
                     help="rehearse on a video file played in real time instead of a camera (its own "
                          "audio drives the style unless --mic or --audio)")
    p.add_argument("--loop", action="store_true", help="loop --clip / --audio")
    aud = p.add_mutually_exclusive_group()
    aud.add_argument("--mic", default=None, help="audio input device, index or name (default: the system's)")
    aud.add_argument("--audio", type=Path, default=None, help="drive the style from this file, played in real time")
    p.add_argument("--list-devices", action="store_true", help="list audio devices and exit")
    p.add_argument("-o", "--output", type=Path, default=None,
                   help="record the restyled video (no audio) to this file, at a constant 20 fps")
    p.add_argument("--stream", default=None, help="send H.264 to this URL (rtmp://, srt://, udp://, tcp://, ...)")
    p.add_argument("--stream-format", default=None, help="FFmpeg muxer for --stream (default from the URL: flv, mpegts)")
    win = p.add_mutually_exclusive_group()
    win.add_argument("--window", action="store_true", help="show the window even with -o/--stream")
    win.add_argument("--no-window", action="store_true", help="no window (default when -o or --stream is given)")
    p.add_argument("--fullscreen", action="store_true", help="start the window fullscreen (projector)")
    size = p.add_mutually_exclusive_group()
    size.add_argument("--height", type=_positive_int, help="restyle at this height, aspect kept (default: "
                                                             "the camera's; smaller is faster)")
    size.add_argument("--size", type=_parse_size, help="restyle at WxH")
    p.add_argument("--duration", type=_seconds, default=None, help="stop after this many seconds")
    p.add_argument("--seed", type=int, default=None, help="seed of the fixed noise z (default 0)")
    p.add_argument("--smoothing", type=_seconds, default=None, help="style smoothing time constant, s (default 0.5)")
    p.add_argument("--providers", type=_providers, default=None, help="e.g. tensorrt,cuda,cpu")
    p.add_argument("--models", type=Path, default=None, help="folder with the exported graphs (default: exported/)")
    p.add_argument("--config", type=Path, default=None, help="settings YAML (runtime: and live: sections)")
    p.add_argument("--json", type=Path, default=None, help="write the end-of-set figures (fps, latency) here")
    p.add_argument("--quiet", action="store_true", help="no status line or summary")
    p.set_defaults(func=cmd_live)

    p = sub.add_parser("doctor", help="check what this machine can run (GPU providers, models, camera, mic, ...)",
                       description="Check, for real, everything livestyle uses: the shipped graphs against "
                                   "their manifest, each execution provider alone (loading a graph), the "
                                   "encoders, the microphone, a camera, the window, and the training extra. "
                                   "One line per check with the reason when it fails. Exit status 2 only "
                                   "when render itself cannot run.")
    p.add_argument("--providers", type=_providers, default=None, help="providers to try (default tensorrt,cuda,cpu)")
    p.add_argument("--camera", default="0", help="camera to try opening (default 0)")
    p.add_argument("--no-camera", action="store_true", help="do not touch any camera")
    p.add_argument("--models", type=Path, default=None, help="folder with the exported graphs (default: exported/)")
    p.set_defaults(func=cmd_doctor)

    p = sub.add_parser("bench", help="latency and fps per stage and per execution provider",
                       description="Time every stage of the pipeline (audio front end, MVNet, STNet style "
                                   "branch, STNet content branch per frame size) on each execution "
                                   "provider separately, without fallback; providers this machine cannot "
                                   "run are listed as skipped with the reason. Prints a table and "
                                   "optionally writes JSON. Needs no torch.")
    p.add_argument("--providers", type=_providers, default=None,
                   help="providers to measure, each on its own (default from the runtime config: "
                        "tensorrt,cuda,cpu)")
    p.add_argument("--sizes", type=_sizes, default=[(256, 256), (640, 360), (1280, 720)],
                   help="frame sizes for the content branch, comma-separated WxH (default "
                        "256x256,640x360,1280x720)")
    p.add_argument("--repeats", type=_positive_int, default=20, help="timed runs per stage (default 20)")
    p.add_argument("--warmup", type=int, default=3,
                   help="untimed runs first; GPU providers tune kernels on their first calls (default 3)")
    p.add_argument("--threads", type=int, default=None, help="ONNX Runtime intra-op threads (0: its default)")
    p.add_argument("--clip", type=Path, default=None,
                   help="also time the whole render pipeline (decode, threads, encode) on this clip")
    p.add_argument("--clip-height", type=_positive_int, default=256, help="render height for --clip (default 256)")
    p.add_argument("--clip-seconds", type=_seconds, default=5.0, help="seconds of --clip to render (default 5)")
    p.add_argument("--json", type=Path, default=None, help="also write the full results here")
    p.add_argument("--models", type=Path, default=None, help="folder with the exported graphs (default: exported/)")
    p.add_argument("--config", type=Path, default=None, help="settings YAML (its runtime: section)")
    p.add_argument("--quiet", action="store_true", help="only the table")
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser("visualize", help="style images of a piece of music (MVNet)",
                       description="Turn AUDIO (any file with an audio stream) into one 64x64 style image "
                                   "per window (8.91 s centred on t = 0, hop, 2 hop, ...) and a contact "
                                   "sheet, with the exported MVNet. Needs no torch.")
    p.add_argument("audio", type=Path, help="audio or video file")
    p.add_argument("-o", "--output", type=Path, required=True, help="output folder (created if missing)")
    p.add_argument("--seed", type=int, default=0, help="seed of the fixed noise z (default 0)")
    p.add_argument("--hop", type=float, default=1.0, help="seconds between windows (default 1.0)")
    p.add_argument("--models", type=Path, default=None, help="folder with the exported graphs (default: exported/)")
    p.add_argument("--providers", type=_providers, default=None, help="e.g. tensorrt,cuda,cpu")
    p.add_argument("--config", type=Path, default=None, help="runtime YAML config")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_visualize)

    p = sub.add_parser("export", help="torch checkpoints -> ONNX in exported/, with a parity check",
                       description="Export trained weights to ONNX and record sha256 and the max "
                                   "abs difference vs torch in exported/manifest.json. Needs the "
                                   "train extra (torch).")
    p.add_argument("model", choices=["stnet", "mvnet"], help="which network")
    p.add_argument("--checkpoint", default=None,
                   help="trained weights (.pt; default runs/stnet/stnet_r31.pt or runs/mvnet/mvnet.pt)")
    p.add_argument("--out-dir", default=str(REPO / "exported"), help="where the .onnx files go")
    p.add_argument("--training-command", default=None,
                   help="the command that produced the checkpoint, recorded in the manifest")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("train", help="train a network (resumable)",
                       description="Train with the settings in a YAML config. Interrupt at any time: "
                                   "running the same command again resumes from the last checkpoint.")
    p.add_argument("model", choices=["stnet", "mvnet"], help="which network")
    p.add_argument("--config", type=Path, default=None, help="training YAML (e.g. configs/train_stnet.yaml)")
    p.add_argument("--out-dir", default=None, help="override the config's out_dir")
    p.add_argument("--quiet", action="store_true", help="no progress bar; log lines instead")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("data", help="build starter training sets from bundled real material",
                       description="stnet-starter: photos + clip frames (content) and paintings (style). "
                                   "starter: the MVNet set, music21 scores rendered with FluidSynth "
                                   "(Debian: fluidsynth, fluid-soundfont-gm) plus the bundled recordings, "
                                   "and the dated paintings, as audio.csv / images.csv.")
    p.add_argument("kind", choices=["stnet-starter", "starter"], help="which set")
    p.add_argument("dir", help="output folder")
    p.add_argument("--pieces", type=_positive_int, default=6, help="music21 pieces per composer (starter)")
    p.set_defaults(func=cmd_data)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        args.func(args)
    except UserError as exc:
        print(f"livestyle: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("livestyle: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
