"""PolyDis weights as safetensors (no pickle on load), listed in exported/manifest.json under
`models.vis2mus` with their sizes, so a model of any PolyDisConfig loads by itself."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from livestyle.errors import UserError
from livestyle.runtime.manifest import checked_graph, model_info, models_dir

WEIGHTS = "vis2mus.safetensors"


def save_weights(model, path: Path) -> None:
    from safetensors.torch import save_file

    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path),
              metadata={"polydis_config": json.dumps(asdict(model.cfg))})


def load_polydis(folder: Path | None = None):
    """The exported PolyDis, in eval mode (CPU)."""
    try:
        from safetensors.torch import load_file

        from livestyle.vis2mus.model import PolyDis, PolyDisConfig
    except ImportError:
        raise UserError("livestyle vis2mus needs torch and safetensors: pip install 'livestyle[vis2mus]'") from None
    folder = models_dir(folder)
    info = model_info(folder, "vis2mus")
    path = checked_graph(folder, info.get("weights", WEIGHTS))
    model = PolyDis(PolyDisConfig(**info["model_config"]))
    model.load_state_dict(load_file(str(path)))
    return model.eval()
