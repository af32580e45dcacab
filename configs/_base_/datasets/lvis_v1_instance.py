# LVIS v1 instance segmentation, as mmdet's _base_/datasets/lvis_v1_instance.py: repeat factor
# sampling (RFS, t=1e-3) and multi-scale training. Expected layout under data_root:
#   annotations/lvis_v1_train.json, annotations/lvis_v1_val.json, train2017/, val2017/
# (image paths come from each image's coco_url). LVISV1JsonDataset = mmdet's LVISV1Dataset with
# class names read from the json, so the same class serves real LVIS and the embedded data.
dataset_type = 'LVISV1JsonDataset'
data_root = '{{$LVIS_ROOT:data/lvis_v1/}}'  # set LVIS_ROOT=/path/to/lvis_v1/ for real data
backend_args = None

train_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(
        type='RandomChoiceResize',
        scales=[(1333, 640), (1333, 672), (1333, 704), (1333, 736), (1333, 768), (1333, 800)],
        keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='Resize', scale=(1333, 800), keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor'))
]

train_dataloader = dict(
    batch_size=2,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    batch_sampler=dict(type='AspectRatioBatchSampler'),
    dataset=dict(
        type='ClassBalancedDataset',
        oversample_thr=1e-3,
        dataset=dict(
            type=dataset_type,
            data_root=data_root,
            ann_file='annotations/lvis_v1_train.json',
            data_prefix=dict(img=''),
            filter_cfg=dict(filter_empty_gt=True, min_size=32),
            pipeline=train_pipeline,
            backend_args=backend_args)))
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='annotations/lvis_v1_val.json',
        data_prefix=dict(img=''),
        test_mode=True,
        pipeline=test_pipeline,
        backend_args=backend_args))
test_dataloader = val_dataloader

# The official lvis evaluator: AP, AP50, AP75, APs/m/l, APr, APc, APf for bbox and segm.
val_evaluator = dict(
    type='LongTailLVISMetric',  # mmdet's LVISMetric + per-category AP csv
    ann_file=data_root + 'annotations/lvis_v1_val.json',
    metric=['bbox', 'segm'],
    backend_args=backend_args)
test_evaluator = val_evaluator
