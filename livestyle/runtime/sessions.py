"""ONNX Runtime sessions with an ordered provider choice (TensorRT -> CUDA -> CPU) and fallbacks.

A provider the installed onnxruntime does not offer is skipped, and so is one that fails when the
session is created (for example CUDA libraries missing at run time); the user gets one warning
saying what was asked for and what runs instead. `Session.provider` says which provider actually
runs the graph, as reported by ONNX Runtime itself after the session was built.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from livestyle.errors import UserError
from livestyle.native_output import captured_native_output

log = logging.getLogger(__name__)

PROVIDERS = {
    "tensorrt": "TensorrtExecutionProvider",
    "cuda": "CUDAExecutionProvider",
    "cpu": "CPUExecutionProvider",
}
SHORT_NAMES = {v: k for k, v in PROVIDERS.items()}
DISPLAY = {"tensorrt": "TensorRT", "cuda": "CUDA", "cpu": "CPU"}


@dataclass
class TensorRTOptions:
    """TensorRT execution provider settings (names as in ONNX Runtime's TensorRT EP docs)."""
    fp16: bool = True
    engine_cache: bool = True  # building an engine takes minutes: cache it across runs
    cache_dir: str = "~/.cache/livestyle/tensorrt"
    timing_cache: bool = True
    max_workspace_mb: int = 2048
    builder_optimization_level: int = 3
    # Frame sizes (WxH) the content engine is built for, either orientation: the profile is made
    # square at the longer side, so portrait phone clips fit as well as landscape ones. Also the
    # size cap for every provider (a size one provider takes, all take).
    min_size: str = "16x16"
    opt_size: str = "640x360"
    max_size: str = "3840x2160"


@dataclass
class CUDAOptions:
    """CUDA execution provider settings."""
    cudnn_conv_algo_search: str = "EXHAUSTIVE"  # EXHAUSTIVE | HEURISTIC | DEFAULT
    arena_extend_strategy: str = "kSameAsRequested"  # steady memory for fixed frame sizes
    gpu_mem_limit_mb: int = 0  # 0: no limit
    use_tf32: bool = True
    fp16: bool = False  # run stnet_content_fp16.onnx when the export has it (`livestyle export stnet --fp16`)


@dataclass
class RuntimeConfig:
    providers: tuple[str, ...] = ("tensorrt", "cuda", "cpu")
    device_id: int = 0
    intra_op_threads: int = 0  # 0: ONNX Runtime's default (all physical cores)
    # ORT's default lets idle CPU threads busy-wait for the next run. Our sessions run side by
    # side (style and frames), so spinning threads steal the cores the other needs: off is 14-35 %
    # faster for render on 2 cores (bench/RESULTS.md).
    cpu_spinning: bool = False
    # Which STNet paints the frames: "lite" (the CPU content path), "r31", or "auto": lite when
    # only the CPU provider can run (and the export has it), r31 on a GPU.
    model: str = "auto"
    tensorrt: TensorRTOptions = field(default_factory=TensorRTOptions)
    cuda: CUDAOptions = field(default_factory=CUDAOptions)


def validate_providers(names: tuple[str, ...]) -> tuple[str, ...]:
    if not names:
        raise UserError("no execution provider given (use e.g. --providers tensorrt,cuda,cpu)")
    unknown = [n for n in names if n not in PROVIDERS]
    if unknown:
        raise UserError(f"unknown execution provider(s) {', '.join(unknown)}; choose from {', '.join(PROVIDERS)}")
    return names


def _parse_wh(text: str) -> tuple[int, int]:
    w, h = (int(v) for v in text.lower().split("x"))
    return w, h


def frame_size_limits(cfg: RuntimeConfig) -> tuple[int, tuple[int, int]]:
    """(smallest side, largest WxH) of the frames this runtime takes, whatever the provider: the
    TensorRT profile's range, so a size that works on the CPU works on every GPU provider too."""
    min_w, min_h = _parse_wh(cfg.tensorrt.min_size)
    return max(16, min(min_w, min_h)), _parse_wh(cfg.tensorrt.max_size)


def tensorrt_options(cfg: RuntimeConfig, dynamic_inputs: dict[str, tuple[int | str, ...]] | None = None) -> dict[str, Any]:
    """Provider options for TensorrtExecutionProvider. `dynamic_inputs` gives the shape of every
    input with a dynamic dimension: "H" and "W" for the frame size, -1 for the batch (built for 1),
    numbers for fixed dimensions, e.g. {"frame": (-1, 3, "H", "W"), "s_mean": (-1, 256)}. TensorRT
    needs a min/opt/max profile for every dynamic input; the frame-size range comes from the config,
    made square at its ends so one engine serves every size in it, landscape or portrait. An input
    whose dimensions are all fixed gets min = opt = max (the style graph at render's style size)."""
    t = cfg.tensorrt
    cache = str(Path(os.path.expanduser(t.cache_dir)))
    opts: dict[str, Any] = {
        "device_id": cfg.device_id,
        "trt_fp16_enable": t.fp16,
        "trt_max_workspace_size": t.max_workspace_mb * 1024 * 1024,
        "trt_builder_optimization_level": t.builder_optimization_level,
        "trt_engine_cache_enable": t.engine_cache,
        "trt_timing_cache_enable": t.timing_cache,
    }
    if t.engine_cache:
        opts["trt_engine_cache_path"] = cache
    if t.timing_cache:
        opts["trt_timing_cache_path"] = cache
    if dynamic_inputs:
        for key, size in (("min", t.min_size), ("opt", t.opt_size), ("max", t.max_size)):
            w, h = _parse_wh(size)
            if key != "opt":  # square: both orientations inside one profile
                w = h = min(w, h) if key == "min" else max(w, h)
            sizes = {"H": h, "W": w}
            shapes = [f"{name}:{'x'.join(str(sizes.get(d, 1) if isinstance(d, str) or d < 0 else d) for d in shape)}"
                      for name, shape in dynamic_inputs.items()]
            opts[f"trt_profile_{key}_shapes"] = ",".join(shapes)
    return opts


def cuda_options(cfg: RuntimeConfig) -> dict[str, Any]:
    c = cfg.cuda
    opts: dict[str, Any] = {
        "device_id": cfg.device_id,
        "cudnn_conv_algo_search": c.cudnn_conv_algo_search,
        "arena_extend_strategy": c.arena_extend_strategy,
        "use_tf32": int(c.use_tf32),
    }
    if c.gpu_mem_limit_mb:
        opts["gpu_mem_limit"] = c.gpu_mem_limit_mb * 1024 * 1024
    return opts


def provider_options(name: str, cfg: RuntimeConfig, dynamic_inputs: dict | None = None) -> dict[str, Any]:
    if name == "tensorrt":
        return tensorrt_options(cfg, dynamic_inputs)
    if name == "cuda":
        return cuda_options(cfg)
    return {}


class Session:
    """One ONNX graph, loaded; `run(**inputs)` returns a dict of outputs."""

    def __init__(self, inner: Any, path: Path):
        self.inner = inner
        self.path = path
        self.input_names = [i.name for i in inner.get_inputs()]
        self.output_names = [o.name for o in inner.get_outputs()]

    @property
    def providers(self) -> list[str]:
        """Providers ONNX Runtime actually attached, short names, in priority order."""
        return [SHORT_NAMES.get(p, p) for p in self.inner.get_providers()]

    @property
    def provider(self) -> str:
        """The provider that runs this graph (the first attached one; CPU only takes nodes the
        accelerator cannot)."""
        return self.providers[0]

    def run(self, **inputs: np.ndarray) -> dict[str, np.ndarray]:
        outputs = self.inner.run(self.output_names, inputs)
        return dict(zip(self.output_names, outputs))


def failure_cause(text: str) -> str:
    """The most telling line of what ONNX Runtime printed while a provider failed to load."""
    for pattern in (r"with error: ([^\n]+)", r"(Require [^\n]+?\.) ", r"(Please install [^\n]+?\.)"):
        match = re.search(pattern, text)
        if match:
            return re.sub(r"\x1b\[[0-9;]*m", "", match.group(1)).strip()
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith("*")]
    return lines[-1][:200] if lines else "no reason given"


