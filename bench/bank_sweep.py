"""Usage:
    python bench/bank_sweep.py [--set tuning] [--temperatures 0.3] [--turns 0.5] [--follows 4]
                               [--seeds 4] [--seed-pieces 8] [--threads 1] [--json F.json]

Choose the style bank's steering settings (temperature, seed turn, follow) on many settings at
once: the music figures of bench/fidelity.py (pairwise dE between pieces, identification with
sections held out, the music's share of variance against the seed's, dE between seeds 0 and 1)
for every combination of the listed values, on the fidelity set's own pieces and render's own
tick/frame loop (fidelity.Runtime).

Why a separate script: with a bank steered by MVNet's music embedding, the embedding depends on
the audio window alone (not on the seed's z, not on the bank's settings), and it is what a tick
spends its time on. So MVNet runs once per window for the whole sweep (a cache keyed by the mel
window's bytes) and every further setting costs only the blends and the restyled photos: a
setting takes about a tenth of a fidelity run, and the seed figures can use every music piece of
the set instead of three. The cache hands the ticker a blank style image, which a bank steered by
the music never looks at; the script refuses graphs without the embedding for that reason.
Loudness, checkerboard, flicker and the tick's cost are not measured here: confirm a chosen
setting with bench/fidelity.py.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import itertools
import json
import sys
import time
from pathlib import Path

import numpy as np

BENCH = Path(__file__).resolve().parent


def fidelity_module():
    spec = importlib.util.spec_from_file_location("fidelity", BENCH / "fidelity.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["fidelity"] = module
    spec.loader.exec_module(module)
    return module


def cache_music(mvnet) -> dict:
    """Wrap mvnet.run so that each distinct mel window is run once; returns the cache."""
    run, cache = mvnet.run, {}
    blank = np.zeros((1, 3, 64, 64), np.float32)

    def cached(mel: np.ndarray, z: np.ndarray):
        key = hashlib.blake2b(np.ascontiguousarray(mel).tobytes(), digest_size=16).digest()
        music = cache.get(key)
        if music is None:
            music = cache[key] = run(mel, z)[1]
        return blank, music

    mvnet.run = cached
    return cache


def figures(fid, rt, plan, audio: dict, seeds: int) -> dict:
    ids = [p["id"] for p in plan.pieces]
    main = {i: rt.run(audio[i], plan.seconds, seed=0) for i in ids}
    labs = {i: fid.lab_means(main[i].frames) for i in ids}
    piece_lab = {i: v.mean(0) for i, v in labs.items()}
    pairwise = fid.pairwise_delta_e(piece_lab)
    guard = rt.mel_config.clip_seconds / 2 + 3 * rt.smoothing
    ident = fid.identify_sections([np.stack([fid.rgb_histogram(f) for f in main[i].frames]) for i in ids],
                                  [main[i].times for i in ids], plan.section, guard)
    seed_labs = np.zeros((len(plan.seed_pieces), seeds, 3))
    for a, p in enumerate(plan.seed_pieces):
        seed_labs[a, 0] = piece_lab[p["id"]]
        for s in range(1, seeds):
            seed_labs[a, s] = fid.lab_means(rt.run(audio[p["id"]], plan.seconds, seed=s).frames).mean(0)
    shares = fid.variance_shares(seed_labs)
    seed01 = [float(fid.delta_e(seed_labs[a, 0], seed_labs[a, 1])) for a in range(len(plan.seed_pieces))]
    return {"pairwise_dE_mean": pairwise["mean"], "pairwise_dE_min": pairwise["min"],
            "closest": pairwise["closest"], "identification": ident["frame_accuracy"],
            "identification_sections": ident["section_accuracy"],
            "music_over_seed": shares["music_over_seed"], "seed01_dE_min": min(seed01),
            "seed01_dE_mean": float(np.mean(seed01))}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[1], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--set", choices=("tuning", "reporting"), default="tuning")
    parser.add_argument("--temperatures", default="0.3", help="comma-separated (default 0.3, render's)")
    parser.add_argument("--turns", default="0.5", help="seed turns in radians, comma-separated (default 0.5)")
    parser.add_argument("--follows", default="4", help="follow time constants in seconds, comma-separated (default 4)")
    parser.add_argument("--seeds", type=int, default=4, help="seeds 0..N-1 (default 4)")
    parser.add_argument("--seed-pieces", type=int, default=8, help="music pieces the seed figures use (default 8: all)")
    parser.add_argument("--models", type=Path, default=None, help="folder of the ONNX graphs (default exported/)")
    parser.add_argument("--styles", default="builtin", metavar="DIR|builtin")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--cache", type=Path, default=BENCH.parent / "runs" / "fidelity_audio")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.seeds < 2 or args.seed_pieces < 2:
        parser.error("--seeds and --seed-pieces must be at least 2")

    fid = fidelity_module()
    from livestyle.commands.render import RenderConfig
    from livestyle.runtime.reactive import ReactiveConfig
    from livestyle.runtime.style_bank import styles_folder

    folder = styles_folder(args.styles, "--styles")
    if folder is None:
        parser.error("--styles mvnet has no bank to steer")
    rt = fid.Runtime(args.models, args.threads, ("cpu",), RenderConfig().smoothing, folder, ReactiveConfig())
    if rt.mvnet.music_map is None:
        sys.exit(f"{rt.folder}: the MVNet graph exposes no music embedding; nothing to sweep")
    cache = cache_music(rt.mvnet)
    sets = fid.load_pieces(args.set)
    plan = fid.make_plan(sets["pieces"], False, args.seeds, args.seed_pieces, 0, 0)
    audio = {p["id"]: fid.piece_audio(p, rt.sample_rate, args.cache, plan.seconds) for p in plan.pieces}
    print(f"bank sweep: set {args.set}, {len(plan.pieces)} pieces x {plan.seconds:g} s, seeds {args.seeds} on "
          f"{len(plan.seed_pieces)} pieces, bank {folder} ({len(rt.bank.states)} images)", flush=True)

    rows = []
    grid = itertools.product(*(map(float, v.split(",")) for v in (args.temperatures, args.turns, args.follows)))
    header = f"{'T':>5} {'turn':>5} {'follow':>6} | {'pair mean':>9} {'min':>5} {'ident':>5} {'sect':>5} " \
             f"{'music/seed':>10} {'seed01 min':>10} {'mean':>5} | closest"
    print(header, flush=True)
    for temperature, turn, follow in grid:
        t0 = time.perf_counter()
        rt.bank.temperature, rt.bank.seed_turn, rt.follow = temperature, turn, follow
        f = figures(fid, rt, plan, audio, args.seeds)
        f.update(temperature=temperature, seed_turn=turn, follow=follow, seconds=round(time.perf_counter() - t0, 1))
        rows.append(f)
        print(f"{temperature:5.2f} {turn:5.2f} {follow:6.1f} | {f['pairwise_dE_mean']:9.2f} {f['pairwise_dE_min']:5.2f} "
              f"{f['identification']:5.2f} {f['identification_sections']:5.2f} {f['music_over_seed']:10.2f} "
              f"{f['seed01_dE_min']:10.2f} {f['seed01_dE_mean']:5.2f} | {'/'.join(f['closest'])} ({f['seconds']:.0f} s, "
              f"{len(cache)} windows cached)", flush=True)
    if args.json:
        args.json.write_text(json.dumps({"set": args.set, "seeds": args.seeds,
                                         "seed_pieces": [p["id"] for p in plan.seed_pieces],
                                         "models": str(rt.folder), "styles": str(folder), "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
