"""`livestyle train stnet`: the Linear style-transfer network in two resumable stages.

1. decoder: learn to invert the frozen VGG encoder (pixel + feature reconstruction loss);
2. transform: learn the MulLayer with the decoder frozen; content loss at relu4_1, style loss
   (means + Gram) at relu1_1..relu4_1, weights per spec B.4. With `transform.decoder_lr` > 0 the
   decoder is fine-tuned on the same losses (a deviation from Linear, as AdaIN trains its decoder):
   a decoder trained only to reconstruct caps how much texture any relu3_1 transform can show.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm import tqdm

from livestyle.config import to_dict
from livestyle.errors import UserError
from livestyle.io.images import write_image
from livestyle.models.stnet import STNet
from livestyle.models.vgg import VGGEncoder, load_vgg19_weights
from livestyle.train import distributed
from livestyle.train.data import ColourJitter, ImageFolder, to_image

log = logging.getLogger(__name__)


@dataclass
class DecoderStage:
    steps: int = 1500
    batch_size: int = 8
    lr: float = 5e-4
    pixel_weight: float = 1.0
    feature_weight: float = 1.0
    style_share: float = 0.0   # share of each batch drawn from the style images (the decoder must
                               # paint stylised features, whose colours the content photos may lack)


@dataclass
class TransformStage:
    steps: int = 1500
    batch_size: int = 8
    lr: float = 1e-4
    lr_decay: float = 1e-5  # lr_t = lr / (1 + t * lr_decay), as Linear's Train.py
    content_weight: float = 1.0
    style_weight: float = 0.02
    content_layer: str = "r41"
    style_layers: tuple[str, ...] = ("r11", "r21", "r31", "r41")
    # False: Linear's absolute style terms. True: each layer's terms relative to the style's own
    # norms (style_loss); its values are ~100x smaller, so style_weight must be retuned with it.
    style_relative: bool = False
    # Compound regularisation (ReReVST): the content warped by a random smooth flow plus slight
    # noise must give the warped output (L1). Stabilises video at no inference cost. 0: off.
    temporal_weight: float = 0.0
    temporal_flow: float = 4.0       # largest displacement of the random flow, pixels at `crop`
    temporal_noise: float = 0.02     # std of the Gaussian noise added to the warped content
    # 0: the decoder stays frozen (Linear's recipe). > 0: it is trained with the transform on the
    # content, style and temporal losses, at this learning rate (decayed as `lr`). Measured on the
    # frozen held-out pairs: the exact whitening-colouring transform at relu3_1 through the
    # reconstruction-only decoder reaches a Gram ratio of only 0.59 (bench/RESULTS.md, issue 9).
    decoder_lr: float = 0.0
    # False: the style side (the MulLayer's snet, i.e. stnet_style.onnx) stays as loaded, so the
    # style states that the lite content graph, the bank and the smoothing consume do not change.
    train_style_side: bool = True


@dataclass
class STNetTrainConfig:
    layer: str = "r31"
    content_dir: str = "runs/stnet_data/content"
    style_dir: str = "runs/stnet_data/style"
    heldout_content_dir: str = "runs/stnet_data/content_heldout"
    heldout_style_dir: str = "runs/stnet_data/style_heldout"
    out_dir: str = "runs/stnet"
    crop: int = 128
    eval_size: int = 256
    seed: int = 0
    threads: int = 0  # 0: torch's default (all cores)
    device: str = "auto"  # auto: the GPU when torch sees one (cuda:LOCAL_RANK under torchrun), else cpu
    log_every: int = 25
    sample_every: int = 250
    checkpoint_every: int = 50
    init_from: str = ""   # a folder of exported STNet graphs to start from (fine-tuning), "" = fresh
    heldout_list: str = "bench/stnet_heldout.json"   # training folders may hold none of these ("": no check)
    style_max_zoom: float = 1.5      # style crops see the image at 1x..this of the crop size
    style_vflip: bool = False
    style_jitter: ColourJitter = field(default_factory=ColourJitter)
    decoder: DecoderStage = field(default_factory=DecoderStage)
    transform: TransformStage = field(default_factory=TransformStage)

    def check(self, where: str = "stnet training config") -> None:
        """Settings that would be silently ignored, refused before any data loads."""
        if self.transform.decoder_lr < 0:
            raise UserError(f"{where}: transform.decoder_lr {self.transform.decoder_lr}: must be 0 "
                            "(the decoder stays frozen) or a positive learning rate")
        if self.transform.decoder_lr > 0 and self.transform.lr <= 0:
            raise UserError(f"{where}: transform.lr {self.transform.lr}: must be positive when "
                            "decoder_lr is (the decoder's rate is scheduled as a share of it)")


# ---------------------------------------------------------------------------------------- losses

def gram(feat: torch.Tensor) -> torch.Tensor:
    """Per-sample uncentred Gram matrix F F^T / (C h w)."""
    b, c, h, w = feat.shape
    flat = feat.reshape(b, c, h * w)
    return torch.bmm(flat, flat.transpose(1, 2)) / (c * h * w)


def style_terms(out_feats: dict, style_feats: dict, layers: tuple[str, ...]) -> tuple[torch.Tensor, torch.Tensor]:
    """(absolute, relative) style losses from one pass over the layers (each Gram computed once).

    absolute: sum over layers of (||mu_t - mu_s||^2 + ||G_t - G_s||_F^2), mean over the batch
    (Linear's Criterion). relative: each term divided by the style's own squared norm, per
    sample, so every layer counts alike (Linear's absolute terms are ruled by the layers whose
    Grams are largest; the held-out Gram ratio of bench/stnet_quality.py weighs relu2_1, relu3_1
    and relu4_1 equally)."""
    absolute = relative = 0.0
    for name in layers:
        t, s = out_feats[name], style_feats[name]
        for a, ref in ((t.mean((2, 3)), s.mean((2, 3))), (gram(t), gram(s))):
            err = (a - ref).pow(2).flatten(1).sum(1)
            absolute = absolute + err.mean()
            relative = relative + (err / ref.pow(2).flatten(1).sum(1).clamp_min(1e-8)).mean()
    return absolute, relative


def style_loss(out_feats: dict, style_feats: dict, layers: tuple[str, ...], relative: bool = False) -> torch.Tensor:
    """Linear's style loss, or with `relative` the per-layer relative one (style_terms)."""
    return style_terms(out_feats, style_feats, layers)[1 if relative else 0]


def content_loss(out_feat: torch.Tensor, content_feat: torch.Tensor) -> torch.Tensor:
    return F.mse_loss(out_feat, content_feat)


# ---------------------------------------------------------------------------------------- trainer

class STNetTrainer:
    def __init__(self, cfg: STNetTrainConfig, progress: bool = True, command: str | None = None,
                 where: str = "stnet training config"):
        """`where` names the config in error messages (the CLI passes the YAML file's path)."""
        cfg.check(where)
        self.device = distributed.device(cfg.device, where)
        distributed.setup(self.device)  # torchrun: one process of several (train/distributed.py)
        self.cfg = cfg
        self.command = command
        self.progress = progress and distributed.is_main()
        self.out = Path(cfg.out_dir)
        self.out.mkdir(parents=True, exist_ok=True)
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        torch.manual_seed(cfg.seed)  # the same initial weights on every process
        weights = load_vgg19_weights()
        self.loss_net = VGGEncoder("r41", weights).eval()
        self.net = STNet(cfg.layer, VGGEncoder(cfg.layer, weights).eval())
        self.init_sha256: dict[str, str] = {}
        if cfg.init_from:
            self.init_sha256 = load_exported_weights(self.net, Path(cfg.init_from))
        refuse = None
        if cfg.heldout_list:
            from livestyle.train.stnet_data import REPO, heldout_names

            listed = Path(cfg.heldout_list)
            if not listed.is_absolute() and not listed.exists():
                listed = REPO / listed
            refuse = heldout_names(listed)
        data_seed = cfg.seed + 1000 * distributed.rank()  # each process draws its own batches
        self.content = ImageFolder(cfg.content_dir, cfg.crop, seed=data_seed, refuse=refuse)
        self.style = ImageFolder(cfg.style_dir, cfg.crop, max_zoom=cfg.style_max_zoom, seed=data_seed + 1,
                                 jitter=cfg.style_jitter, vflip=cfg.style_vflip, refuse=refuse)
        self.log_file = self.out / "log.jsonl"
        self._data_wait = 0.0          # seconds spent waiting for batches since the last log line
        self._consumed_rng = None      # set while a PairPrefetcher draws ahead
        # draw the next batches on a CPU thread while the device trains: on a GPU only (on a CPU
        # the thread would take the cores the training computes on)
        self.prefetch = self.device.type == "cuda"
        self.loss_net.to(self.device)
        self.net.to(self.device)
        log.info("training on %s", self.device)

    # -- shared machinery
    def _batch(self, folder: ImageFolder, size: int) -> torch.Tensor:
        """`size` augmented crops from `folder` (drawn on the CPU, its RNG), on the training device."""
        t0 = time.perf_counter()
        images = folder.batch(size).to(self.device, non_blocking=True)
        self._data_wait += time.perf_counter() - t0
        return images

    def _data_rng_state(self) -> tuple:
        """The data RNGs as of the last batch trained on (a prefetcher draws ahead of it)."""
        if self._consumed_rng is not None:
            return self._consumed_rng
        return self.content.rng.getstate(), self.style.rng.getstate()

    def _checkpoint(self, stage: str) -> Path:
        return self.out / f"{stage}.ckpt"

    def _save(self, stage: str, step: int, module: torch.nn.Module, opt: torch.optim.Optimizer) -> None:
        if not distributed.is_main():
            return
        content_rng, style_rng = self._data_rng_state()
        state = {
            "step": step, "model": module.state_dict(), "optimizer": opt.state_dict(),
            "torch_rng": torch.get_rng_state(), "cuda_rng": self._cuda_rng(), "content_rng": content_rng,
            "style_rng": style_rng, "config": to_dict(self.cfg),
        }
        tmp = self._checkpoint(stage).with_suffix(".tmp")
        torch.save(state, tmp)
        tmp.replace(self._checkpoint(stage))

    def _resume(self, stage: str, module: torch.nn.Module, opt: torch.optim.Optimizer) -> int:
        path = self._checkpoint(stage)
        if not path.exists():
            return 0
        state = torch.load(path, map_location="cpu", weights_only=True)
        module.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        torch.set_rng_state(state["torch_rng"])
        if self.device.type == "cuda" and state.get("cuda_rng") is not None:
            torch.cuda.set_rng_state(state["cuda_rng"], self.device)
        if distributed.rank() == 0:
            self.content.rng.setstate(state["content_rng"])
            self.style.rng.setstate(state["style_rng"])
        else:  # the checkpoint holds rank 0's data RNG: the others draw afresh, still apart
            self.content.rng.seed(self.cfg.seed + 1000 * distributed.rank() + state["step"])
            self.style.rng.seed(self.cfg.seed + 1000 * distributed.rank() + state["step"] + 1)
        log.info("resuming %s from step %d (%s)", stage, state["step"], path)
        return state["step"]

    def _cuda_rng(self) -> torch.Tensor | None:
        return torch.cuda.get_rng_state(self.device) if self.device.type == "cuda" else None

    def _log(self, record: dict) -> None:
        if not distributed.is_main():
            return
        with open(self.log_file, "a") as f:
            f.write(json.dumps(record) + "\n")

    def _run(self, stage: str, steps: int, module, opt, step_fn, sample_fn, lr_fn=None) -> dict:
        start = self._resume(stage, module, opt)
        if start >= steps:
            log.info("%s: already trained for %d steps", stage, start)
            return {}
        module.train()
        running: dict[str, float] = {}
        bar = tqdm(range(start, steps), initial=start, total=steps, desc=f"stnet {stage}",
                   disable=not self.progress, dynamic_ncols=True)
        t0, last = time.time(), {}
        for step in bar:
            if lr_fn is not None:
                for group in opt.param_groups:
                    group["lr"] = lr_fn(step) * group.get("lr_scale", 1.0)
            opt.zero_grad(set_to_none=True)
            losses = step_fn()
            losses["total"].backward()
            distributed.average_gradients(module)
            opt.step()
            for k, v in losses.items():
                running[k] = running.get(k, 0.0) + float(v.detach())
            done = step + 1
            if done % self.cfg.log_every == 0 or done == steps:
                n = self.cfg.log_every if done % self.cfg.log_every == 0 else done % self.cfg.log_every
                last = {k: distributed.average_value(v / n) for k, v in sorted(running.items())}
                running = {}
                # data_wait: seconds a step waited for its batch (near 0: the device is the bottleneck)
                self._log({"stage": stage, "step": done, "seconds": round(time.time() - t0, 1),
                           "data_wait": round(self._data_wait / n, 4), **last})
                self._data_wait = 0.0
                bar.set_postfix({k: f"{v:.4g}" for k, v in last.items()})
                if not self.progress and distributed.is_main():
                    log.info("%s step %d/%d %s", stage, done, steps, last)
            if done % self.cfg.checkpoint_every == 0 or done == steps:
                self._save(stage, done, module, opt)
            if (done % self.cfg.sample_every == 0 or done == steps) and distributed.is_main():
                module.eval()
                with torch.no_grad():
                    sample_fn(self.out / f"samples_{stage}_{done:06d}.png")
                module.train()
        module.eval()
        return last

    # -- stage 1: decoder
    def train_decoder(self) -> dict:
        cfg, net = self.cfg.decoder, self.net
        opt = torch.optim.Adam(net.decoder.parameters(), lr=cfg.lr)

        n_style = int(round(cfg.batch_size * cfg.style_share))

        def step() -> dict:
            images = self._batch(self.content, cfg.batch_size - n_style)
            if n_style:
                images = torch.cat([images, self._batch(self.style, n_style)])
            with torch.no_grad():
                feat = net.encode(images)
            recon = net.decoder(feat)
            pixel = F.mse_loss(recon, images)
            feature = F.mse_loss(net.encode(recon), feat)
            total = cfg.pixel_weight * pixel + cfg.feature_weight * feature
            return {"total": total, "pixel": pixel.detach(), "feature": feature.detach()}

        fixed = self.content.fixed(4).to(self.device)

        def sample(path: Path) -> None:
            recon = net.decoder(net.encode(fixed))
            grid = torch.cat([torch.cat(list(fixed), 2), torch.cat(list(recon), 2)], 1)
            write_image(path, to_image(grid))

        return self._run("decoder", cfg.steps, net.decoder, opt, step, sample)

    # -- stage 2: transform
    def transform_losses(self, content: torch.Tensor, style: torch.Tensor,
                         transform: torch.nn.Module | None = None) -> dict:
        cfg, net = self.cfg.transform, self.net
        layers = tuple(sorted(set(cfg.style_layers) | {cfg.content_layer, net.layer}))
        transform = transform or net.transform
        with torch.no_grad():
            c_feats = self.loss_net(content, layers)
            s_feats = self.loss_net(style, layers)
        # the STNet encoder is the same VGG prefix: reuse its features instead of encoding again
        s_mean, s_matrix = transform.style_state(s_feats[net.layer])
        out = net.decoder(transform.apply(c_feats[net.layer], s_mean, s_matrix))
        o_feats = self.loss_net(out, layers)
        lc = content_loss(o_feats[cfg.content_layer], c_feats[cfg.content_layer])
        absolute, relative = style_terms(o_feats, s_feats, cfg.style_layers)
        total = cfg.content_weight * lc + cfg.style_weight * (relative if cfg.style_relative else absolute)
        # "style" is always Linear's absolute loss, so logs and held-out figures compare across recipes
        losses = {"content": lc.detach(), "style": absolute.detach(), "out": out}
        if cfg.style_relative:
            losses["style_relative"] = relative.detach()
        if cfg.temporal_weight > 0 and transform.training:
            lt = self.temporal_loss(content, out, s_mean, s_matrix, transform)
            total = total + cfg.temporal_weight * lt
            losses["temporal"] = lt.detach()
        losses["total"] = total
        return losses

    def temporal_loss(self, content: torch.Tensor, out: torch.Tensor, s_mean: torch.Tensor,
                      s_matrix: torch.Tensor, transform: torch.nn.Module) -> torch.Tensor:
        """L1 between the warped output and the output of the warped (and noisy) content."""
        cfg, net = self.cfg.transform, self.net
        grid = random_smooth_flow(content.shape, cfg.temporal_flow, device=content.device)
        moved = warp(content, grid)
        moved = (moved + cfg.temporal_noise * torch.randn_like(moved)).clamp(0, 1)
        with torch.no_grad():
            feat = net.encode(moved)
        out_moved = net.decoder(transform.apply(feat, s_mean, s_matrix))
        return F.l1_loss(out_moved, warp(out, grid))

    def train_transform(self) -> dict:
        """The MulLayer (without its style side if not `train_style_side`); with `decoder_lr` > 0
        the decoder too, as the stage "joint" (its own checkpoint: a transform-only checkpoint
        does not resume it)."""
        cfg, net = self.cfg.transform, self.net
        net.transform.snet.requires_grad_(cfg.train_style_side)
        groups = [{"params": [p for p in net.transform.parameters() if p.requires_grad]}]
        stage, module = "transform", net.transform
        if cfg.decoder_lr > 0:
            groups.append({"params": list(net.decoder.parameters()), "lr_scale": cfg.decoder_lr / cfg.lr})
            stage, module = "joint", torch.nn.ModuleDict({"transform": net.transform, "decoder": net.decoder})
        net.decoder.requires_grad_(cfg.decoder_lr > 0)
        opt = torch.optim.Adam(groups, lr=cfg.lr)

        return self._run_pairs(stage, cfg.steps, module, opt, self.transform_losses, cfg.batch_size,
                               lr_fn=lambda t: cfg.lr / (1 + t * cfg.lr_decay))

    def _run_pairs(self, stage: str, steps: int, module, opt, losses_fn, batch_size: int, lr_fn=None) -> dict:
        """`_run` for a stage trained on (content, style) batches: `losses_fn(content, style)`
        returns the losses with the output under "out"; samples are grids of 4 fixed pairs. On a GPU
        the next batches are drawn on a CPU thread while the current ones train (PairPrefetcher)."""
        prefetcher: PairPrefetcher | None = None

        def step() -> dict:
            nonlocal prefetcher
            t0 = time.perf_counter()
            if self.prefetch:
                if prefetcher is None:   # started here, after _run has restored the data RNGs
                    prefetcher = PairPrefetcher(self.content, self.style, batch_size)
                content, style, self._consumed_rng = prefetcher.next()
            else:
                content, style = self.content.batch(batch_size), self.style.batch(batch_size)
            content, style = (x.to(self.device, non_blocking=True) for x in (content, style))
            self._data_wait += time.perf_counter() - t0
            losses = losses_fn(content, style)
            losses.pop("out")
            return losses

        fixed_c, fixed_s = self.content.fixed(4).to(self.device), self.style.fixed(4).to(self.device)
        n = min(len(fixed_c), len(fixed_s))
        fixed_c, fixed_s = fixed_c[:n], fixed_s[:n]

        def sample(path: Path) -> None:
            out = losses_fn(fixed_c, fixed_s)["out"].clamp(0, 1)
            write_image(path, to_image(pair_grid(fixed_c, fixed_s, out)))

        try:
            return self._run(stage, steps, module, opt, step, sample, lr_fn=lr_fn)
        finally:
            if prefetcher is not None:
                prefetcher.close()
            self._consumed_rng = None

    def save_final(self, path: Path, losses: dict, heldout: dict | None = None) -> None:
        """Weights only (no optimiser state) plus what the manifest needs to reproduce them."""
        cfg = self.cfg
        data = {"content_dir": cfg.content_dir, "content_images": len(self.content),
                "style_dir": cfg.style_dir, "style_images": len(self.style),
                "heldout_content_dir": cfg.heldout_content_dir, "heldout_style_dir": cfg.heldout_style_dir,
                "init_from_sha256": self.init_sha256}
        torch.save({"layer": self.net.layer, "decoder": distributed.cpu_state(self.net.decoder),
                    "transform": distributed.cpu_state(self.net.transform), "config": to_dict(cfg),
                    "command": self.command, "data": data, "final_losses": losses,
                    "heldout": heldout}, path)

    def train(self, evaluate: bool = True) -> Path:
        """Both stages (each resumes, or is skipped if done), a held-out evaluation, then the final
        weights file."""
        self.train_decoder()
        self.train_transform()
        path = self.out / f"stnet_{self.net.layer}.pt"
        if distributed.is_main():
            heldout = None
            if evaluate:
                heldout = evaluate_heldout(self)
                log.info("held-out pairs: %s", heldout)
            self.save_final(path, last_logged_losses(self.log_file), heldout)
        distributed.barrier()
        return path


class PairPrefetcher:
    """(content, style) batches drawn on a background thread, two ahead, in the order the trainer
    would draw them itself: a run's data is the same with or without it. Each batch comes with the
    data RNG states as of its drawing, which checkpoints save (a resumed run draws what an
    uninterrupted one would). cv2 and numpy release the GIL, so the thread overlaps the GPU's work."""

    def __init__(self, content: ImageFolder, style: ImageFolder, batch_size: int, depth: int = 2):
        self.content, self.style, self.batch_size = content, style, batch_size
        self.pin = torch.cuda.is_available()   # page-locked batches copy to the GPU asynchronously
        self.queue: queue.Queue = queue.Queue(maxsize=depth)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._fill, name="stnet-batches", daemon=True)
        self.thread.start()

    def _fill(self) -> None:
        try:
            while not self.stop.is_set():
                c, s = self.content.batch(self.batch_size), self.style.batch(self.batch_size)
                if self.pin:
                    c, s = c.pin_memory(), s.pin_memory()
                item = (c, s, (self.content.rng.getstate(), self.style.rng.getstate()))
                while not self.stop.is_set():
                    try:
                        self.queue.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
        except BaseException as exc:  # surfaced in the training thread by next()
            self.queue.put(exc)

    def next(self) -> tuple[torch.Tensor, torch.Tensor, tuple]:
        item = self.queue.get()
        if isinstance(item, BaseException):
            raise item
        return item

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=5)


