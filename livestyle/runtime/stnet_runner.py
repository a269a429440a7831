"""The exported STNet on ONNX Runtime: style image -> style state, frame + style state -> frame.

The content graph takes and returns RGB uint8 frames (N, H, W, 3) of any size: layout, scaling,
partial-window pooling instead of stride padding, cropping, the strength blend and rounding all run inside it, so
the host does no per-pixel work and frames cross to a GPU and back as 3 bytes a pixel. Frames go
through ONNX Runtime's IO binding: on CUDA/TensorRT the output lives in a device buffer reused
for every frame of a size (one copy back to the host per frame) and the style state is uploaded
once per state; on the CPU the frame array itself is bound (no copy in) and the graph writes into
a fresh array (no copy out).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import onnxruntime as ort

from livestyle.errors import UserError
from livestyle.runtime.manifest import checked_graph, load_manifest, model_info
from livestyle.runtime.sessions import Engine, frame_size_limits
from livestyle.runtime.style_state import StyleState



def to_nchw(image: np.ndarray) -> np.ndarray:
    """RGB uint8 (H,W,3) -> float32 (1,3,H,W) in [0,1] (the style graph's input)."""
    return np.ascontiguousarray(image.transpose(2, 0, 1)[None], dtype=np.float32) * np.float32(1 / 255)


def check_frame_size(width: int, height: int, limits: tuple[int, tuple[int, int]], what: str = "frame") -> None:
    """A clear error, before any work, for sizes the network or the providers cannot take.
    `limits`: (smallest side, largest WxH in either orientation), from sessions.frame_size_limits."""
    min_side, (max_w, max_h) = limits
    if min(width, height) < min_side:
        raise UserError(f"{what} size {width}x{height} is too small: STNet needs at least "
                        f"{min_side} pixels on each side")
    if max(width, height) > max(max_w, max_h) or min(width, height) > min(max_w, max_h):
        raise UserError(f"{what} size {width}x{height} is larger than the largest this runtime is set up "
                        f"for ({max_w}x{max_h}, either orientation; runtime.tensorrt.max_size in the config)")


MODEL_CHOICES = ("auto", "lite", "r31")
MANIFEST_KEYS = {"lite": "lite", "r31": "stnet"}


def choose_model(choice: str, engine: Engine, folder: Path) -> str:
    """The manifest entry for `--model`/runtime.model: auto is lite when the CPU is the only
    provider this engine can use and the export's lite model has passed the quality gate
    (`default_on_cpu` in its manifest entry, set by `export lite --default-on-cpu` once
    bench/stnet_quality.py shows it within issue 11's margins of r31), else r31: speed does not
    buy a worse picture by default."""
    if choice not in MODEL_CHOICES:
        raise UserError(f"runtime.model must be one of {', '.join(MODEL_CHOICES)}, not {choice!r}")
    if choice == "auto":
        lite = load_manifest(folder).get("models", {}).get("lite") or {}
        return "lite" if lite.get("default_on_cpu") and engine.available() == ("cpu",) else "stnet"
    return MANIFEST_KEYS[choice]


class STNetRunner:
    """Both STNet graphs, checked against the manifest and loaded on the engine's providers."""

    CONTENT_INPUTS = ["frame", "s_mean", "s_matrix", "strength"]

    def __init__(self, engine: Engine, folder: Path, style_size: int | None = None, model: str | None = None):
        """`model`: any STNet the manifest lists (its entry names its graphs, stride and channels);
        None: the engine config's choice (runtime.model, --model)."""
        model = choose_model(engine.cfg.model, engine, folder) if model is None else model
        self.model = model
        info = model_info(folder, model)
        missing = [k for k in ("style_graph", "content_graph", "stride", "channels") if k not in info]
        if missing:
            raise UserError(f"{folder}: the manifest's {model!r} entry lacks {', '.join(missing)}; "
                            f"re-export it with this livestyle version")
        self.model_name = f"{model} ({info.get('variant', '?')})"
        self.stride = int(info["stride"])
        self.channels = int(info["channels"])
        self.limits = frame_size_limits(engine.cfg)
        style_profile = None if style_size is None else {"style": (1, 3, style_size, style_size)}
        self.style_session = engine.session(checked_graph(folder, info["style_graph"]), dynamic_inputs=style_profile)
        content = info["content_graph"]
        if engine.cfg.cuda.fp16 and engine.available()[0] == "cuda":
            if not info.get("content_graph_fp16"):
                raise UserError(f"{folder}: runtime.cuda.fp16 is set but the {model!r} export has no fp16 "
                                f"content graph (export it with `livestyle export stnet --fp16`, or unset the option)")
            content = info["content_graph_fp16"]
        self.content_session = engine.session(  # TensorRT: one engine for the configured size range
            checked_graph(folder, content),
            dynamic_inputs={"frame": (-1, "H", "W", 3), "s_mean": (-1, self.channels), "s_matrix": (-1, 32, 32)})
        for session, names in ((self.style_session, ["style"]), (self.content_session, self.CONTENT_INPUTS)):
            if session.input_names != names:
                raise UserError(f"{session.path}: inputs {session.input_names}, expected {names}; "
                                f"the graph does not belong to this livestyle version (re-export it)")
        self.device = "cpu" if self.content_session.provider == "cpu" else "cuda"
        self.device_id = engine.cfg.device_id
        self._binding = self.content_session.inner.io_binding()
        self._out: dict[tuple[int, int], object] = {}          # device output buffers by (h, w)
        self._state_key: tuple[int, float] | None = None       # what is bound now
        self.last_run_ms = 0.0                                 # the graph run alone, for bench

    @property
    def provider(self) -> str:
        return self.content_session.provider

    def check_frame_size(self, width: int, height: int, what: str = "frame") -> None:
        check_frame_size(width, height, self.limits, what)

    def style_state(self, style: np.ndarray) -> StyleState:
        """style: RGB uint8 (h,w,3), any size (the statistics are global)."""
        self.check_frame_size(style.shape[1], style.shape[0], "style image")
        return self.style_state_tensor(to_nchw(style))

    def style_state_tensor(self, style: np.ndarray) -> StyleState:
        """style: float32 (1,3,h,w) in [0,1]."""
        out = self.style_session.run(style=style)
        mean, matrix = out["s_mean"], out["s_matrix"]
        if mean.shape != (1, self.channels) or matrix.shape != (1, 32, 32):
            raise UserError(f"{self.style_session.path}: outputs {mean.shape}, {matrix.shape} do not "
                            f"match the manifest ({self.channels} channels)")
        return StyleState(mean, matrix)

    def _bind_state(self, state: StyleState, strength: float) -> None:
        key = (id(state), float(strength))
        if key == self._state_key:
            return
        values = {"s_mean": state.mean, "s_matrix": state.matrix,
                  "strength": np.array([strength], np.float32)}
        for name, array in values.items():
            value = ort.OrtValue.ortvalue_from_numpy(np.ascontiguousarray(array, np.float32),
                                                     self.device, self.device_id)
            self._binding.bind_ortvalue_input(name, value)
        self._state = state  # keep the bound arrays alive as long as they are bound
        self._state_key = key

    def stylize(self, frame: np.ndarray, state: StyleState, strength: float | None = None) -> np.ndarray:
        """frame RGB uint8 (H,W,3), any size -> stylised RGB uint8 of the same size. `strength`
        0 = the raw frame, 1 = full style; by default the state's own (the reactive mapping's)."""
        strength = state.strength if strength is None else strength
        h, w = frame.shape[:2]
        frame = np.ascontiguousarray(frame, dtype=np.uint8)[None]
        self._bind_state(state, strength)
        binding = self._binding
        binding.bind_cpu_input("frame", frame)
        if self.device == "cpu":
            result = np.empty((1, h, w, 3), np.uint8)
            binding.bind_output("out", "cpu", 0, np.uint8, result.shape, result.ctypes.data)
        else:
            out = self._out.get((h, w))
            if out is None:
                out = self._out[(h, w)] = ort.OrtValue.ortvalue_from_shape_and_type((1, h, w, 3), np.uint8,
                                                                                    self.device, self.device_id)
            binding.bind_ortvalue_output("out", out)
        t0 = time.perf_counter()
        self.content_session.inner.run_with_iobinding(binding)
        self.last_run_ms = (time.perf_counter() - t0) * 1000.0
        if self.device != "cpu":
            result = out.numpy()
        return result[0]
