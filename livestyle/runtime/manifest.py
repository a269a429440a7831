"""The exported graphs and their manifest (exported/manifest.json).

Every graph is checked against the manifest before it is used: present, the sha256 recorded at
export time, and the manifest's format version known to this code. A mismatch means the folder
holds graphs from another export or a damaged download, which would otherwise surface as garbage
frames or an obscure shape error deep in ONNX Runtime.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from livestyle.errors import UserError

MANIFEST = "manifest.json"
MANIFEST_FORMAT = 2  # 2: the content graph takes and returns uint8 NHWC frames and a strength
REPO_MODELS = Path(__file__).resolve().parents[2] / "exported"


def models_dir(override: str | Path | None = None) -> Path:
    """--models, else $LIVESTYLE_MODELS, else the repository's exported/ folder."""
    return Path(override or os.environ.get("LIVESTYLE_MODELS") or REPO_MODELS)


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def load_manifest(folder: Path) -> dict[str, Any]:
    path = folder / MANIFEST
    if not path.is_file():
        raise UserError(f"{path}: no model manifest; export the models first (livestyle export ...) "
                        f"or point --models at a folder with exported graphs")
    try:
        manifest = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise UserError(f"{path}: manifest is not valid JSON ({exc})") from None
    if not isinstance(manifest, dict) or "format" not in manifest:
        raise UserError(f"{path}: not a livestyle manifest (expected an object with \"format\", \"graphs\" "
                        f"and \"models\"); point --models at a folder written by `livestyle export`")
    if manifest.get("format") != MANIFEST_FORMAT:
        raise UserError(f"{path}: manifest format {manifest.get('format')!r}, this livestyle reads "
                        f"format {MANIFEST_FORMAT}; re-export the models with this version")
    check_structure(path, manifest)
    return manifest


def check_structure(path: Path, manifest: dict[str, Any]) -> None:
    """The parts of the manifest the runtime reads, with the types it expects."""
    graphs, models = manifest.get("graphs"), manifest.get("models")
    problem = None
    if not isinstance(graphs, dict):
        problem = "\"graphs\" is missing or not an object"
    elif not isinstance(models, dict) or not all(isinstance(m, dict) for m in models.values()):
        problem = "\"models\" is missing or not an object of objects"
    else:
        for name, entry in graphs.items():
            if not isinstance(entry, dict) or not isinstance(entry.get("sha256"), str):
                problem = f"the entry of graph {name!r} has no sha256"
                break
    if problem:
        raise UserError(f"{path}: not a livestyle manifest: {problem}; re-export the models "
                        f"(livestyle export ...) or restore the file")


def model_info(folder: Path, model: str) -> dict[str, Any]:
    """The manifest's entry for `model` (e.g. "stnet")."""
    manifest = load_manifest(folder)
    info = manifest.get("models", {}).get(model)
    if info is None:
        raise UserError(f"{folder / MANIFEST}: no {model!r} model recorded; export it with "
                        f"`livestyle export {model}`")
    return info


def checked_graph(folder: Path, filename: str, verify_hash: bool = True) -> Path:
    """Path to a graph that exists and matches the manifest's sha256."""
    manifest = load_manifest(folder)
    entry = manifest.get("graphs", {}).get(filename)
    path = folder / filename
    if entry is None:
        raise UserError(f"{folder / MANIFEST}: does not list {filename}; re-export the models")
    if not path.is_file():
        raise UserError(f"{path}: model file missing (listed in {MANIFEST})")
    if verify_hash and sha256(path) != entry["sha256"]:
        raise UserError(f"{path}: does not match {MANIFEST} (sha256 differs): the file was replaced "
                        f"or damaged; re-export the models or restore the file")
    return path
