"""The exported STNet on ONNX Runtime: style image -> style state, frame + style state -> frame.

Frames are RGB uint8 (H, W, 3) at any size: they are reflection-padded up to the encoder's stride
(4 for r31) and the output is cropped back, so no size drifts and no border is lost.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from livestyle.errors import UserError
from livestyle.runtime.sessions import Engine
from livestyle.runtime.style_state import StyleState
from livestyle.runtime.manifest import checked_graph, model_info

STYLE_GRAPH = "stnet_style.onnx"
CONTENT_GRAPH = "stnet_content.onnx"


def to_nchw(image: np.ndarray) -> np.ndarray:
    """RGB uint8 (H,W,3) -> float32 (1,3,H,W) in [0,1]."""
    return np.ascontiguousarray(image.transpose(2, 0, 1)[None], dtype=np.float32) * np.float32(1 / 255)


def to_hwc_uint8(tensor: np.ndarray) -> np.ndarray:
    """float (1,3,H,W) in [0,1] -> RGB uint8 (H,W,3)."""
    return (np.clip(tensor[0].transpose(1, 2, 0), 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def pad_to_multiple(image: np.ndarray, multiple: int) -> tuple[np.ndarray, tuple[int, int]]:
    """Reflection-pad bottom/right so H and W are multiples of `multiple`; returns the original size."""
    h, w = image.shape[:2]
    ph, pw = -h % multiple, -w % multiple
    if ph or pw:
        mode = "reflect" if h > ph and w > pw else "edge"  # reflect needs the pad < the side
        image = np.pad(image, ((0, ph), (0, pw), (0, 0)), mode=mode)
    return image, (h, w)


class STNetRunner:
    """Both STNet graphs, checked against the manifest and loaded on the engine's providers."""

    def __init__(self, engine: Engine, folder: Path):
        info = model_info(folder, "stnet")
        self.stride = int(info["stride"])
        self.channels = int(info["channels"])
        self.style_session = engine.session(checked_graph(folder, STYLE_GRAPH))
        self.content_session = engine.session(  # TensorRT: one engine for the configured size range
            checked_graph(folder, CONTENT_GRAPH),
            dynamic_inputs={"frame": (-1, 3, "H", "W"), "s_mean": (-1, self.channels), "s_matrix": (-1, 32, 32)})
        for session, names in ((self.style_session, ["style"]),
                               (self.content_session, ["frame", "s_mean", "s_matrix"])):
            if session.input_names != names:
                raise UserError(f"{session.path}: inputs {session.input_names}, expected {names}; "
                                f"the graph does not belong to this livestyle version")

    @property
    def provider(self) -> str:
        return self.content_session.provider

    def style_state(self, style: np.ndarray) -> StyleState:
        """style: RGB uint8 (h,w,3), any size (the statistics are global)."""
        return self.style_state_tensor(to_nchw(style))

    def style_state_tensor(self, style: np.ndarray) -> StyleState:
        """style: float32 (1,3,h,w) in [0,1]."""
        out = self.style_session.run(style=style)
        mean, matrix = out["s_mean"], out["s_matrix"]
        if mean.shape != (1, self.channels) or matrix.shape != (1, 32, 32):
            raise UserError(f"{self.style_session.path}: outputs {mean.shape}, {matrix.shape} do not "
                            f"match the manifest ({self.channels} channels)")
        return StyleState(mean, matrix)

    def stylize_tensor(self, frame: np.ndarray, state: StyleState) -> np.ndarray:
        """frame float32 (1,3,H,W) with H, W multiples of the stride -> same shape in [0,1]."""
        return self.content_session.run(frame=frame, s_mean=state.mean, s_matrix=state.matrix)["out"]

    def stylize(self, frame: np.ndarray, state: StyleState) -> np.ndarray:
        """frame RGB uint8 (H,W,3), any size -> stylised RGB uint8 of the same size."""
        padded, (h, w) = pad_to_multiple(frame, self.stride)
        out = self.stylize_tensor(to_nchw(padded), state)
        return to_hwc_uint8(out)[:h, :w]
