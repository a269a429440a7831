"""Data-parallel training under torchrun: the same command on one process or many.

    livestyle train stnet --config configs/train_stnet.yaml                      # one process
    torchrun --nproc-per-node 2 -m livestyle train stnet --config ...            # two, this machine
    torchrun --nnodes 2 --node-rank R --nproc-per-node 8 --rdzv-backend c10d \\
             --rdzv-endpoint HOST:29500 -m livestyle train stnet --config ...   # two machines, 8 GPUs each

torchrun sets WORLD_SIZE, RANK and LOCAL_RANK; without them everything here is a no-op. The
process group uses gloo: the trainers compute on the CPU today, and NCCL only reduces CUDA
tensors (it becomes the backend when the trainers put their networks on GPUs). Each process draws its own
batches (its data seed is offset by its rank), computes its gradients, and the gradients are
averaged across processes before every optimiser step: DistributedDataParallel's arithmetic,
done explicitly because the trainers call their networks' methods (style_state, apply, generate)
rather than one forward, which DDP's hooks would not see. The effective batch is the per-process
batch times the world size. Only rank 0 writes logs, checkpoints, samples and the final weights;
every rank resumes from the same checkpoint.
"""

from __future__ import annotations

import os

import torch
import torch.distributed as dist


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def rank() -> int:
    return int(os.environ.get("RANK", "0"))


def is_main() -> bool:
    return rank() == 0


def setup() -> None:
    """Join the process group torchrun describes (once); nothing for a single process."""
    if world_size() > 1 and not dist.is_initialized():
        dist.init_process_group("gloo")


def average_gradients(*modules: torch.nn.Module) -> None:
    """All-reduce and average the gradients of `modules` across processes (no-op when alone).
    Parameters without a gradient this step are skipped on every rank alike (their use does not
    depend on the data)."""
    if not dist.is_initialized() or dist.get_world_size() == 1:
        return
    n = dist.get_world_size()
    for module in modules:
        grads = [p.grad for p in module.parameters() if p.grad is not None]
        if not grads:
            continue
        flat = torch.cat([g.reshape(-1) for g in grads])
        dist.all_reduce(flat)
        flat /= n
        offset = 0
        for g in grads:
            g.copy_(flat[offset:offset + g.numel()].view_as(g))
            offset += g.numel()


def average_value(value: float) -> float:
    """The mean of a scalar over processes (the logged losses describe the whole step)."""
    if not dist.is_initialized() or dist.get_world_size() == 1:
        return value
    t = torch.tensor([value], dtype=torch.float64)
    dist.all_reduce(t)
    return float(t.item()) / dist.get_world_size()


def barrier() -> None:
    if dist.is_initialized():
        dist.barrier()


def cleanup() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()
