"""mmdet's ``EQLV2Loss`` made usable by mmdet 3.x's ``BBoxHead`` (no math here).

mmdet 3.3 ships ``EQLV2Loss`` (ported from the reference tztztztztz/eqlv2) without a config and
without the hooks ``BBoxHead`` reads (``custom_cls_channels``, ``get_cls_channels``): a head
with it would score detections with a softmax over sigmoid-trained logits. The reference scores
them with the loss's own activation (tztztztztz/eqlv2, ``mmdet/models/roi_heads/bbox_heads/
bbox_head.py``, ``get_bboxes``: ``self.loss_cls.get_activation(cls_score)`` for a sigmoid
``group`` loss): per-class sigmoids times ``1 - sigmoid(background logit)``
(``EQLV2Loss.get_activation`` with ``test_with_obj=True``), which this subclass switches on.
"""
from mmdet.models.losses import EQLV2Loss
from mmdet.registry import MODELS


@MODELS.register_module()
class EQLV2BBoxLoss(EQLV2Loss):
    """``EQLV2Loss`` (same arguments, same loss and activation) declared to ``BBoxHead`` as a
    loss with its own classifier channels (K + 1: the last one is the background /
    objectness logit) and its own test-time activation
    (``EQLV2Loss.get_activation``: sigmoid, foreground scores times ``1 - p_bg``).

    ``custom_activation`` stays False: the training accuracy is mmdet's plain ``accuracy`` of
    the K + 1 logits (``EQLV2Loss`` has no ``get_accuracy``).
    """

    custom_cls_channels = True
    custom_activation = False

    def get_cls_channels(self, num_classes: int) -> int:
        """K classes -> K + 1 channels (``EQLV2Loss.get_channel_num``)."""
        if num_classes != self.num_classes:
            raise ValueError(f'{type(self).__name__}: num_classes={self.num_classes} but the '
                             f'bbox head has num_classes={num_classes}; set both')
        return self.get_channel_num(num_classes)