class ProviderUnavailable(UserError):
    """Raised by an Engine built with fallback=False when its first provider cannot run."""

    def __init__(self, provider: str, reason: str):
        super().__init__(f"{DISPLAY.get(provider, provider)} cannot run here: {reason}")
        self.provider, self.reason = provider, reason


class Engine:
    """Builds sessions for one run with one provider policy; warns once per fallback.

    Per requested provider, in order: skip it if this onnxruntime build lacks it; otherwise build
    the session with it first. ONNX Runtime itself falls back (silently, or printing to the
    console) when a provider's libraries fail to load, so the provider it actually attached is
    checked; on a mismatch the next provider is tried with its own options, and the failed one is
    remembered so later graphs of the same run skip it.
    """

    def __init__(self, cfg: RuntimeConfig | None = None, providers: tuple[str, ...] | None = None,
                 ort: Any = None, fallback: bool = True):
        import onnxruntime  # runtime dependency; injectable for tests

        self.ort = ort or onnxruntime
        self.cfg = cfg or RuntimeConfig()
        self.requested = validate_providers(tuple(providers or self.cfg.providers))
        offered = set(self.ort.get_available_providers())
        if any(PROVIDERS[n] in offered for n in self.requested if n != "cpu"):
            from livestyle.runtime import gpu_libraries

            gpu_libraries.preload(self.ort)  # CUDA/cuDNN/cuBLAS/TensorRT from the pip wheels
        self.fallback = fallback  # False: ProviderUnavailable instead of running on another provider
        self.failed: dict[str, str] = {}  # provider -> why it could not be used
        self._warned: set[str] = set()

    def _warn(self, message: str) -> None:
        if message not in self._warned:
            self._warned.add(message)
            log.warning(message)

    def available(self) -> tuple[str, ...]:
        """The requested providers this onnxruntime build offers and that have not failed, in the
        requested order; CPU as the last resort when nothing else is left."""
        offered = set(self.ort.get_available_providers())
        for name in self.requested:
            if PROVIDERS[name] not in offered and name not in self.failed:
                known = [DISPLAY[n] for n in PROVIDERS if PROVIDERS[n] in offered]
                self.failed[name] = f"not in this onnxruntime build, which offers {', '.join(known)}"
        usable = tuple(n for n in self.requested if n not in self.failed)
        return usable or ("cpu",)

    def _report(self, running: str) -> None:
        skipped = [n for n in self.requested if n in self.failed]
        if skipped:
            reasons = "; ".join(f"{DISPLAY[n]}: {self.failed[n]}" for n in skipped)
            self._warn(f"{' and '.join(DISPLAY[n] for n in skipped)} requested but unusable ({reasons}); "
                       f"running on {DISPLAY.get(running, running)}")

    def session(self, path: str | Path, dynamic_inputs: dict[str, tuple[int | str, ...]] | None = None) -> Session:
        """Load `path` on the first provider that works; later ones stay as fallbacks for nodes."""
        path = Path(path)
        if not path.is_file():
            raise UserError(f"{path}: model file not found")
        options = self.ort.SessionOptions()
        options.graph_optimization_level = self.ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        if self.cfg.intra_op_threads:
            options.intra_op_num_threads = self.cfg.intra_op_threads
        if not self.cfg.cpu_spinning:
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        while True:
            candidates = list(self.available())
            first = candidates[0]
            if not self.fallback and first != self.requested[0]:
                wanted = self.requested[0]
                raise ProviderUnavailable(wanted, self.failed.get(wanted, "unusable"))
            chain = candidates + ([] if "cpu" in candidates else ["cpu"])
            providers = [(PROVIDERS[n], provider_options(n, self.cfg, dynamic_inputs)) for n in chain]
            with captured_native_output() as printed:
                try:
                    inner = self.ort.InferenceSession(str(path), sess_options=options, providers=providers)
                    error = None
                except Exception as exc:  # noqa: BLE001 - ORT raises RuntimeError and its own Fail types
                    inner, error = None, (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            if printed and printed[0].strip():
                log.debug("onnxruntime printed while loading %s:\n%s", path.name, printed[0])
            if inner is not None:
                session = Session(inner, path)
                if session.provider == first:
                    self._report(first)
                    return session
                self.failed[first] = failure_cause(printed[0] if printed else "")
            elif first == "cpu":
                raise UserError(f"{path}: cannot be loaded by ONNX Runtime ({error})")
            else:
                self.failed[first] = error or "session creation failed"
