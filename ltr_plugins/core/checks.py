"""Input checks shared by the heads (framework-free)."""
import torch
from torch import Tensor


def check_finite(x: Tensor, where: str, what: str = 'input features') -> None:
    """Raise ``ValueError`` naming ``where`` if ``x`` holds NaN or inf.

    The heads call it once per training step on their input, before any state (prototypes,
    centroids) is updated from it, so a diverged backbone or a broken sample stops the run with
    a clear message instead of silently writing NaN into the checkpointed state. Cost: one
    reduction and one host synchronisation (on GPUs mmengine already synchronises every
    iteration to log the losses); it is not called at inference.

    Args:
        x: any tensor.
        where: the module, e.g. ``'CAMCClsHead'`` (shown first in the message).
        what: what ``x`` is.
    """
    if bool(torch.isfinite(x).all()):
        return
    n_nan, n_inf = int(torch.isnan(x).sum()), int(torch.isinf(x).sum())
    raise ValueError(f'{where}: {what} of shape {tuple(x.shape)} contain {n_nan} NaN and '
                     f'{n_inf} inf value(s); the training diverged or an input is broken '
                     '(check the learning rate, --amp, and the data)')
