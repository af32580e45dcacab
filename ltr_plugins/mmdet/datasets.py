"""LVIS v1 dataset whose class names come from the annotation file."""
from typing import List, Optional

from mmdet.datasets import LVISV1Dataset
from mmdet.registry import DATASETS


@DATASETS.register_module()
class LVISV1JsonDataset(LVISV1Dataset):
    """mmdet's ``LVISV1Dataset`` that takes ``metainfo['classes']`` from the json's categories.

    mmdet hard-codes the 1203 LVIS v1 names; any other LVIS-format json (the embedded data, a
    subset of LVIS) then gets wrong names in logs and per-class results. Here, unless the config
    passes ``metainfo=dict(classes=...)``, the names are read from the annotation file's
    ``categories`` (ascending id = label order). For the real LVIS v1 json this gives exactly
    mmdet's names. A config-given class list must match the json's category count.
    """

    def __init__(self, *args, metainfo: Optional[dict] = None, **kwargs) -> None:
        self._classes_given = bool(metainfo) and 'classes' in metainfo
        self._json_classes: Optional[tuple] = None
        super().__init__(*args, metainfo=metainfo, **kwargs)

    # mmdet's load_data_list builds the LVIS api as ``self.lvis`` and deletes it at the end;
    # the setter reads the category names while the api exists, without parsing the json twice.
    @property
    def lvis(self):
        """The ``lvis.LVIS`` api while mmdet's ``load_data_list`` runs (setting it records the
        json's category names)."""
        return self._lvis_api

    @lvis.setter
    def lvis(self, api) -> None:
        self._lvis_api = api
        cats = api.load_cats(api.get_cat_ids())
        self._json_classes = tuple(c['name'] for c in cats)

    @lvis.deleter
    def lvis(self) -> None:
        del self._lvis_api

    def load_data_list(self) -> List[dict]:
        data_list = super().load_data_list()
        json_classes = self._json_classes
        if not self._classes_given:
            self._metainfo['classes'] = json_classes
        elif len(self._metainfo['classes']) != len(json_classes):
            raise ValueError(
                f'{self.ann_file}: metainfo gives {len(self._metainfo["classes"])} classes but '
                f'the annotation file has {len(json_classes)} categories')
        return data_list
