"""Prepare a training checkpoint for inference and sharing (as mmdet's
``tools/model_converters/publish_model.py``): keep ``meta`` and ``state_dict``, drop the
optimizer / scheduler / message-hub state, name the file ``OUT-<sha256[:8]>.pth``. The result
loads with ``torch.load(weights_only=True)``, so ``mmdet.apis.DetInferencer`` and
``mmpretrain.apis.ImageClassificationInferencer`` take it on torch >= 2.6.

    python tools/publish_model.py IN_FILE OUT_FILE [--save-keys meta state_dict] [--no-hash]
"""
import argparse
from typing import Optional, Sequence

from ltr_plugins.publish import SAVE_KEYS, publish_checkpoint


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Command line of tools/publish_model.py (``--help`` lists every option)."""
    parser = argparse.ArgumentParser(description='Process a checkpoint to be published')
    parser.add_argument('in_file', help='input checkpoint (e.g. work_dirs/.../epoch_12.pth)')
    parser.add_argument('out_file', help='output checkpoint name (the hash is appended)')
    parser.add_argument('--save-keys', nargs='+', default=list(SAVE_KEYS),
                        help='top-level keys to keep (default: meta state_dict)')
    parser.add_argument('--no-hash', action='store_true',
                        help='write OUT_FILE as given, without the -<sha256[:8]> suffix')
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> str:
    """Publish IN_FILE; prints and returns the written path."""
    args = parse_args(argv)
    out = publish_checkpoint(args.in_file, args.out_file, args.save_keys,
                             add_hash=not args.no_hash)
    print(f'The published model is saved at {out}')
    return out


if __name__ == '__main__':
    main()
