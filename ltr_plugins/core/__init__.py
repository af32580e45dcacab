"""Framework-free torch building blocks (one file per method). Never imports mm* packages."""
from .camc import CAMCalibration, CAMCOutput, class_activation_maps, normalize_map, select_targets
from .checks import check_finite
from .cosine import CosineClassifier, CosineConv2d, cosine_logits, l2_normalize
from .distributed import all_gather_with_grad, all_reduce_class_sums, all_reduce_sum, is_distributed
from .iif import (IIF_VARIANTS, ClassCounts, IIFLogitAdjustment, adjust_logits, build_iif,
                  iif_weights, iif_weights_from_stats)
from .oltr import (DiscCentroidsLoss, MetaEmbedding, ModulatedAttention, centroid_attract,
                   centroid_repel, class_feature_sums, reachability)
from .posthoc import (LogitAdjustment, class_log_prior, inverse_frequency_weights, logit_adjust,
                      tau_normalize)
from .text_encoders import build_text_encoder, encode_sentences
from .vlltr import (AnchorEmbeddings, LanguageGuidedClassifier, fuse_branch_scores,
                    load_anchor_embeddings, save_anchor_embeddings)

__all__ = [
    'CAMCalibration', 'CAMCOutput', 'class_activation_maps', 'normalize_map', 'select_targets',
    'check_finite', 'all_gather_with_grad', 'all_reduce_class_sums', 'all_reduce_sum',
    'is_distributed',
    'CosineClassifier', 'CosineConv2d', 'cosine_logits', 'l2_normalize',
    'DiscCentroidsLoss', 'MetaEmbedding', 'ModulatedAttention', 'centroid_attract',
    'centroid_repel', 'class_feature_sums', 'reachability',
    'IIF_VARIANTS', 'ClassCounts', 'IIFLogitAdjustment', 'adjust_logits', 'build_iif',
    'iif_weights', 'iif_weights_from_stats',
    'LogitAdjustment', 'class_log_prior', 'inverse_frequency_weights', 'logit_adjust',
    'tau_normalize',
    'build_text_encoder', 'encode_sentences', 'AnchorEmbeddings', 'LanguageGuidedClassifier',
    'fuse_branch_scores', 'load_anchor_embeddings', 'save_anchor_embeddings',
]
