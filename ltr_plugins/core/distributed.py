"""Distributed helpers shared by the stateful heads (centroids, prototypes, contrastive batches).

Both are no-ops when ``torch.distributed`` is not initialised, so the same code runs in one
process, under DDP on GPUs (nccl) and under DDP on CPU (gloo).
"""
from typing import Tuple

import torch
import torch.distributed as dist


def is_distributed() -> bool:
    """True when a default process group with more than one rank exists."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def all_reduce_class_sums(sums: torch.Tensor,
                          counts: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """Sum per-class feature sums and sample counts over all ranks.

    Class means must be computed as ``sum_over_ranks(sums) / sum_over_ranks(counts)``, never
    as an average of per-rank means (ranks see different numbers of samples per class).

    Args:
        sums (Tensor): (C, D) per-class sums of features on this rank.
        counts (Tensor): (C,) per-class sample counts on this rank.

    Returns:
        tuple[Tensor, Tensor]: the global (C, D) sums and (C,) counts (new tensors; the inputs
        are not modified).
    """
    if sums.shape[0] != counts.shape[0]:
        raise ValueError(f'sums has {sums.shape[0]} classes but counts has {counts.shape[0]}')
    # One collective for both: counts ride along as an extra column.
    packed = torch.cat([sums.detach().double(), counts.detach().double()[:, None]], dim=1)
    if is_distributed():
        dist.all_reduce(packed, op=dist.ReduceOp.SUM)
    return packed[:, :-1].to(sums.dtype), packed[:, -1].to(counts.dtype)


def all_reduce_sum(x: torch.Tensor) -> torch.Tensor:
    """Element-wise sum of ``x`` over all ranks, as a new tensor (a detached copy in one
    process). Every rank must call it, with the same shape."""
    out = x.detach().clone()
    if is_distributed():
        dist.all_reduce(out, op=dist.ReduceOp.SUM)
    return out


class _AllGatherWithGrad(torch.autograd.Function):
    """all_gather whose backward returns this rank's slice of the summed gradient."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        world = dist.get_world_size()
        out = [torch.empty_like(x) for _ in range(world)]
        dist.all_gather(out, x.contiguous())
        ctx.rank, ctx.batch = dist.get_rank(), x.shape[0]
        return torch.cat(out, dim=0)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        grad = grad.contiguous().clone()
        # Every rank computed a loss over the whole gathered batch: the gradient of the global
        # loss w.r.t. this rank's inputs is the sum of all ranks' gradients for its slice.
        dist.all_reduce(grad, op=dist.ReduceOp.SUM)
        start = ctx.rank * ctx.batch
        return grad[start:start + ctx.batch]


def all_gather_with_grad(x: torch.Tensor) -> torch.Tensor:
    """Concatenate ``x`` (B, ...) from all ranks along dim 0, keeping the gradient path.

    All ranks must pass the same batch size B. Returns ``x`` itself in a single process.
    """
    if not is_distributed():
        return x
    return _AllGatherWithGrad.apply(x)
