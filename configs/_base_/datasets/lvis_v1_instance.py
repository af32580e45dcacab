# LVIS v1 instance segmentation: mmdet's _base_/datasets/lvis_v1_instance.py (repeat factor
# sampling, RFS t=1e-3, and multi-scale training) with two changes. Layout under data_root:
#   annotations/lvis_v1_train.json, annotations/lvis_v1_val.json, train2017/, val2017/
# (image paths come from each image's coco_url).
# - LVISV1JsonDataset = mmdet's LVISV1Dataset with class names read from the json, so the same
#   class serves real LVIS and the embedded data;
# - LongTailLVISMetric = mmdet's LVISMetric (AP, AP50, AP75, APs/m/l, APr, APc, APf for bbox
#   and segm) + a per-category AP csv.
_base_ = 'mmdet::_base_/datasets/lvis_v1_instance.py'

dataset_type = 'LVISV1JsonDataset'
# set LVIS_ROOT=/path/to/lvis_v1 for real data; with or without a trailing slash, data_root
# ends in exactly one (the paths below are glued to it with +)
data_root = '{{$LVIS_ROOT:data/lvis_v1/}}'.rstrip('/') + '/'

train_dataloader = dict(dataset=dict(dataset=dict(type=dataset_type, data_root=data_root)))
val_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root))
test_dataloader = val_dataloader

val_evaluator = dict(type='LongTailLVISMetric',
                     ann_file=data_root + 'annotations/lvis_v1_val.json')
test_evaluator = val_evaluator
