"""VL-LTR in mmpretrain: the stage-1 visual-linguistic pretrainer and the stage-2 LGR head
(math in :mod:`ltr_plugins.core.vlltr`)."""
import copy
import math
from typing import List, Optional, Sequence, Tuple, Union

import torch
from mmengine.model import BaseModule
from mmpretrain.models.classifiers import ImageClassifier
from mmpretrain.models.heads import ClsHead
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample
from torch import nn

from ..core.checks import check_finite
from ..core.cosine import cosine_logits, l2_normalize
from ..core.text_encoders import build_text_encoder, encode_sentences
from ..core.vlltr import (FUSION_MODES, LanguageGuidedClassifier, flatten_corpora,
                          fuse_branch_scores, load_anchor_embeddings, load_class_texts,
                          read_class_names, vlltr_pretrain_losses)

#: CLIP's cap on the learned similarity scale (exp(logit_scale) <= 100); VL-LTR's stage 1 has
#: none, so it is only an option (``VLLTRPretrainHead(max_logit_scale=CLIP_MAX_LOGIT_SCALE)``)
CLIP_MAX_LOGIT_SCALE = math.log(100.0)


class FrozenSentenceFeatures:
    """Embeddings of every corpus sentence under a frozen text encoder, computed once on first
    use. Not a module: the encoder's weights stay out of checkpoints and of the optimiser (it
    is reloaded from its local files at construction), and a deep copy (the distillation
    teacher) shares it instead of copying the encoder."""

    def __init__(self, encoder: nn.Module, sentences: Sequence[str]) -> None:
        self.encoder = encoder.requires_grad_(False).eval()
        self.sentences = list(sentences)
        self.features: Optional[torch.Tensor] = None

    def __deepcopy__(self, memo) -> 'FrozenSentenceFeatures':
        return self

    def get(self, indices: torch.Tensor) -> torch.Tensor:
        """(S,) sentence indices -> (S, dim) frozen embeddings on ``indices``' device (the whole
        corpus is encoded on the first call)."""
        if self.features is None or self.features.device != indices.device:
            if self.features is None:
                self.encoder.to(indices.device)
                self.features = encode_sentences(self.encoder, self.sentences)
            self.features = self.features.to(indices.device)
        return self.features[indices]


