"""Dataset wrappers registered into mmpretrain's ``DATASETS``."""
from __future__ import annotations

import copy
from typing import List, Optional, Sequence, Union

from mmengine.dataset import BaseDataset, ConcatDataset
from mmpretrain.registry import DATASETS


@DATASETS.register_module()
class PipelineConcatDataset(ConcatDataset):
    """mmengine's ``ConcatDataset`` whose datasets share one ``pipeline`` given at the top.

    The OLTR configs test on the known test list concatenated with the open-set list. With a
    plain ``ConcatDataset`` the pipeline sits in each dataset, and
    ``mmpretrain.apis.ImageClassificationInferencer``, which reads
    ``cfg.test_dataloader.dataset.pipeline`` (mmpretrain 1.2 ``apis/image_classification.py``,
    ``_init_pipeline``), cannot build them; here it finds the pipeline where it looks.

    Args:
        datasets: the dataset configs (or built datasets), concatenated in order; a config
            without a ``pipeline`` gets a copy of ``pipeline``.
        pipeline: the transforms every dataset applies (e.g. the config's ``test_pipeline``).
        lazy_init, ignore_keys: as mmengine's ``ConcatDataset``.

    Raises:
        ValueError: a dataset config has its own ``pipeline`` different from ``pipeline`` (one
            of the two would be ignored silently).
    """

    def __init__(self, datasets: Sequence[Union[BaseDataset, dict]],
                 pipeline: Optional[List[dict]] = None, lazy_init: bool = False,
                 ignore_keys: Union[str, List[str], None] = None) -> None:
        configs = []
        for i, dataset in enumerate(datasets):
            if isinstance(dataset, dict) and pipeline is not None:
                own = dataset.get('pipeline')
                if own is not None and list(own) != list(pipeline):
                    raise ValueError(f'PipelineConcatDataset: datasets[{i}] has its own pipeline, '
                                     'different from the shared one; give it in one place')
                dataset = dict(dataset, pipeline=copy.deepcopy(list(pipeline)))
            configs.append(dataset)
        self.pipeline_cfg = pipeline
        super().__init__(configs, lazy_init=lazy_init, ignore_keys=ignore_keys)
