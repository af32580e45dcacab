"""VL-LTR (Tian et al., ECCV 2022): class-wise visual-linguistic pretraining, anchor sentence
selection (AnSS) and the language-guided recognition (LGR) head, on plain tensors.

One module per concern (formulas in docs/methods/vlltr.md); every name is re-exported here:

* :mod:`.texts`: class text corpora: :func:`load_class_texts` reads the on-disk format,
  :func:`split_sentences` splits free text, :func:`read_class_names`;
* :mod:`.pretrain`: stage 1: :func:`classwise_contrastive_loss` (every same-class image/text
  pair is a positive, label smoothing, both directions), :func:`contrastive_distillation_loss`
  (soft targets from a frozen teacher, both directions), :func:`vlltr_pretrain_losses` (gathers
  across DDP ranks and weights them ``(1 - beta) * L_lin + beta * L_dis``);
* :mod:`.anss`: :func:`anchor_sentence_scores`, :func:`select_anchor_indices`;
* :mod:`.anchors`: the anchor file (:func:`save_anchor_embeddings` /
  :func:`load_anchor_embeddings`, safetensors);
* :mod:`.lgr`: stage 2: :class:`LanguageGuidedClassifier` (attention over each class's anchor
  sentences, a language and a visual branch, optional learned background embedding),
  :func:`fuse_branch_scores` (alpha-fusion at inference), :func:`sample_class_subset` and
  :func:`subset_logits` (the optional class subset of the language branch in detection
  training).
"""
from .anchors import ANCHOR_FORMAT, AnchorEmbeddings, load_anchor_embeddings, save_anchor_embeddings
from .anss import SELECTION_METHODS, anchor_sentence_scores, select_anchor_indices
from .lgr import (FUSION_MODES, LanguageGuidedClassifier, fuse_branch_scores, sample_class_subset,
                  subset_logits)
from .pretrain import (classwise_contrastive_loss, classwise_targets, contrastive_distillation_loss,
                       contrastive_logits, soft_cross_entropy, vlltr_pretrain_losses)
from .texts import (CLASS_TEXTS_FORMAT, class_display_name, flatten_corpora, load_class_texts,
                    read_class_names, split_sentences)

__all__ = [
    'ANCHOR_FORMAT', 'AnchorEmbeddings', 'load_anchor_embeddings', 'save_anchor_embeddings',
    'SELECTION_METHODS', 'anchor_sentence_scores', 'select_anchor_indices', 'FUSION_MODES',
    'LanguageGuidedClassifier', 'fuse_branch_scores', 'sample_class_subset', 'subset_logits',
    'classwise_contrastive_loss', 'classwise_targets', 'contrastive_distillation_loss',
    'contrastive_logits', 'soft_cross_entropy', 'vlltr_pretrain_losses', 'CLASS_TEXTS_FORMAT',
    'class_display_name', 'flatten_corpora', 'load_class_texts', 'read_class_names',
    'split_sentences',
]