def decoder_output_scaling(model) -> tuple[float, float]:
    """(scale, offset) folded into a content graph's last decoder conv: recorded in the graph's
    metadata since the QuantizeLinear graphs; the earlier uint8 graphs (session 3) folded 255 and
    a +0.5 rounding offset; float-input graphs folded nothing."""
    props = {p.key: p.value for p in model.metadata_props}
    if "decoder_output_scale" in props:
        return float(props["decoder_output_scale"]), float(props.get("decoder_output_offset", 0.0))
    from onnx import TensorProto

    frame = next((i for i in model.graph.input if i.name == "frame"), None)
    if frame is not None and frame.type.tensor_type.elem_type == TensorProto.UINT8:
        return 255.0, 0.5
    return 1.0, 0.0


def load_exported_weights(net: STNet, folder: Path) -> dict[str, str]:
    """Decoder and transform weights from exported STNet graphs (their initializers keep the torch
    parameter names). Returns each graph's sha256 for the manifest's record of the start point."""
    import onnx
    from onnx import numpy_helper

    from livestyle.runtime.manifest import sha256

    state, digests = {}, {}
    for name in ("stnet_style.onnx", "stnet_content.onnx"):  # any manifest format: weights only
        path = folder / name
        if not path.is_file():
            raise UserError(f"{path}: not found (init_from names a folder of exported STNet graphs)")
        digests[name] = sha256(path)
        model = onnx.load(str(path))
        for init in model.graph.initializer:
            key = init.name.removeprefix("net.")
            if key.startswith(("decoder.", "transform.")):
                state[key] = torch.from_numpy(numpy_helper.to_array(init).copy())
        if name == "stnet_content.onnx":
            scale, offset = decoder_output_scaling(model)
            last = max((k for k in state if k.startswith("decoder.convs.")), key=lambda k: int(k.split(".")[2]))
            index = last.split(".")[2]
            state[f"decoder.convs.{index}.weight"] /= scale
            state[f"decoder.convs.{index}.bias"] = (state[f"decoder.convs.{index}.bias"] - offset) / scale
    wanted = {k for k in net.state_dict() if k.startswith(("decoder.", "transform."))}
    missing = sorted(wanted - set(state))
    if missing:
        raise UserError(f"{folder}: the exported graphs lack {len(missing)} STNet weights "
                        f"({', '.join(missing[:4])}, ...); cannot start from them")
    net.load_state_dict(state, strict=False)
    return digests


