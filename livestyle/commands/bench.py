"""`livestyle bench`: latency and fps of every stage of the pipeline, per execution provider.

Each provider is measured on its own (no fallback), so a GPU result is a GPU result: a provider
this machine cannot run is reported as skipped with the reason ONNX Runtime gave. Stages:

  session load     building all three sessions (for TensorRT: the engine build, or the cache load)
  audio front end  one 20 Hz tick of the incremental log-mel (numpy, the same for every provider)
  mvnet            one 8.91 s window -> 64x64 style image
  style branch     style image (upscaled to style_size) -> STNet style state (`--styles mvnet`)
  bank blend       the default look instead (`styles: builtin`): the music's weights over the
                   paintings shipped in the package and their states blended at a reactive look
                   (runtime/style_bank.py); a tick with a bank runs this, not the style branch
  content WxH      one RGB frame -> stylised frame: frame_ms is the whole call on the stylize
                   thread, graph_run_ms the graph run alone, host_overhead_ms the difference
                   (Python and numpy outside the graph: binding, allocation)

From these: the style worker's load at 20 Hz (share of one core/device second it needs), and the
frame rate a live feed can reach per size when style and frames share the device. With --clip, the
whole `render` pipeline (decode, threads, encode) is timed too. Numbers only; nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from livestyle.audio.features import IncrementalMel, MelConfig, clip_start_for
from livestyle.config import load_config
from livestyle.errors import UserError
from livestyle.commands.render import RenderConfig, RenderJob, render
from livestyle.io.paths import check_output, write_text
from livestyle.runtime.sessions import DISPLAY, Engine, ProviderUnavailable, RuntimeConfig, frame_size_limits, validate_providers
from livestyle.runtime.manifest import load_manifest, model_info, models_dir
from livestyle.runtime.mvnet_runner import MVNetRunner
from livestyle.runtime.stnet_runner import STNetRunner, check_frame_size
from livestyle.runtime.reactive import Look, ReactiveConfig
from livestyle.runtime.style_bank import BUILTIN, StyleBank, look_grid
from livestyle.runtime.style_ticker import StyleTicker, TickSettings

DEFAULT_SIZES = ((256, 256), (640, 360), (1280, 720))


@dataclass
class BenchConfig:
    providers: tuple[str, ...] = ("tensorrt", "cuda", "cpu")
    sizes: tuple[tuple[int, int], ...] = DEFAULT_SIZES
    warmup: int = 3       # runs discarded first (TensorRT/CUDA tune kernels on the first calls)
    repeats: int = 20
    clip: Path | None = None    # also time `render` end to end on this clip
    clip_height: int = 256
    clip_seconds: float = 5.0
    models: Path | None = None


@dataclass
class Timing:
    stage: str
    ms: list[float] = field(repr=False)

    def summary(self) -> dict[str, Any]:
        mean = statistics.fmean(self.ms)
        p50, p95 = np.percentile(self.ms, [50, 95])
        return {"stage": self.stage, "runs": len(self.ms), "mean_ms": round(mean, 3),
                "p50_ms": round(float(p50), 3), "p95_ms": round(float(p95), 3),
                "max_ms": round(max(self.ms), 3), "fps": round(1000.0 / mean, 2) if mean > 0 else None}


def timed(fn: Callable[[], Any], warmup: int, repeats: int) -> list[float]:
    """Wall time of each of `repeats` calls in ms, after `warmup` untimed calls. ONNX Runtime's
    run() returns host arrays, so GPU work is finished when it returns."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000.0)
    return times


def mel_tick_ms(cfg: MelConfig, warmup: int, repeats: int) -> Timing:
    """Incremental log-mel cost per 50 ms tick in steady state (walking forward through a signal)."""
    rng = np.random.default_rng(0)
    audio = (0.1 * rng.standard_normal(int((repeats + warmup + 2) * 0.05 * cfg.sample_rate)
                                       + cfg.clip_samples + cfg.sample_rate)).astype(np.float32)
    mel = IncrementalMel(cfg)
    ticks = iter(range(10 ** 9))
    centre0 = cfg.clip_seconds / 2

    def step() -> None:
        mel.window(audio, clip_start_for(centre0 + next(ticks) * 0.05, cfg))

    return Timing("audio front end (1 tick)", timed(step, warmup + 1, repeats))


