"""`livestyle data stnet-starter|starter DIR`: build the training sets from package sources."""

from __future__ import annotations

import argparse
from pathlib import Path


def run(args: argparse.Namespace) -> None:
    if args.kind == "stnet-starter":
        from livestyle.train.stnet_data import build_stnet_set

        counts = build_stnet_set(Path(args.dir))
    else:
        from livestyle.train.mvnet_data import build_mvnet_starter

        counts = build_mvnet_starter(Path(args.dir), pieces_per_composer=args.pieces)
    print(f"{args.dir}: " + ", ".join(f"{v} {k}" for k, v in counts.items()))