def random_smooth_flow(shape: torch.Size, max_pixels: float, knots: int = 4,
                       device: torch.device | str = "cpu") -> torch.Tensor:
    """A sampling grid for F.grid_sample: identity plus a smooth random displacement (a `knots` x
    `knots` grid of uniform offsets up to `max_pixels`, upsampled bicubically), one per sample.
    The offsets are drawn on the CPU (the same flows on any device for one seed)."""
    b, _, h, w = shape
    offsets = ((torch.rand(b, 2, knots, knots) * 2 - 1) * max_pixels).to(device)
    flow = F.interpolate(offsets, size=(h, w), mode="bicubic", align_corners=True)
    ys, xs = torch.meshgrid(torch.linspace(-1, 1, h, device=device), torch.linspace(-1, 1, w, device=device),
                            indexing="ij")
    base = torch.stack([xs, ys], -1)[None]
    scale = torch.tensor([2.0 / max(w - 1, 1), 2.0 / max(h - 1, 1)], device=device)
    return base + flow.permute(0, 2, 3, 1) * scale


def warp(images: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="border", align_corners=True)


def last_logged_losses(log_file: Path) -> dict:
    """The last logged (running-mean) losses of each stage."""
    result: dict = {}
    if log_file.exists():
        for line in log_file.read_text().splitlines():
            record = json.loads(line)
            stage = record.pop("stage")
            record.pop("step"), record.pop("seconds")
            result[stage] = record
    return result


