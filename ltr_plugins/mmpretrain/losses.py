"""Classification losses: mmpretrain's cross-entropy with class weights computed from the
training statistics (the formula is ltr_plugins.core.inverse_frequency_weights)."""
from typing import Optional

from mmpretrain.models.losses import CrossEntropyLoss
from mmpretrain.registry import MODELS

from ..core import inverse_frequency_weights
from .heads import load_class_counts


@MODELS.register_module()
class InverseFrequencyCrossEntropyLoss(CrossEntropyLoss):
    """mmpretrain's ``CrossEntropyLoss`` with ``class_weight`` = normalised inverse frequency
    ``K * n_c^-power / sum_j n_j^-power`` of the training counts (re-weighted CE).

    The weights are computed when the loss is built, so a config names the training list, not a
    list of K numbers, and the same config serves any class count.

    Args:
        stats: training statistics: the training list (``ImageNet_LT_train.txt``), a packaged
            table (``'imagenet_lt'``) or a stats csv.
        num_classes: K of the head; checked against ``stats``.
        power: 1 = inverse frequency, 0.5 = inverse square root.
        kwargs: the other ``CrossEntropyLoss`` arguments (``loss_weight``, ``reduction``, ...;
            not ``class_weight``).
    """

    def __init__(self, stats, num_classes: int, power: float = 1.0,
                 class_weight: Optional[list] = None, **kwargs) -> None:
        name = type(self).__name__
        if class_weight is not None:
            raise ValueError(f'{name} computes class_weight from stats; use CrossEntropyLoss '
                             'for a fixed list')
        counts, classes = load_class_counts(stats, num_classes, name)
        weights = inverse_frequency_weights(counts, power, class_names=classes)
        super().__init__(class_weight=weights.tolist(), **kwargs)
        self.power = power
