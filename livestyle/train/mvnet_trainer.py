"""`livestyle train mvnet`: E, G against D (RaGAN), with the triplet, style and era losses.

Per step, on a batch of (clip, painting of the clip's era) pairs:
  D  relativistic average GAN, BCE form (paper Eq. 3), on real paintings vs G(E(clip), z);
  C  era cross-entropy on real paintings only;
  E,G  L = L_adv + 0.1 L_tri + 10 L_sty + 0.1 L_cls
       L_tri: triplet margin 1.0 on the flattened music latent v; positives and negatives are other
              clips of the same batch (batches hold several clips of each of several eras), so E
              runs once per clip instead of three times;
       L_sty: L1 between per-image Gram matrices of VGG-19 conv1_1, conv1_2, conv2_1, conv2_2,
              conv3_1 (pre-ReLU) of the generated image and the paired painting;
       L_cls: era cross-entropy of C on the generated image.
       L_ms (off in the paper): mode seeking, see `mode_seeking_loss`.
Adam lr 1e-4, betas (0.9, 0.999), weight decay 1e-4, batch 16, paintings resized to 96 and
randomly cropped to 64. Pairs are redrawn every epoch.

Deviations, for small data sets (all configurable, all off in the paper): D sees its inputs
through DiffAugment (colour + translation); without it, on the 27-painting starter set D wins
within three epochs and G collapses to one grey checkerboard (measured: D loss 0.002, generated
era accuracy at chance). `adv_warmup_epochs` lets E/G learn the style, era and triplet terms
before the adversarial game starts. The style loss pairs each clip with a random painting of its
era, so under L1 its optimum is the era's "median painting" for every clip: the starter runs
collapsed to one look (diversity 0.12-0.29 of the paintings'). `loss.ms` adds MSGAN's mode-seeking
term, measured between the looks (Gram matrices) rather than pixels, so G is paid for letting
different music give looks as different as the paintings'. With `z_per_batch` the batch shares one
z, so that variety has to come from the music rather than from z.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from livestyle.io.decode import load_audio
from livestyle.audio.features import MelConfig, torch_log_mel
from livestyle.config import to_dict
from livestyle.errors import UserError
from livestyle.io.images import read_image, write_image
from livestyle.models.mvnet import MVNet, Discriminator, EraClassifier, seeded_z
from livestyle.models.vgg import VGGEncoder, load_vgg19_weights
from livestyle.train import distributed
from livestyle.train.data import EraBins, read_year_csv, resize_shorter, to_image
from livestyle.train.stnet_trainer import gram

log = logging.getLogger(__name__)

STYLE_LAYERS = ("conv1_1", "conv1_2", "conv2_1", "conv2_2", "conv3_1")


@dataclass
class LossWeights:
    adv: float = 1.0
    tri: float = 0.1
    sty: float = 10.0
    cls: float = 0.1
    ms: float = 0.0     # mode seeking (MSGAN, Mao et al. 2019); 0 in the paper, see mode_seeking_loss
    piece: float = 0.0  # one look per piece: pulls the looks of clips of one piece together, see piece_losses
    steady: float = 0.0  # the same look for a window and the window steady_shift_s later, see steady_loss



@dataclass
class MVNetTrainConfig:
    audio_csv: str = "runs/mvnet_data/audio.csv"
    images_csv: str = "runs/mvnet_data/images.csv"
    out_dir: str = "runs/mvnet"
    era_base: int = 1480
    era_bin_years: int = 10
    era_count: int = 54
    clips_per_piece: int = 8          # the clip at one third of the piece + evenly spread others
    epochs: int = 100
    batch_size: int = 16
    eras_per_batch: int = 4           # batches hold batch_size / eras_per_batch clips of each era
    lr: float = 1e-4
    betas: tuple[float, float] = (0.9, 0.999)
    weight_decay: float = 1e-4
    load_size: int = 96
    # Random crops at several scales (issue 10): each crop's side is crop * s, s drawn uniformly in
    # this range, taken from the painting at load_size and resized to crop, so G sees a painting's
    # texture at several distances. (1, 1): one scale, as the paper.
    crop_scales: tuple[float, float] = (1.0, 1.0)
    crop: int = 64
    triplet_margin: float = 1.0
    loss: LossWeights = field(default_factory=LossWeights)
    # Deviations for small data sets (see the module docstring): differentiable augmentation of
    # D's inputs, and epochs of E/G training without the adversarial term before D joins in.
    diffaugment: tuple[str, ...] = ("color", "translation")
    adv_warmup_epochs: int = 0
    window: str = "hann"
    log_mel: bool = True
    log_eps: float = 1e-6
    seed: int = 0
    threads: int = 0
    device: str = "auto"   # auto: the GPU when torch sees one (cuda:LOCAL_RANK under torchrun), else cpu
    checkpoint_every: int = 50        # steps
    sample_every_epochs: int = 5
    generator_upsample: str = "deconv"  # "resize": nearest x2 + conv, no checkerboard (models/mvnet.py)
    # Collapse guard: generated images (z fixed, the music varying) must vary like the paintings.
    # diversity = mean pairwise Gram distance of generated images / the paintings' own; realism =
    # mean distance of a generated image to its nearest painting / the paintings' mean distance
    # to their nearest other painting. Below collapse_diversity the log warns. The shipped
    # weights are the epoch with the best min(diversity, 1) / max(realism, 1), not the last.
    collapse_diversity: float = 0.2
    # One z for the whole batch (off in the paper: one z per image). With it, the images of a batch
    # differ only through their music, so the mode-seeking term can be met only by the music; with
    # one z per image, session 4's run met it through z and the seed outweighed the music 8:1.
    z_per_batch: bool = False
    # Which pairs the mode-seeking term compares: "neighbours" (each image with the next in the
    # batch, whatever its piece: the session-4 and session-6 runs, which taught G to amplify small
    # mel changes into flicker) or "pieces" (every pair of clips from different pieces, with
    # loss.piece pulling clips of one piece together): see piece_losses.
    mode_seeking_pairs: str = "neighbours"
    # > 0: each clip also gets the log-mel of its window this many seconds later, and loss.steady
    # pays for the two looks being alike (the music a fraction of a second on is the same music:
    # what steady music gives the runtime, where the pieces run flickered, bench/RESULTS.md).
    steady_shift_s: float = 0.0

    def check(self, where: str = "mvnet training config") -> None:
        """Settings that would fail or be silently ignored, refused before any data loads."""
        if self.mode_seeking_pairs not in ("neighbours", "pieces"):
            raise UserError(f"{where}: mode_seeking_pairs {self.mode_seeking_pairs!r} is not one of neighbours, pieces")
        if self.steady_shift_s < 0 or (self.loss.steady and not self.steady_shift_s):
            raise UserError(f"{where}: steady_shift_s {self.steady_shift_s} must be > 0 when loss.steady is set "
                            "(and never < 0)")
        if not self.crop_scales[0] <= self.crop_scales[1] or self.crop_scales[0] < 1.0:
            raise UserError(f"{where}: crop_scales {list(self.crop_scales)} must be [low, high] with 1 <= low <= high")

    @property
    def bins(self) -> EraBins:
        return EraBins(self.era_base, self.era_bin_years, self.era_count)

    @property
    def mel(self) -> MelConfig:
        return MelConfig(window=self.window, log=self.log_mel, eps=self.log_eps)


# ------------------------------------------------------------------------------ data

def clip_starts(n_samples: int, clip: int, count: int) -> list[int]:
    """The paper's clip at one third of the piece first, then `count - 1` more spread evenly."""
    last = n_samples - clip
    third = min(n_samples // 3, last)
    others = np.linspace(0, last, count + 1).round().astype(int).tolist() if count > 1 else []
    starts = [third] + [s for s in others if abs(s - third) >= clip // 8]  # overlap is fine, repeats not
    return starts[:count]


class MusicArtDataset:
    """Log-mel clips and paintings with era labels, from the two CSVs.

    Mels are computed once with the torchaudio front end and cached in out_dir (keyed by the CSV
    contents and the mel settings). Only eras that have both music and paintings are used for
    pairs; other clips and paintings are reported and left out."""

    def __init__(self, cfg: MVNetTrainConfig, cache_dir: Path, progress: bool = True):
        self.cfg = cfg
        bins = cfg.bins
        music = read_year_csv(cfg.audio_csv)
        images = read_year_csv(cfg.images_csv)
        music_eras = {it: bins.label(it.year) for it in music}
        image_eras = {it: bins.label(it.year) for it in images}
        both = {e for e in music_eras.values() if e is not None} & {e for e in image_eras.values() if e is not None}
        if not both:
            raise UserError(f"{cfg.audio_csv}, {cfg.images_csv}: no era has both music and paintings "
                            f"(era bins: base {bins.base}, {bins.bin_years} years, {bins.count} bins)")
        self.eras = sorted(both)
        unused = [it for it, e in music_eras.items() if e not in both]
        if unused:
            log.info("%d audio files fall in eras without paintings (or outside the bins) and are not used",
                     len(unused))
        self.pieces = [it for it in music if music_eras[it] in both]
        self.mels, self.clip_eras, self.clip_piece, self.shifted_mels = self._load_mels(cache_dir, progress)
        self.paintings, self.painting_eras = [], []
        for it in images:
            if image_eras[it] in both:
                self.paintings.append(resize_shorter(read_image(it.path), cfg.load_size))
                self.painting_eras.append(image_eras[it])
        self.by_era = defaultdict(list)
        for i, e in enumerate(self.clip_eras):
            self.by_era[e].append(i)
        self.paintings_by_era = defaultdict(list)
        for i, e in enumerate(self.painting_eras):
            self.paintings_by_era[e].append(i)

    def _load_mels(self, cache_dir: Path, progress: bool):
        """Log-mels of every clip (and, with steady_shift_s, of each clip's window that much
        later, or earlier at a piece's end), cached by pieces and settings."""
        cfg, mel_cfg = self.cfg, self.cfg.mel
        settings = [to_dict(mel_cfg), cfg.clips_per_piece] + ([cfg.steady_shift_s] if cfg.steady_shift_s else [])
        key = hashlib.sha256(json.dumps([[str(p.path), p.year] for p in self.pieces] + settings).encode()).hexdigest()[:16]
        cache = cache_dir / f"mels_{key}.npz"
        if cache.exists():
            data = np.load(cache)
            shifted = torch.from_numpy(data["shifted"]) if "shifted" in data else None
            return torch.from_numpy(data["mels"]), data["eras"].tolist(), data["pieces"].tolist(), shifted
        mels, shifted, eras, pieces = [], [], [], []
        shift = round(cfg.steady_shift_s * mel_cfg.sample_rate)
        for index, item in enumerate(tqdm(self.pieces, desc="log-mel clips", disable=not progress)):
            audio = load_audio(item.path, mel_cfg.sample_rate)
            if len(audio) < mel_cfg.clip_samples + shift:
                needed = f"{mel_cfg.clip_seconds}" + (f" + {cfg.steady_shift_s}" if shift else "")
                raise UserError(f"{item.path}: audio is {len(audio) / mel_cfg.sample_rate:.2f} s long, "
                                f"shorter than the {needed} s clip MVNet needs")
            starts = clip_starts(len(audio), mel_cfg.clip_samples, cfg.clips_per_piece)
            clips = torch.from_numpy(np.stack([audio[s:s + mel_cfg.clip_samples] for s in starts]))
            mels.append(torch_log_mel(clips, mel_cfg))
            if shift:
                later = [s + shift if s + shift + mel_cfg.clip_samples <= len(audio) else s - shift for s in starts]
                moved = torch.from_numpy(np.stack([audio[s:s + mel_cfg.clip_samples] for s in later]))
                shifted.append(torch_log_mel(moved, mel_cfg))
            eras += [self.cfg.bins.label(item.year)] * len(starts)
            pieces += [index] * len(starts)
        mels = torch.cat(mels)
        extra = {"shifted": torch.cat(shifted).numpy()} if shift else {}
        np.savez(cache, mels=mels.numpy(), eras=np.array(eras), pieces=np.array(pieces), **extra)
        return mels, eras, pieces, (torch.cat(shifted) if shift else None)

    def painting(self, index: int, rng: random.Random, crop: int,
                 scales: tuple[float, float] = (1.0, 1.0)) -> torch.Tensor:
        """Random crop (side crop * s, s uniform in `scales`, resized to crop) + flip of a painting,
        as a (3, crop, crop) tensor in [-1, 1]."""
        image = self.paintings[index]
        h, w = image.shape[:2]
        side = min(h, w, max(crop, round(crop * rng.uniform(*scales)))) if scales != (1.0, 1.0) else crop
        y, x = rng.randint(0, h - side), rng.randint(0, w - side)
        patch = image[y:y + side, x:x + side]
        if side != crop:
            patch = cv2.resize(patch, (crop, crop), interpolation=cv2.INTER_AREA)
        if rng.random() < 0.5:
            patch = patch[:, ::-1]
        return torch.from_numpy(np.ascontiguousarray(patch)).permute(2, 0, 1).float() / 127.5 - 1.0

    def epoch_batches(self, rng: random.Random) -> list[list[int]]:
        """Batches of clip indices: each draws `eras_per_batch` eras and an equal number of clips
        of each, so every anchor has in-batch positives and negatives. One epoch covers about
        every clip once."""
        cfg = self.cfg
        n_eras = min(cfg.eras_per_batch, len(self.eras))
        per_era = max(2, cfg.batch_size // n_eras)
        pools = {e: rng.sample(idx, len(idx)) for e, idx in self.by_era.items()}
        batches = []
        for _ in range(max(1, len(self.clip_eras) // (n_eras * per_era))):
            batch = []
            for e in rng.sample(self.eras, n_eras):
                for _ in range(per_era):
                    if not pools[e]:
                        pools[e] = rng.sample(self.by_era[e], len(self.by_era[e]))
                    batch.append(pools[e].pop())
            batches.append(batch)
        return batches


def triplets(eras: torch.Tensor, rng: random.Random) -> tuple[list[int], list[int], list[int]]:
    """For each anchor with a same-era partner and a different-era clip in the batch."""
    anchors, positives, negatives = [], [], []
    labels = eras.tolist()
    for i, e in enumerate(labels):
        same = [j for j, f in enumerate(labels) if f == e and j != i]
        other = [j for j, f in enumerate(labels) if f != e]
        if same and other:
            anchors.append(i)
            positives.append(rng.choice(same))
            negatives.append(rng.choice(other))
    return anchors, positives, negatives


# ------------------------------------------------------------------------------ augmentation

def diff_augment(x: torch.Tensor, policy: tuple[str, ...]) -> torch.Tensor:
    """DiffAugment (Zhao et al., NeurIPS 2020): the same kind of random, differentiable changes
    applied to real and generated images before D, so D cannot simply memorise a few dozen
    paintings. Images in [-1, 1]."""
    if "color" in policy:
        b = x.shape[0]
        # drawn on the CPU (one seed, the same augmentations on any device), applied where x is
        x = x + (torch.rand(b, 1, 1, 1) - 0.5).to(x)
        mean = x.mean(1, keepdim=True)
        x = (x - mean) * (torch.rand(b, 1, 1, 1) * 2).to(x) + mean
        mean = x.mean((1, 2, 3), keepdim=True)
        x = (x - mean) * (torch.rand(b, 1, 1, 1) + 0.5).to(x) + mean
    if "translation" in policy:
        b, _, h, w = x.shape
        shift = h // 8
        dx, dy = torch.randint(-shift, shift + 1, (2,)).tolist()
        x = torch.roll(F.pad(x, (shift,) * 4), shifts=(dy, dx), dims=(2, 3))[:, :, shift:shift + h, shift:shift + w]
    return x


# ------------------------------------------------------------------------------ losses

def ragan_d_loss(d_real: torch.Tensor, d_fake: torch.Tensor) -> torch.Tensor:
    """Eq. 3 for D: real should look more real than the average fake, and vice versa."""
    real_rel = d_real - d_fake.mean(0, keepdim=True)
    fake_rel = d_fake - d_real.mean(0, keepdim=True)
    return (F.binary_cross_entropy_with_logits(real_rel, torch.ones_like(real_rel))
            + F.binary_cross_entropy_with_logits(fake_rel, torch.zeros_like(fake_rel)))


def ragan_g_loss(d_real: torch.Tensor, d_fake: torch.Tensor) -> torch.Tensor:
    real_rel = d_real - d_fake.mean(0, keepdim=True)
    fake_rel = d_fake - d_real.mean(0, keepdim=True)
    return (F.binary_cross_entropy_with_logits(fake_rel, torch.ones_like(fake_rel))
            + F.binary_cross_entropy_with_logits(real_rel, torch.zeros_like(real_rel)))


LOOK_LAYERS = ("conv1_1", "conv2_1")   # colour and fine texture, what the STNet transfers


def grams(vgg: VGGEncoder, images: torch.Tensor, layers: tuple[str, ...] = STYLE_LAYERS) -> dict[str, torch.Tensor]:
    """Per-image Gram matrices of pre-ReLU VGG features of images in [-1, 1]: computed once per
    batch and shared by the style, mode-seeking, piece and steady terms (LOOK_LAYERS are among
    STYLE_LAYERS)."""
    feats = vgg((images + 1) / 2, layers)
    return {n: gram(feats[n]) for n in layers}


def look_gaps(g: dict[str, torch.Tensor], layers: tuple[str, ...] = LOOK_LAYERS) -> torch.Tensor:
    """(B, B) distances between the looks of a batch: the mean absolute difference of their
    low-layer Gram matrices, summed over `layers`."""
    gaps = 0
    for n in layers:
        flat = g[n].flatten(1)
        gaps = gaps + torch.cdist(flat, flat, p=1) / flat.shape[1]
    return gaps


def mode_seeking_loss(fake: dict[str, torch.Tensor], real: dict[str, torch.Tensor]) -> torch.Tensor:
    """Mode seeking in the looks' space: generated images must differ from each other as much as
    their paired paintings do. `fake`, `real`: grams() of the generated images and the paintings.

    MSGAN (Mao et al. 2019) pays G for image distance per unit of latent distance. Pixel distance
    is the wrong measure here: the collapsed starter's images differ by 0.26 in L1 (its blobs move)
    while every one has the same palette and texture. So the distance is taken between Gram
    matrices of low VGG layers (LOOK_LAYERS), each image against the next in the batch, and
    compared with the same distance between their paintings: the loss is the mean shortfall
    relu(1 - fake gap / painting gap), 0 once G varies as the paintings do. Realism is left to the
    adversarial and style terms."""
    n = len(fake[LOOK_LAYERS[0]])
    index = torch.arange(n, device=fake[LOOK_LAYERS[0]].device)
    pairs = (index, torch.roll(index, 1))
    fake_gap, real_gap = look_gaps(fake)[pairs], look_gaps(real).detach()[pairs]
    return F.relu(1.0 - fake_gap / (real_gap + 1e-8)).mean()


def piece_losses(fake: dict[str, torch.Tensor], real: dict[str, torch.Tensor],
                 pieces: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mode seeking between pieces and one look within a piece (`mode_seeking_pairs: pieces`);
    `fake`, `real`: grams() of the generated images and the paintings.

    seek: over every pair of clips from different pieces, the shortfall relu(1 - fake gap /
          painting gap), as mode_seeking_loss, so different music is paid for looking as different
          as two paintings;
    hold: over pairs of clips of one piece, their look gap relative to the paintings' mean gap,
          so the music's small changes within a piece (a bar to the next) are not amplified into
          flicker and a piece keeps a look of its own.
    Either is 0 when the batch has no such pair."""
    fake_gaps, real_gaps = look_gaps(fake), look_gaps(real).detach()
    other = pieces[:, None] != pieces[None, :]
    same = ~other & ~torch.eye(len(pieces), dtype=torch.bool, device=pieces.device)
    zero = fake_gaps.sum() * 0
    seek = F.relu(1.0 - fake_gaps[other] / (real_gaps[other] + 1e-8)).mean() if other.any() else zero
    hold = (fake_gaps[same] / painting_gap(real_gaps)).mean() if same.any() else zero
    return seek, hold


def painting_gap(real_gaps: torch.Tensor) -> torch.Tensor | float:
    """The paintings' mean look gap (off the diagonal): the scale of the piece and steady terms."""
    off = ~torch.eye(len(real_gaps), dtype=torch.bool, device=real_gaps.device)
    return real_gaps[off].mean() + 1e-8 if len(real_gaps) > 1 else 1.0


def steady_loss(fake: dict[str, torch.Tensor], later: dict[str, torch.Tensor],
                real: dict[str, torch.Tensor]) -> torch.Tensor:
    """The look gap between each image and the image of the same clip's window a fraction of a
    second later (same z), relative to the paintings' mean look gap: 0 when the music moving on by
    that much leaves the look as it was, so steady music does not flicker. Arguments: grams()."""
    gap = sum((fake[n] - later[n]).abs().flatten(1).mean(1) for n in LOOK_LAYERS)
    return (gap / painting_gap(look_gaps(real).detach())).mean()


def gram_style_loss(fake: dict[str, torch.Tensor], real: dict[str, torch.Tensor]) -> torch.Tensor:
    """L1 between per-image Gram matrices (grams()) of the generated images and the paintings."""
    return sum(F.l1_loss(fake[n], real[n].detach()) for n in STYLE_LAYERS)


# ------------------------------------------------------------------------------ trainer

class MVNetTrainer:
    def __init__(self, cfg: MVNetTrainConfig, progress: bool = True, command: str | None = None,
                 where: str = "mvnet training config"):
        """`where` names the config in error messages (the CLI passes the YAML file's path)."""
        cfg.check(where)
        self.device = distributed.device(cfg.device, where)
        distributed.setup(self.device)  # torchrun: one process of several (train/distributed.py)
        self.cfg, self.progress, self.command = cfg, progress and distributed.is_main(), command
        self.out = Path(cfg.out_dir)
        self.out.mkdir(parents=True, exist_ok=True)
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        torch.manual_seed(cfg.seed)  # the same initial weights on every process
        self.rng = random.Random(cfg.seed + 1000 * distributed.rank())  # each process its own batches
        if not distributed.is_main():
            distributed.barrier()    # rank 0 computes and caches the mels first
        self.data = MusicArtDataset(cfg, self.out, self.progress)
        if distributed.is_main():
            distributed.barrier()
        self.net = MVNet(upsample=cfg.generator_upsample)
        self.disc = Discriminator()
        self.classifier = EraClassifier(cfg.era_count)
        self.vgg = VGGEncoder("r31", load_vgg19_weights()).eval()
        for module in (self.net, self.disc, self.classifier, self.vgg):
            module.to(self.device)   # before the optimisers: they hold these parameters
        log.info("training on %s", self.device)
        adam = dict(lr=cfg.lr, betas=tuple(cfg.betas), weight_decay=cfg.weight_decay)
        self.opt_g = torch.optim.Adam(self.net.parameters(), **adam)
        self.opt_d = torch.optim.Adam(self.disc.parameters(), **adam)
        self.opt_c = torch.optim.Adam(self.classifier.parameters(), **adam)
        self.triplet = torch.nn.TripletMarginLoss(margin=cfg.triplet_margin)
        self.step = 0
        self.epoch = 0
        self.best_score = float("-inf")   # selection_score of mvnet_best.pt
        self.log_file = self.out / "log.jsonl"

    # -- checkpoints
    def modules(self) -> dict:
        return {"net": self.net, "disc": self.disc, "classifier": self.classifier,
                "opt_g": self.opt_g, "opt_d": self.opt_d, "opt_c": self.opt_c}

    def save_checkpoint(self) -> None:
        state = {k: m.state_dict() for k, m in self.modules().items()}
        state.update(step=self.step, epoch=self.epoch, rng=self.rng.getstate(),
                     torch_rng=torch.get_rng_state(), config=to_dict(self.cfg))
        tmp = self.out / "mvnet.ckpt.tmp"
        torch.save(state, tmp)
        tmp.replace(self.out / "mvnet.ckpt")

    def resume(self) -> None:
        path = self.out / "mvnet.ckpt"
        if not path.exists():
            return
        state = torch.load(path, map_location="cpu", weights_only=True)
        for k, m in self.modules().items():
            m.load_state_dict(state[k])
        self.step, self.epoch = state["step"], state["epoch"]
        if distributed.rank() == 0:
            self.rng.setstate(state["rng"])
        else:  # the checkpoint holds rank 0's RNG: the others draw afresh, still apart
            self.rng.seed(self.cfg.seed + 1000 * distributed.rank() + self.step)
        torch.set_rng_state(state["torch_rng"])
        best = self.out / "mvnet_best.pt"
        if best.exists():
            self.best_score = torch.load(best, map_location="cpu", weights_only=True)["record"]["selection_score"]
        log.info("resuming MVNet training at epoch %d, step %d", self.epoch, self.step)

    def _log(self, record: dict) -> None:
        if not distributed.is_main():
            return
        with open(self.log_file, "a") as f:
            f.write(json.dumps(record) + "\n")

    # -- one step
    def train_step(self, batch: list[int]) -> dict[str, float]:
        cfg, data, dev = self.cfg, self.data, self.device
        mel = data.mels[batch].to(dev)
        eras = torch.tensor([data.clip_eras[i] for i in batch])
        real = torch.stack([data.painting(self.rng.choice(data.paintings_by_era[int(e)]), self.rng, cfg.crop,
                                          tuple(cfg.crop_scales))
                            for e in eras]).to(dev)
        eras = eras.to(dev)
        # z from the CPU generator (one seed, one run on any device)
        z = torch.randn(1 if cfg.z_per_batch else len(batch), self.net.z_dim, 8, 8).to(dev).expand(len(batch), -1, -1, -1)
        zero = torch.zeros((), device=dev)
        v = self.net.encoder(mel)
        fake = self.net.generate(v, z)
        later = None
        if cfg.loss.steady and data.shifted_mels is not None:
            later = self.net.generate(self.net.encoder(data.shifted_mels[batch].to(dev)), z)

        # D and C
        aug = lambda x: diff_augment(x, tuple(cfg.diffaugment))  # noqa: E731
        adversarial = self.epoch >= cfg.adv_warmup_epochs
        loss_d = zero
        if adversarial:
            self.opt_d.zero_grad(set_to_none=True)
            loss_d = ragan_d_loss(self.disc(aug(real)), self.disc(aug(fake.detach())))
            loss_d.backward()
            distributed.average_gradients(self.disc)
            self.opt_d.step()
        self.classifier.train()
        self.opt_c.zero_grad(set_to_none=True)
        loss_c = F.cross_entropy(self.classifier(real), eras)
        loss_c.backward()
        distributed.average_gradients(self.classifier)
        self.opt_c.step()

        # E and G
        self.opt_g.zero_grad(set_to_none=True)
        loss_adv = ragan_g_loss(self.disc(aug(real)).detach(), self.disc(aug(fake))) if adversarial else zero
        a, p, n = triplets(eras, self.rng)
        flat = v.flatten(1)
        loss_tri = self.triplet(flat[a], flat[p], flat[n]) if a else zero
        fake_g = grams(self.vgg, fake)
        with torch.no_grad():
            real_g = grams(self.vgg, real)
        loss_sty = gram_style_loss(fake_g, real_g)
        self.classifier.eval()  # classify fakes with the statistics of real paintings
        loss_cls = F.cross_entropy(self.classifier(fake), eras)
        w = cfg.loss
        loss_piece = zero
        if cfg.mode_seeking_pairs == "pieces" and (w.ms or w.piece):
            pieces = torch.tensor([data.clip_piece[i] for i in batch], device=dev)
            loss_ms, loss_piece = piece_losses(fake_g, real_g, pieces)
        else:
            loss_ms = mode_seeking_loss(fake_g, real_g) if w.ms else zero
        loss_steady = zero
        if later is not None:
            loss_steady = steady_loss(fake_g, grams(self.vgg, later, LOOK_LAYERS), real_g)
        total = (w.adv * loss_adv + w.tri * loss_tri + w.sty * loss_sty + w.cls * loss_cls + w.ms * loss_ms
                 + w.piece * loss_piece + w.steady * loss_steady)
        total.backward()
        distributed.average_gradients(self.net)
        self.opt_g.step()
        self.disc.zero_grad(set_to_none=True)
        self.classifier.zero_grad(set_to_none=True)
        losses = {"total": total, "adv": loss_adv, "tri": loss_tri, "sty": loss_sty, "cls": loss_cls,
                  "ms": loss_ms, "piece": loss_piece, "steady": loss_steady, "d": loss_d, "c": loss_c}
        return {k: float(v.detach()) for k, v in losses.items()}

    # -- evaluation
    @torch.no_grad()
    def generate_all(self, seed: int = 0) -> torch.Tensor:
        """Style images for every clip with the fixed z of `seed` (as at inference)."""
        self.net.eval()
        out = []
        for chunk in torch.split(self.data.mels, 32):
            out.append(self.net(chunk.to(self.device), seeded_z(seed, len(chunk)).to(self.device)))
        self.net.train()
        return torch.cat(out)

    @torch.no_grad()
    def evaluate(self) -> dict:
        """Era accuracy of C on generated images (the paper's Fig. 5 metric), chance levels, and
        mean Gram distance of generated images between eras vs within an era."""
        images = self.generate_all()
        eras = torch.tensor(self.data.clip_eras, device=self.device)
        self.classifier.eval()
        predicted = self.classifier(images).argmax(1)
        counts = torch.bincount(eras, minlength=self.cfg.era_count).float()
        feats = self.vgg((images + 1) / 2, ("conv2_1",))["conv2_1"]
        grams = gram(feats).flatten(1)
        dist = torch.cdist(grams, grams)
        same = eras[:, None] == eras[None, :]
        off_diag = ~torch.eye(len(eras), dtype=torch.bool, device=self.device)
        within = dist[same & off_diag].mean().item()
        between = dist[~same].mean().item()
        confidence = torch.softmax(self.classifier(images), 1).max(1).values.mean().item()
        self.classifier.train()
        return {**self.variety(grams), "classifier_confidence_generated": confidence,
                "era_accuracy_generated": (predicted == eras).float().mean().item(),
                "chance_uniform": 1.0 / len(self.data.eras),
                "chance_majority": (counts.max() / counts.sum()).item(),
                "gram_distance_within_era": within, "gram_distance_between_eras": between,
                "between_over_within": between / within if within else float("nan"),
                "clips": len(eras), "eras": [self.cfg.bins.name(e) for e in self.data.eras]}

    @torch.no_grad()
    def painting_grams(self) -> torch.Tensor:
        """conv2_1 Gram matrices of centre crops of the paintings (computed once)."""
        if getattr(self, "_painting_grams", None) is None:
            crop = self.cfg.crop
            crops = []
            for image in self.data.paintings:
                h, w = image.shape[:2]
                y, x = (h - crop) // 2, (w - crop) // 2
                crops.append(torch.from_numpy(np.ascontiguousarray(image[y:y + crop, x:x + crop])).permute(2, 0, 1))
            batch = torch.stack(crops).float().to(self.device) / 255.0
            self._painting_grams = gram(self.vgg(batch, ("conv2_1",))["conv2_1"]).flatten(1)
        return self._painting_grams

    def variety(self, grams: torch.Tensor) -> dict[str, float]:
        """Diversity and realism of generated images (Gram rows) against the paintings'."""
        real = self.painting_grams()
        off = ~torch.eye(len(real), dtype=torch.bool, device=real.device)
        real_pair = torch.cdist(real, real)
        gen_pair = torch.cdist(grams, grams)
        gen_off = ~torch.eye(len(grams), dtype=torch.bool, device=grams.device)
        diversity = (gen_pair[gen_off].mean() / real_pair[off].mean()).item()
        real_nn = real_pair.masked_fill(~off, float("inf")).min(1).values.mean()
        realism = (torch.cdist(grams, real).min(1).values.mean() / real_nn).item()
        return {"diversity": diversity, "realism_nn_ratio": realism,
                "selection_score": min(diversity, 1.0) / max(realism, 1.0)}

    def sample_grid(self, path: Path, per_era: int = 6) -> None:
        images = self.generate_all()
        rows = []
        for e in self.data.eras:
            idx = self.data.by_era[e][:: max(1, len(self.data.by_era[e]) // per_era)][:per_era]
            row = [(images[i] + 1) / 2 for i in idx]
            row += [torch.ones_like(images[0])] * (per_era - len(row))
            rows.append(torch.cat(row, 2))
        write_image(path, to_image(torch.cat(rows, 1)))

    # -- loop
    def train(self) -> Path:
        cfg = self.cfg
        self.resume()
        t0 = time.time()
        while self.epoch < cfg.epochs:
            batches = self.data.epoch_batches(self.rng)
            sums: dict[str, float] = defaultdict(float)
            bar = tqdm(batches, desc=f"mvnet epoch {self.epoch + 1}/{cfg.epochs}", disable=not self.progress,
                       dynamic_ncols=True, leave=False)
            for batch in bar:
                losses = self.train_step(batch)
                for k, val in losses.items():
                    sums[k] += val
                self.step += 1
                bar.set_postfix({k: f"{v:.3g}" for k, v in losses.items()})
                if self.step % cfg.checkpoint_every == 0 and distributed.is_main():
                    self.save_checkpoint()
            self.epoch += 1
            if not distributed.is_main():  # evaluation, logs and files are rank 0's
                continue
            record = {"epoch": self.epoch, "step": self.step, "seconds": round(time.time() - t0, 1),
                      **{k: v / len(batches) for k, v in sums.items()}}
            record.update(self.evaluate())
            record.pop("eras")
            self._log(record)
            if record["diversity"] < cfg.collapse_diversity:
                log.warning("epoch %d: generated images are collapsing: their variety is %.2f of the "
                            "paintings' (below %.2f); see samples_epoch*.png", self.epoch,
                            record["diversity"], cfg.collapse_diversity)
            if record["selection_score"] > self.best_score:
                self.best_score = record["selection_score"]
                torch.save({"net": distributed.cpu_state(self.net), "epoch": self.epoch, "record": record},
                           self.out / "mvnet_best.pt")
            log.info("epoch %d: %s", self.epoch, {k: round(v, 4) if isinstance(v, float) else v
                                                   for k, v in record.items()})
            if self.epoch % cfg.sample_every_epochs == 0 or self.epoch == cfg.epochs:
                self.sample_grid(self.out / f"samples_epoch{self.epoch:04d}.png")
            self.save_checkpoint()
        path = self.out / "mvnet.pt"
        if distributed.is_main():
            path = self.save_final()
        distributed.barrier()
        return path

    def save_final(self) -> Path:
        """The epoch chosen by diversity and realism (see MVNetTrainConfig), not merely the last."""
        records = [json.loads(line) for line in self.log_file.read_text().splitlines()]
        best_path = self.out / "mvnet_best.pt"
        chosen = None
        if best_path.exists():
            chosen = torch.load(best_path, map_location="cpu", weights_only=True)
            self.net.load_state_dict(chosen["net"])
        path = self.out / "mvnet.pt"
        torch.save({"net": distributed.cpu_state(self.net), "config": to_dict(self.cfg), "command": self.command,
                    "chosen_epoch": chosen["epoch"] if chosen else self.epoch,
                    "data": {"audio_csv": self.cfg.audio_csv, "images_csv": self.cfg.images_csv,
                             "pieces": len(self.data.pieces), "clips": len(self.data.clip_eras),
                             "paintings": len(self.data.paintings)},
                    "steps": self.step, "epochs": self.epoch, "final": records[-1] if records else None,
                    "evaluation": self.evaluate()}, path)
        return path