def bench_provider(provider: str, cfg: BenchConfig, runtime: RuntimeConfig) -> dict[str, Any]:
    """All stage timings on one provider, or {'skipped': reason}."""
    folder = models_dir(cfg.models)
    engine = Engine(runtime, (provider,), fallback=False)
    t0 = time.perf_counter()
    try:
        stnet = STNetRunner(engine, folder, style_size=RenderConfig().style_size)
        mvnet = MVNetRunner(engine, folder)
        # every STNet the export has, so one report compares them (the chosen one first)
        others = [STNetRunner(engine, folder, style_size=RenderConfig().style_size, model=m)
                  for m in ("stnet", "lite") if m != stnet.model and m in load_manifest(folder).get("models", {})]
    except ProviderUnavailable as exc:
        return {"skipped": exc.reason}
    load_s = time.perf_counter() - t0
    rng = np.random.default_rng(0)
    ticker = StyleTicker(mvnet, stnet, TickSettings(style_size=RenderConfig().style_size))
    window = ticker.mel_window(rng.standard_normal(ticker.mel_config.clip_samples) * 0.1, 0)
    style = ticker.style_image(window)
    state = ticker.style_state(style)
    size = ticker.settings.style_size
    timings = [Timing("mvnet (1 window)", timed(lambda: ticker.style_image(window), cfg.warmup, cfg.repeats)),
               Timing(f"style branch ({size}x{size})", timed(lambda: ticker.style_state(style), cfg.warmup, cfg.repeats)),
               bank_blend_timing(stnet, mvnet, ticker, style, cfg)]
    frames = {}
    for runner in (stnet, *others):
        label = MODEL_LABELS.get(runner.model, runner.model)
        for w, h in cfg.sizes:
            runner.check_frame_size(w, h)
            frame = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
            run_ms: list[float] = []

            def stylize() -> None:
                runner.stylize(frame, state)
                run_ms.append(runner.last_run_ms)

            # the chosen model's stages keep their old names ("content WxH"): live_capacity reads them
            name = f"content {w}x{h}" if runner is stnet else f"content {w}x{h} ({label})"
            timing = Timing(name, timed(stylize, cfg.warmup, cfg.repeats))
            timings.append(timing)
            run_ms = run_ms[cfg.warmup:]
            frame_ms = statistics.fmean(timing.ms)
            key = f"{w}x{h}" if runner is stnet else f"{w}x{h} {label}"
            frames[key] = {"model": runner.model_name, "frame_ms": round(frame_ms, 3),
                           "graph_run_ms": round(statistics.fmean(run_ms), 3),
                           "host_overhead_ms": round(frame_ms - statistics.fmean(run_ms), 3)}
    return {"load_s": round(load_s, 2), "model": MODEL_LABELS.get(stnet.model, stnet.model),
            "stages": [t.summary() for t in timings], "frames": frames}


MODEL_LABELS = {"stnet": "r31", "lite": "lite"}


def bank_blend_timing(stnet: STNetRunner, mvnet: MVNetRunner, ticker: StyleTicker, style: np.ndarray,
                      cfg: BenchConfig) -> Timing:
    """The default look's per-tick work: weights over the shipped paintings from the music (or,
    for graphs without the embedding, from the image's colours) and the blend at a look halfway
    between quiet and loud, so the bilinear interpolation is timed at its most expensive."""
    reactive = ReactiveConfig()
    bank = StyleBank.from_folder(BUILTIN, stnet, ticker.settings.style_size, RenderConfig().styles_temperature,
                                 look_grid(reactive))
    look = Look(1.0, (reactive.brightness_quiet + reactive.brightness_loud) / 2,
                (reactive.contrast_quiet + reactive.contrast_loud) / 2)
    music = None if ticker.last_music is None or mvnet.music_map is None else mvnet.music_map.whiten(ticker.last_music)

    def blend() -> None:
        weights = bank.weights(style) if music is None else bank.music_weights(music, 0)
        bank.blend(weights, look)

    return Timing(f"bank blend ({len(bank.states)} images)", timed(blend, cfg.warmup, cfg.repeats))