@MODELS.register_module()
class VLLTRPretrainHead(BaseModule):
    """Stage-1 head: maps pooled image features and class sentences into one embedding space.

    Holds the class text corpora (``class_texts`` json, see
    :func:`ltr_plugins.core.vlltr.load_class_texts`), the text encoder, the image and text
    projections and the learned similarity scale. :class:`VLLTRPretrainer` computes the losses;
    :meth:`predict` classifies zero-shot by the mean embedding of each class's sentences.

    Args:
        num_classes: C (must equal the number of ``classes``).
        in_channels: pooled image feature dimension (neck output).
        embed_dim: joint embedding dimension D.
        class_texts: path of the class text corpus.
        classes: class names in label order: a list, a ``classes.txt`` (one per line) or an
            LVIS / COCO json (categories by id).
        text_encoder: :func:`ltr_plugins.core.build_text_encoder` config (default: offline
            MiniLM).
        train_text_encoder: fine-tune the text encoder (default False: it stays frozen and its
            sentence embeddings are computed once; only the projections and the image backbone
            train, see docs/methods/vlltr.md).
        logit_scale_init: initial log scale (CLIP: log(1 / 0.07)).
        max_logit_scale: optional cap on the learned log scale. Default None: no cap, as the
            reference (ChangyaoTian/VL-LTR ``models/pretrain.py`` line 391 uses
            ``self.logit_scale.exp()`` as is); ``math.log(100)`` is CLIP's cap.
        smoothing: label smoothing of the class-wise contrastive loss (reference 0.1).
    """

    def __init__(self,
                 num_classes: int,
                 in_channels: int,
                 embed_dim: int,
                 class_texts: str,
                 classes: Union[str, Sequence[str]],
                 text_encoder: dict = dict(type='minilm'),
                 train_text_encoder: bool = False,
                 logit_scale_init: float = math.log(1 / 0.07),
                 max_logit_scale: Optional[float] = None,
                 smoothing: float = 0.1,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        names = read_class_names(classes)
        if len(names) != num_classes:
            raise ValueError(f'{classes}: {len(names)} class names but num_classes={num_classes}')
        self.num_classes, self.class_names = num_classes, names
        self.sentences, labels = flatten_corpora(load_class_texts(class_texts, names))
        counts = torch.bincount(labels, minlength=num_classes)
        self.register_buffer('sentence_labels', labels, persistent=False)
        self.register_buffer('class_start', torch.cumsum(counts, 0) - counts, persistent=False)
        self.register_buffer('class_count', counts, persistent=False)
        encoder = build_text_encoder(text_encoder)
        self.train_text_encoder = train_text_encoder
        if train_text_encoder:
            self.text_encoder = encoder
        else:
            self.frozen_text = FrozenSentenceFeatures(encoder, self.sentences)
        self.image_proj = nn.Linear(in_channels, embed_dim)
        self.text_proj = nn.Linear(encoder.dim, embed_dim)
        self.logit_scale = nn.Parameter(torch.tensor(float(logit_scale_init)))
        self.max_logit_scale = max_logit_scale
        self.smoothing = smoothing

    def sample_sentences(self, labels: torch.Tensor) -> torch.Tensor:
        """(B,) labels -> (B,) indices of one sentence of each label's class, drawn uniformly
        (fresh every call)."""
        offset = (torch.rand(labels.shape, device=labels.device) *
                  self.class_count[labels]).long()
        return self.class_start[labels] + offset

    def text_features(self, indices: torch.Tensor) -> torch.Tensor:
        """(S,) sentence indices -> (S, encoder dim) raw text-encoder features."""
        if self.train_text_encoder:
            return self.text_encoder([self.sentences[i] for i in indices.tolist()])
        return self.frozen_text.get(indices)

    def embed(self, feats: Tuple[torch.Tensor],
              indices: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """Image embeddings (B, D) of pooled ``feats[-1]`` and text embeddings (S, D) of the
        sentences ``indices`` (unnormalised)."""
        return self.image_proj(feats[-1]), self.text_proj(self.text_features(indices))

    def scale(self) -> torch.Tensor:
        """The log similarity scale t (0-dim tensor), capped at ``max_logit_scale`` if set."""
        if self.max_logit_scale is None:
            return self.logit_scale
        return self.logit_scale.clamp(max=self.max_logit_scale)

    @torch.no_grad()
    def class_embeddings(self) -> torch.Tensor:
        """(C, D) mean of each class's L2-normalised sentence embeddings."""
        idx = torch.arange(len(self.sentences), device=self.logit_scale.device)
        feats = self.text_features(idx) if not self.train_text_encoder else \
            encode_sentences(self.text_encoder, self.sentences).to(idx.device)
        emb = l2_normalize(self.text_proj(feats), -1)
        sums = torch.zeros(len(self.class_names), emb.shape[1], device=emb.device)
        sums.index_add_(0, self.sentence_labels, emb)
        return sums / self.class_count[:, None]

    def predict(self, feats: Tuple[torch.Tensor],
                data_samples: Optional[List[DataSample]] = None) -> List[DataSample]:
        """Zero-shot classification: softmax of ``exp(logit_scale) * cos(image, class text)``."""
        logits = cosine_logits(self.image_proj(feats[-1]), self.class_embeddings(),
                               scale=self.scale().exp())
        return set_predictions(logits.softmax(-1), data_samples)


def set_predictions(scores: torch.Tensor,
                    data_samples: Optional[List[DataSample]]) -> List[DataSample]:
    """Write (B, C) class probabilities into data samples as ``pred_score`` / ``pred_label``."""
    labels = scores.argmax(dim=1, keepdim=True).detach()
    data_samples = data_samples if data_samples is not None else [None] * scores.shape[0]
    out = []
    for sample, score, label in zip(data_samples, scores, labels):
        sample = DataSample() if sample is None else sample
        out.append(sample.set_pred_score(score).set_pred_label(label))
    return out


@MODELS.register_module()
class VLLTRPretrainer(ImageClassifier):
    """Stage 1 of VL-LTR: class-wise visual-linguistic pretraining.

    ``ImageClassifier`` (backbone, neck, :class:`VLLTRPretrainHead`) whose loss pairs each image
    with a random sentence of its class and returns ``loss_lin`` = (1 - beta) L_lin and
    ``loss_dis`` = beta L_dis (see :func:`ltr_plugins.core.vlltr.vlltr_pretrain_losses`; the
    batch is all-gathered across DDP ranks with gradient).

    The distillation teacher is a frozen copy of the whole model (backbone, neck, head: the
    projections, the scale and a fine-tuned text encoder if any) taken at the first training
    step, i.e. after weight initialisation / ``load_from`` and before any update. It is kept in
    the checkpoint (``teacher.*`` and the ``teacher_ready`` flag), so a resumed run keeps the
    original teacher.

    Args:
        distill_weight: beta (reference 0.5); 0 disables the teacher.
        *args, **kwargs: as ``ImageClassifier``.
    """

    def __init__(self, *args, distill_weight: float = 0.5, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if not isinstance(self.head, VLLTRPretrainHead):
            raise TypeError(f'VLLTRPretrainer needs a VLLTRPretrainHead, got '
                            f'{type(self.head).__name__}')
        self.distill_weight = float(distill_weight)
        if self.distill_weight > 0:
            parts = dict(backbone=self.backbone, head=self.head)
            if self.with_neck:
                parts['neck'] = self.neck
            self.teacher = nn.ModuleDict({k: copy.deepcopy(v) for k, v in parts.items()})
            self.teacher.requires_grad_(False)
            self.register_buffer('teacher_ready', torch.tensor(False))

    def train(self, mode: bool = True) -> 'VLLTRPretrainer':
        super().train(mode)
        if self.distill_weight > 0:
            self.teacher.eval()  # frozen BN statistics too
        return self

    @torch.no_grad()
    def _snapshot_teacher(self) -> None:
        if bool(self.teacher_ready):
            return
        for name, module in self.teacher.items():
            module.load_state_dict(getattr(self, name).state_dict())
        self.teacher_ready.fill_(True)

    def loss(self, inputs: torch.Tensor, data_samples: List[DataSample]) -> dict:
        if self.distill_weight > 0:
            self._snapshot_teacher()  # before the student's forward updates BN statistics
        labels = torch.cat([s.gt_label for s in data_samples]).to(inputs.device)
        indices = self.head.sample_sentences(labels)
        feats = self.extract_feat(inputs)
        check_finite(feats[-1], type(self).__name__, 'image features')
        image, text = self.head.embed(feats, indices)
        teacher = dict()
        if self.distill_weight > 0:
            with torch.no_grad():
                t = self.teacher.eval()
                feats = t['backbone'](inputs)
                feats = t['neck'](feats) if 'neck' in t else feats
                t_image, t_text = t['head'].embed(feats, indices)
                teacher = dict(teacher_image_emb=t_image, teacher_text_emb=t_text,
                               teacher_logit_scale=t['head'].scale())
        return vlltr_pretrain_losses(image, text, labels, self.head.scale(),
                                     beta=self.distill_weight, smoothing=self.head.smoothing,
                                     **teacher)


@MODELS.register_module()
class LGRClsHead(ClsHead):
    """Stage 2 of VL-LTR: the language-guided recognition head.

    Pooled image features (``feats[-1]``, (B, in_channels)) are mapped by ``image_proj`` (a
    Linear to the anchors' dimension D, named as in :class:`VLLTRPretrainHead` so that a
    stage-1 checkpoint loads into it; frozen by default) and fed to
    :class:`ltr_plugins.core.vlltr.LanguageGuidedClassifier` with the anchor sentence
    embeddings of ``anchors`` (written by tools/vlltr/select_anchor_sentences.py).

    Training loss: ``loss_visual`` = CE(z1) and ``loss_language`` = weight * CE(z2) (the
    ``loss`` module, soft targets from mixup / cutmix work). Inference:
    ``alpha * softmax(z1) + (1 - alpha) * softmax(z2)`` (``fusion='prob'``) or
    ``softmax(alpha * z1 + (1 - alpha) * z2)`` (``fusion='logit'``).

    Args:
        num_classes: C (must match the anchor file).
        in_channels: pooled image feature dimension.
        anchors: path of the anchor embedding file (safetensors).
        image_proj: map features to D with a Linear; False needs in_channels == D.
        freeze_image_proj: keep the (pretrained) projection fixed.
        alpha: weight of the visual branch at inference (0.2 ImageNet-LT / Places-LT, 0.7
            iNaturalist in the reference).
        fusion: ``'prob'`` or ``'logit'``.
        hidden_ratio: visual MLP width as a multiple of D (reference 4).
        language_loss_weight: weight of CE(z2).
        loss, topk, cal_acc, init_cfg: as ``ClsHead``.
    """

    def __init__(self,
                 num_classes: int,
                 in_channels: int,
                 anchors: str,
                 image_proj: bool = True,
                 freeze_image_proj: bool = True,
                 alpha: float = 0.2,
                 fusion: str = 'prob',
                 hidden_ratio: int = 4,
                 language_loss_weight: float = 1.0,
                 init_cfg: Optional[dict] = None,
                 **kwargs) -> None:
        super().__init__(init_cfg=init_cfg, **kwargs)
        emb = load_anchor_embeddings(anchors, num_classes=num_classes)
        dim = emb.anchors.shape[2]
        if not image_proj and in_channels != dim:
            raise ValueError(f'{anchors}: anchors are {dim}-d but in_channels={in_channels} '
                             'and image_proj=False')
        if fusion not in FUSION_MODES:
            raise ValueError(f'unknown fusion {fusion!r}; choose one of {FUSION_MODES}')
        self.num_classes, self.in_channels = num_classes, in_channels
        self.image_proj = nn.Linear(in_channels, dim) if image_proj else None
        if self.image_proj is not None and freeze_image_proj:
            self.image_proj.requires_grad_(False)
        self.lgr = LanguageGuidedClassifier(emb.anchors, emb.logit_scale, hidden_ratio)
        self.alpha, self.fusion = float(alpha), fusion
        self.language_loss_weight = language_loss_weight

    def pre_logits(self, feats: Tuple[torch.Tensor]) -> torch.Tensor:
        x = feats[-1]
        return x if self.image_proj is None else self.image_proj(x)

    def forward(self, feats: Tuple[torch.Tensor]) -> Tuple[torch.Tensor, torch.Tensor]:
        """-> (visual logits z1, language logits z2), each (B, C)."""
        return self.lgr(self.pre_logits(feats))

    def loss(self, feats: Tuple[torch.Tensor], data_samples: List[DataSample],
             **kwargs) -> dict:
        check_finite(feats[-1], type(self).__name__)
        visual, language = self(feats)
        losses = {'loss_visual': self._get_loss(visual, data_samples, **kwargs)['loss']}
        losses['loss_language'] = self.language_loss_weight * self._get_loss(
            language, data_samples, **kwargs)['loss']
        return losses

    def predict(self, feats: Tuple[torch.Tensor],
                data_samples: Optional[List[DataSample]] = None) -> List[DataSample]:
        visual, language = self(feats)
        return set_predictions(fuse_branch_scores(visual, language, self.alpha, self.fusion),
                               data_samples)
