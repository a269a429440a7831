"""Vis2Mus figures (issue 14), on POP909 songs the model did not train on (its validation songs, as
recorded in the manifest), with the exported PolyDis:

  reconstruction  per 2-bar segment of the held-out songs (BRIDGE + PIANO, shift 0): F1 of
                  (onset, pitch) between the input and the greedy decode of the posterior means,
                  against two baselines: the texture code replaced by the training mean of the
                  texture means (chords only), and repeating the previous 2-bar segment
  sweep           on `--anchors` held-out songs (`--anchor-bars` PIANO excerpts, the first with
                  notes; 32 bars by default: session 5's 8 bars gave each figure 4 segments, too
                  few to tell a trend from one segment's decode), B and
                  K each swept over -60..+60 with the other at 0: note density (onsets per beat),
                  mean pitch, pitch spread and chord-tone share of the output; per anchor, whether
                  each figure moves monotonically with B (with K), and the lowest chord-tone share
                  relative to the anchor's own

    python bench/vis2mus_eval.py --data runs/pop909 --anchors 6 --json runs/vis2mus_eval.json

The targets: some figure moves monotonically with B in the same direction on every anchor (and
one with K); the chord-tone share stays >= 0.8x the anchor's at every setting; reconstruction
beats both baselines.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from livestyle.runtime.manifest import model_info, models_dir  # noqa: E402
from livestyle.train.vis2mus_trainer import note_f1  # noqa: E402
from livestyle.vis2mus.pop909 import load_song, segments  # noqa: E402
from livestyle.vis2mus.representation import STEPS, prmat_to_tree  # noqa: E402
from livestyle.vis2mus.transforms import enhance_segments, music_figures, trees_to_notes  # noqa: E402
from livestyle.vis2mus.weights import load_polydis  # noqa: E402

SWEEP = (-60, -30, 0, 30, 60)


def tensors(segs):
    pr = torch.tensor(np.stack([s.pr_mat for s in segs]).astype(np.float32))
    c = torch.tensor(np.stack([s.chords for s in segs]).astype(np.float32))
    return pr, c


@torch.no_grad()
def reconstruction(model, train_segs, val_segs, all_val=None, batch: int = 64) -> dict:
    """Mean per-segment note F1 of the model and of the two baselines. `all_val`: every held-out
    window, where the previous-segment baseline finds the window two bars back."""
    by_bar = {(s.song, s.bar): s for s in (all_val or val_segs)}
    mean_txt = []
    for i in range(0, min(len(train_segs), 2048), batch):
        pr, _ = tensors(train_segs[i:i + batch])
        mean_txt.append(model.txt_encoder(pr).mean)
    mean_txt = torch.cat(mean_txt).mean(0, keepdim=True)
    f1 = {"model": [], "mean_texture": [], "previous_segment": []}
    for i in range(0, len(val_segs), batch):
        chunk = val_segs[i:i + batch]
        pr, c = tensors(chunk)
        targets = [prmat_to_tree(s.pr_mat.astype(np.float64)) for s in chunk]
        z_chd = model.chd_encoder(c).mean
        decoded = model.decode(z_chd, model.txt_encoder(pr).mean).numpy()
        chords_only = model.decode(z_chd, mean_txt.expand(len(chunk), -1)).numpy()
        for j, (seg, target) in enumerate(zip(chunk, targets)):
            f1["model"].append(note_f1(decoded[j], target))
            f1["mean_texture"].append(note_f1(chords_only[j], target))
            prev = by_bar.get((seg.song, seg.bar - 2))   # the previous 2-bar segment
            if prev is not None:
                f1["previous_segment"].append(note_f1(prmat_to_tree(prev.pr_mat.astype(np.float64)), target))
    return {name: {"mean_f1": round(float(np.mean(v)), 4), "segments": len(v)} for name, v in f1.items() if v}


@torch.no_grad()
def sweep(model, anchors) -> dict:
    out = {}
    for name, segs in anchors.items():
        pr, c = tensors(segs)
        chords = np.concatenate([s.chords for s in segs]).astype(np.float64)
        steps = STEPS * len(segs)
        original = trees_to_notes(np.stack([prmat_to_tree(s.pr_mat.astype(np.float64)) for s in segs]))
        base = music_figures(original, chords, steps)
        rows = {"anchor": base, "brightness": {}, "contrast": {}}
        for knob in ("brightness", "contrast"):
            for v in SWEEP:
                b, k = (v, 0) if knob == "brightness" else (0, v)
                notes = trees_to_notes(enhance_segments(model, pr, c, b, k))
                rows[knob][v] = music_figures(notes, chords, steps)
        out[name] = rows
    return out


def monotonic(values: list[float]) -> int:
    """+1 rising, -1 falling, 0 neither (non-strict, not flat)."""
    d = np.diff(values)
    if np.all(d >= 0) and np.any(d > 0):
        return 1
    if np.all(d <= 0) and np.any(d < 0):
        return -1
    return 0


def summarise(sw: dict) -> dict:
    figures = ("density", "mean_pitch", "pitch_spread", "chord_tone_share")
    summary = {}
    for knob in ("brightness", "contrast"):
        per_figure = {}
        for f in figures:
            directions = [monotonic([rows[knob][v][f] for v in SWEEP]) for rows in sw.values()]
            per_figure[f] = {"directions": directions,
                             "consistent": bool(directions and all(d == directions[0] != 0 for d in directions))}
        summary[knob] = per_figure
    ratios = [min(rows[knob][v]["chord_tone_share"] for knob in ("brightness", "contrast") for v in SWEEP)
              / rows["anchor"]["chord_tone_share"] for rows in sw.values() if rows["anchor"]["chord_tone_share"]]
    summary["lowest_chord_tone_share_vs_anchor"] = round(float(min(ratios)), 3) if ratios else None
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=REPO / "runs" / "pop909")
    parser.add_argument("--models", type=Path, default=None)
    parser.add_argument("--anchors", type=int, default=6)
    parser.add_argument("--anchor-bars", type=int, default=32, help="length of each anchor excerpt (even)")
    parser.add_argument("--segments", type=int, default=1024,
                        help="held-out segments for the reconstruction figures (every 7th of the validation songs' "
                             "windows up to this many, so every song counts; 0: all)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    info = model_info(models_dir(args.models), "vis2mus")
    data = info["training"]["data"]
    model = load_polydis(args.models)
    train = [s for name in data["train_songs"][:60] for s in segments(load_song(args.data / name))]
    val_songs = {name: load_song(args.data / name) for name in data["validation_songs"]}
    every = [s for song in val_songs.values() for s in segments(song)]
    val = every[::max(1, len(every) // args.segments)] if args.segments else every   # spread over the songs
    rec = reconstruction(model, train, val, every)
    rec["held_out_windows"] = {"evaluated": len(val), "of": len(every)}
    print("reconstruction (mean note F1 per held-out segment):", json.dumps(rec))
    anchors = {}
    for name, song in sorted(val_songs.items()):
        long = segments(song, num_bar=args.anchor_bars, accompaniment=("PIANO",))
        if long:
            first = long[0]
            anchors[name] = [type(first)(name, first.bar, first.pr_mat[STEPS * k:STEPS * (k + 1)],
                                         first.chords[8 * k:8 * (k + 1)], first.melody_codes[STEPS * k:STEPS * (k + 1)])
                             for k in range(args.anchor_bars // 2)]
        if len(anchors) == args.anchors:
            break
    sw = sweep(model, anchors)
    summary = summarise(sw)
    print("sweep:", json.dumps(summary, indent=1))
    if args.json:
        args.json.write_text(json.dumps({"reconstruction": rec, "sweep": sw, "summary": summary,
                                         "anchors": list(anchors)}, indent=1) + "\n")


if __name__ == "__main__":
    main()