def live_capacity(result: dict[str, Any], mel: dict[str, Any], on_cpu: bool, style_hz: int = 20) -> dict[str, Any]:
    """What a live feed can do per frame size: the style worker's share of each device second at
    `style_hz`, and the frame rate left for the content branch when both share the device. The
    log-mel runs on the CPU, so it counts against the device only for the CPU provider."""
    stages = {s["stage"]: s for s in result["stages"]}
    mel_ms = mel["mean_ms"] if on_cpu else 0.0

    def tick(*prefixes: str) -> float:
        return mel_ms + sum(s["mean_ms"] for name, s in stages.items() if name.startswith(prefixes))

    # the default look (a bank) blends states; `--styles mvnet` runs the style branch instead
    has_bank = any(name.startswith("bank blend") for name in stages)
    tick_ms = tick("mvnet", "bank blend") if has_bank else tick("mvnet", "style branch")
    load = tick_ms * style_hz / 1000.0
    fps = {}
    for name, s in stages.items():
        if name.startswith("content ") and "(" not in name:
            fps[name.split(" ", 1)[1]] = round(max(0.0, 1000.0 - tick_ms * style_hz) / s["mean_ms"], 2)
    return {"style_tick_ms": round(tick_ms, 2), "style_tick_mvnet_image_ms": round(tick("mvnet", "style branch"), 2),
            "style_load_at_20hz": round(load, 3),
            "style_hz_max": round(1000.0 / tick_ms, 1) if tick_ms > 0 else None, "fps_with_style": fps}


def bench_render(provider: str, cfg: BenchConfig, runtime: RuntimeConfig) -> dict[str, Any]:
    """The whole `render` pipeline on `cfg.clip` (decode, threads, encode), one provider."""
    with tempfile.TemporaryDirectory() as tmp:
        job = RenderJob(Path(cfg.clip), Path(tmp) / "bench.mp4", RenderConfig(), runtime, providers=(provider,),
                        duration=cfg.clip_seconds, height=cfg.clip_height, models=cfg.models, progress=False)
        stats = render(job)
    return {"clip": str(cfg.clip), "height": cfg.clip_height, "frames": stats.frames,
            "seconds": round(stats.seconds, 2), "fps": round(stats.frames / max(stats.seconds, 1e-9), 2),
            "provider": stats.provider}


def machine() -> dict[str, Any]:
    import onnxruntime

    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info: dict[str, Any] = {"cpu": cpu, "cpu_count": os.cpu_count(), "platform": platform.platform(),
                            "python": platform.python_version(), "onnxruntime": onnxruntime.__version__,
                            "onnxruntime_providers": onnxruntime.get_available_providers()}
    if shutil.which("nvidia-smi"):
        try:
            out = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version,memory.total",
                                  "--format=csv,noheader"], capture_output=True, text=True, timeout=10)
            info["gpus"] = [line.strip() for line in out.stdout.splitlines() if line.strip()]
        except (OSError, subprocess.SubprocessError):
            pass
    return info


def run_bench(cfg: BenchConfig, runtime: RuntimeConfig | None = None,
              log: Callable[[str], None] = print) -> dict[str, Any]:
    runtime = runtime or RuntimeConfig()
    validate_providers(cfg.providers)
    report: dict[str, Any] = {"machine": machine(), "settings": {
        "sizes": [f"{w}x{h}" for w, h in cfg.sizes], "warmup": cfg.warmup, "repeats": cfg.repeats,
        "intra_op_threads": runtime.intra_op_threads, "models": str(models_dir(cfg.models))}}
    mel_cfg = MelConfig(**model_info(models_dir(cfg.models), "mvnet")["mel"])
    mel = mel_tick_ms(mel_cfg, cfg.warmup, cfg.repeats).summary()
    report["audio_front_end"] = mel
    report["providers"] = {}
    for provider in cfg.providers:
        log(f"measuring {DISPLAY[provider]} ...")
        result = bench_provider(provider, cfg, runtime)
        if "stages" in result:
            result["live"] = live_capacity(result, mel, on_cpu=provider == "cpu")
            if cfg.clip is not None:
                result["render"] = bench_render(provider, cfg, runtime)
        report["providers"][provider] = result
    if not any("stages" in r for r in report["providers"].values()):
        reasons = "; ".join(f"{DISPLAY[p]}: {r['skipped']}" for p, r in report["providers"].items())
        raise UserError(f"none of the requested providers can run here ({reasons})")
    return report


