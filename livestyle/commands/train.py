"""`livestyle train stnet|lite|mvnet|vis2mus`: resumable training from a YAML config (needs the train extra)."""

from __future__ import annotations

import argparse
import shlex
import sys

from livestyle.config import load_config


def run(args: argparse.Namespace) -> None:
    if args.model == "stnet":
        from livestyle.train.stnet_trainer import STNetTrainConfig as Config, STNetTrainer as Trainer
    elif args.model == "lite":
        from livestyle.train.lite_trainer import LiteTrainConfig as Config, LiteTrainer as Trainer
    elif args.model == "vis2mus":
        from livestyle.train.vis2mus_trainer import Vis2MusTrainConfig as Config, Vis2MusTrainer as Trainer
    else:
        from livestyle.train.mvnet_trainer import MVNetTrainConfig as Config, MVNetTrainer as Trainer
    cfg = load_config(Config, args.config)
    if args.out_dir:
        cfg.out_dir = args.out_dir
    command = shlex.join(["livestyle", *sys.argv[1:]])
    where = str(args.config) if args.config else f"{args.model} training defaults"
    path = Trainer(cfg, progress=not args.quiet, command=command, where=where).train()
    print(f"trained weights: {path}")
