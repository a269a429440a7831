"""Data-parallel training under torchrun: the same command on one process or many.

    livestyle train stnet --config configs/train_stnet.yaml                      # one process
    torchrun --nproc-per-node 2 -m livestyle train stnet --config ...            # two, this machine
    torchrun --nnodes 2 --node-rank R --nproc-per-node 8 --rdzv-backend c10d \\
             --rdzv-endpoint HOST:29500 -m livestyle train stnet --config ...   # two machines, 8 GPUs each

torchrun sets WORLD_SIZE, RANK and LOCAL_RANK; without them everything here is a no-op. A
trainer computes on `device(name)`: "auto" is this process's GPU (cuda:LOCAL_RANK) when CUDA is
available, else the CPU. The process group uses NCCL when the trainers compute on GPUs (it only
reduces CUDA tensors) and gloo on CPUs. Each process draws its own
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

from livestyle.errors import UserError

DEVICES = ("auto", "cpu", "cuda")


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def rank() -> int:
    return int(os.environ.get("RANK", "0"))


def is_main() -> bool:
    return rank() == 0


def local_rank() -> int:
    return int(os.environ.get("LOCAL_RANK", "0"))


def device(name: str = "auto", where: str = "training config") -> torch.device:
    """The device this process trains on: "cpu", "cuda" (this process's GPU, cuda:LOCAL_RANK, so
    torchrun's processes on one machine each take their own), or "auto" (cuda when available).
    Asking for cuda where there is none is the user's mistake, said in one line."""
    if name not in DEVICES:
        raise UserError(f"{where}: device {name!r}: must be one of {', '.join(DEVICES)}")
    if name == "cpu" or (name == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise UserError(f"{where}: device cuda: this torch ({torch.__version__}) sees no CUDA GPU; "
                        "use device: cpu (or auto)")
    if local_rank() >= torch.cuda.device_count():
        raise UserError(f"{where}: LOCAL_RANK {local_rank()} but only {torch.cuda.device_count()} "
                        "CUDA GPUs here: start at most one process per GPU")
    return torch.device("cuda", local_rank())


def cpu_state(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    """A module's weights as CPU tensors: files written on a GPU load on any machine."""
    return {k: v.detach().cpu() for k, v in module.state_dict().items()}


def setup(on: torch.device | None = None) -> None:
    """Join the process group torchrun describes (once); nothing for a single process. NCCL for
    processes that compute on GPUs, gloo on CPUs."""
    if world_size() > 1 and not dist.is_initialized():
        if on is not None and on.type == "cuda":
            torch.cuda.set_device(on)
            dist.init_process_group("nccl")
        else:
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
    on = torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else "cpu"
    t = torch.tensor([value], dtype=torch.float64, device=on)
    dist.all_reduce(t)
    return float(t.item()) / dist.get_world_size()


def barrier() -> None:
    if dist.is_initialized():
        dist.barrier()


def cleanup() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()