def pair_grid(content: torch.Tensor, style: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    """Rows of content | style | output, resized to the content's height."""
    rows = []
    for c, s, o in zip(content, style, out):
        s = F.interpolate(s[None], size=c.shape[1:], mode="bilinear", align_corners=False)[0]
        rows.append(torch.cat([c, s, o.clamp(0, 1)], 2))
    return torch.cat(rows, 1)


@torch.no_grad()
def evaluate_heldout(trainer: STNetTrainer, seed: int = 1234) -> dict:
    """Content and style losses on every held-out content x style pair, for the trained transform
    and for a freshly initialised (untrained) one with the same trained decoder."""
    cfg = trainer.cfg
    contents = ImageFolder(cfg.heldout_content_dir, cfg.eval_size).fixed(1000).to(trainer.device)
    styles = ImageFolder(cfg.heldout_style_dir, cfg.eval_size).fixed(1000).to(trainer.device)
    torch.manual_seed(seed)
    untrained = type(trainer.net.transform)(trainer.net.layer).eval().to(trainer.device)
    result = {}
    key = "style_relative" if cfg.transform.style_relative else "style"   # the one the total weighs
    for name, transform in (("trained", trainer.net.transform), ("untrained", untrained)):
        lc = ls = lw = 0.0
        for c in contents:
            for s in styles:
                losses = trainer.transform_losses(c[None], s[None], transform)
                lc, ls, lw = lc + float(losses["content"]), ls + float(losses["style"]), lw + float(losses[key])
        n = len(contents) * len(styles)
        w = cfg.transform
        result[name] = {"content": lc / n, "style": ls / n,
                        "total": (w.content_weight * lc + w.style_weight * lw) / n}
        if cfg.transform.style_relative:
            result[name]["style_relative"] = lw / n
    result["pairs"] = len(contents) * len(styles)
    result["size"] = cfg.eval_size
    return result