def format_table(report: dict[str, Any]) -> str:
    m = report["machine"]
    lines = [f"livestyle bench: onnxruntime {m['onnxruntime']}, {m['cpu'] or 'unknown CPU'} "
             f"({m['cpu_count']} threads)" + (f", GPU {'; '.join(m['gpus'])}" if m.get("gpus") else ""),
             "", f"{'provider':<10} {'stage':<28} {'mean ms':>9} {'p50 ms':>9} {'p95 ms':>9} {'fps':>9}"]
    mel = report["audio_front_end"]
    lines.append(f"{'numpy':<10} {mel['stage']:<28} {mel['mean_ms']:>9.2f} {mel['p50_ms']:>9.2f} "
                 f"{mel['p95_ms']:>9.2f} {mel['fps']:>9.1f}")
    notes = []
    for provider, result in report["providers"].items():
        name = DISPLAY[provider]
        if "skipped" in result:
            lines.append(f"{name:<10} skipped: {result['skipped']}")
            continue
        lines.append(f"{name:<10} {'session load':<28} {result['load_s'] * 1000:>9.0f}")
        notes.append(f"{name}: frames painted by {result.get('model', 'r31')} (--model); stages marked (…) "
                     f"time the other STNet of the export")
        for s in result["stages"]:
            lines.append(f"{name:<10} {s['stage']:<28} {s['mean_ms']:>9.2f} {s['p50_ms']:>9.2f} "
                         f"{s['p95_ms']:>9.2f} {s['fps']:>9.2f}")
        overhead = ", ".join(f"{size} {f['host_overhead_ms']:.1f} ms of {f['frame_ms']:.1f}"
                             for size, f in result.get("frames", {}).items())
        if overhead:
            notes.append(f"{name}: host overhead per frame (outside the graph run): {overhead}")
        live = result["live"]
        fps = ", ".join(f"{size} {v:.1f} fps" for size, v in live["fps_with_style"].items())
        notes.append(f"{name}: style tick {live['style_tick_ms']:.1f} ms with the default bank "
                     f"({live['style_tick_mvnet_image_ms']:.1f} ms with --styles mvnet) = "
                     f"{live['style_load_at_20hz']:.0%} of the device at 20 Hz (at most {live['style_hz_max']:.0f} Hz); "
                     f"frame rate left with 20 Hz style on the same device: {fps}")
        if "render" in result:
            r = result["render"]
            notes.append(f"{name}: render {Path(r['clip']).name} at {r['height']}p: {r['frames']} frames in "
                         f"{r['seconds']:.1f} s = {r['fps']:.2f} fps")
    return "\n".join(lines + ([""] + notes if notes else []))


def write_json(report: dict[str, Any], path: Path) -> None:
    write_text(path, json.dumps(report, indent=2) + "\n")


def run(args: argparse.Namespace) -> None:
    """`livestyle bench`: options -> job -> result on the terminal."""
    runtime = load_config(RuntimeConfig, args.config, section="runtime")
    if args.model is not None:
        runtime.model = args.model
    if args.threads is not None:
        runtime.intra_op_threads = args.threads
    cfg = BenchConfig(providers=args.providers or runtime.providers, sizes=tuple(args.sizes), warmup=args.warmup,
                      repeats=args.repeats, clip=args.clip, clip_height=args.clip_height,
                      clip_seconds=args.clip_seconds, models=args.models)
    if args.clip is not None and not args.clip.is_file():
        raise UserError(f"{args.clip}: no such file")
    if args.json is not None:
        check_output(args.json, (args.clip,), option="--json file")
    limits = frame_size_limits(runtime)
    for w, h in cfg.sizes:  # before any session is built
        check_frame_size(w, h, limits, "--sizes: frame")
    report = run_bench(cfg, runtime, log=(lambda _: None) if args.quiet else
                       (lambda m: print(m, file=sys.stderr, flush=True)))
    print(format_table(report), flush=True)
    if args.json:
        write_json(report, args.json)
        print(f"\nwrote {args.json}")
