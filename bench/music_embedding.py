"""Does MVNet's encoder tell pieces apart where its generator does not? (issue 10)

On the fidelity pieces of one set (bench/fidelity_pieces.json; none of them MVNet training data),
one 8.91 s window per second, seed 0: the piece is named by nearest centroid, with whole
`--section`-second blocks of the piece held out of its own centroid, from
  embedding  E's latent (mvnet.onnx's `music` output), standardised per dimension
  image      the colour moments (mean and spread of CIELAB L, a, b) of G's 64x64 image
Silence is left out (it is trivially apart).

    python bench/music_embedding.py --set tuning
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

import fidelity  # noqa: E402
from livestyle.audio.features import clip_start_for, log_mel_window  # noqa: E402
from livestyle.runtime.manifest import models_dir  # noqa: E402
from livestyle.runtime.mvnet_runner import MVNetRunner, seeded_z  # noqa: E402
from livestyle.runtime.sessions import Engine, RuntimeConfig  # noqa: E402
from livestyle.runtime.style_bank import colour_moments  # noqa: E402


def identification(features: dict[str, np.ndarray], block: int) -> float:
    """Share of windows whose nearest standardised centroid is their own piece's, each window's
    own `block` left out of its piece's centroid."""
    allx = np.concatenate(list(features.values()))
    mu, sd = allx.mean(0), allx.std(0) + 1e-9
    z = {k: (v - mu) / sd for k, v in features.items()}
    correct = total = 0
    for k, rows in z.items():
        for b0 in range(0, len(rows), block):
            cents = {k2: (np.concatenate([r[:b0], r[b0 + block:]]) if k2 == k else r).mean(0) for k2, r in z.items()}
            for x in rows[b0:b0 + block]:
                correct += min(cents, key=lambda c: np.linalg.norm(x - cents[c])) == k
                total += 1
    return correct / total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--set", choices=["tuning", "reporting"], default="tuning")
    parser.add_argument("--seconds", type=float, default=40.0, help="excerpt per piece (default 40)")
    parser.add_argument("--section", type=int, default=10, help="seconds held out together (default 10)")
    parser.add_argument("--models", type=Path, default=None)
    args = parser.parse_args()
    mvnet = MVNetRunner(Engine(RuntimeConfig(intra_op_threads=1), ("cpu",)), models_dir(args.models))
    cfg, z = mvnet.mel_config, seeded_z(0)
    embeddings, images = {}, {}
    for piece in fidelity.load_pieces(args.set)["pieces"]:
        if piece["kind"] == "silence":
            continue
        audio = fidelity.piece_audio(piece, cfg.sample_rate, REPO / "runs" / "fidelity_audio", args.seconds)
        emb, mom = [], []
        for t in np.arange(5.0, len(audio) / cfg.sample_rate - 5.0, 1.0):
            style, music = mvnet.run(log_mel_window(audio, clip_start_for(t, cfg), cfg)[None], z)
            if music is None:
                raise SystemExit("this mvnet.onnx has no `music` output (livestyle export music-map)")
            emb.append(music[0])
            mom.append(colour_moments(np.clip(style[0].transpose(1, 2, 0) * 0.5 + 0.5, 0, 1)))
        embeddings[piece["id"]], images[piece["id"]] = np.array(emb), np.array(mom)
        print(f"  {piece['id']}: {len(emb)} windows", flush=True)
    chance = 1.0 / len(embeddings)
    print(f"{args.set}: {len(embeddings)} pieces, identification (chance {chance:.2f}): "
          f"E's embedding {identification(embeddings, args.section):.3f}, "
          f"G's image colours {identification(images, args.section):.3f}")


if __name__ == "__main__":
    main()
