"""The exported MVNet on ONNX Runtime: log-mel window + fixed z -> 64x64 style image, and, where
the graph exposes it, E's music embedding beside it with the map that whitens it
(runtime/music_map.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from livestyle.audio.features import MelConfig
from livestyle.errors import UserError
from livestyle.runtime.sessions import Engine
from livestyle.runtime.manifest import checked_graph, model_info
from livestyle.runtime.music_map import FILE as MUSIC_MAP_FILE, MusicMap

GRAPH = "mvnet.onnx"


def seeded_z(seed: int, batch: int = 1, z_dim: int = 256) -> np.ndarray:
    """The fixed noise for a seed (numpy PCG64 normals; livestyle.models.mvnet.seeded_z matches)."""
    rng = np.random.default_rng(seed)
    return rng.standard_normal((batch, z_dim, 8, 8), dtype=np.float32)


class MVNetRunner:
    def __init__(self, engine: Engine, folder: Path):
        info = model_info(folder, "mvnet")
        self.mel_config = MelConfig(**info["mel"])
        self.z_dim = int(info["z_dim"])
        self.session = engine.session(checked_graph(folder, GRAPH))
        if self.session.input_names != ["mel", "z"]:
            raise UserError(f"{self.session.path}: inputs {self.session.input_names}, expected ['mel', 'z']")
        self.music_map: MusicMap | None = None
        if info.get("music_map"):
            if "music" not in self.session.output_names:
                raise UserError(f"{self.session.path}: the manifest lists a music map but the graph has no "
                                f"'music' output; re-export the models")
            self.music_map = MusicMap.load(checked_graph(folder, MUSIC_MAP_FILE))

    @property
    def provider(self) -> str:
        return self.session.provider

    def run(self, mel: np.ndarray, z: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """mel (N,3,128,256), z (N,256,8,8) -> style (N,3,64,64) in [-1, 1], and E's embedding
        (N,128) where the graph has it (None for graphs exported before it was exposed)."""
        out = self.session.run(mel=mel.astype(np.float32, copy=False), z=z)
        return out["style"], out.get("music")

    def style_image(self, mel: np.ndarray, z: np.ndarray) -> np.ndarray:
        """One window's mel (3,128,256) -> RGB uint8 (64,64,3)."""
        style = self.run(mel[None], z[:1])[0][0]
        return (np.clip(style.transpose(1, 2, 0) * 0.5 + 0.5, 0, 1) * 255 + 0.5).astype(np.uint8)
