# ImageNet-LT (Liu et al., OLTR): 1000 classes, 115.8k long-tailed training images (5..1280 per
# class), balanced val (20/class) and test (50/class, from ImageNet val). Layout under data_root:
#   ImageNet_LT_train.txt / ImageNet_LT_val.txt / ImageNet_LT_test.txt ("train/n01440764/x.JPEG 0")
#   train/ val/ (the ImageNet images the lists point into)
dataset_type = 'CustomDataset'
# set IMAGENET_LT_ROOT=/path/to/imagenet for real data; with or without a trailing slash,
# data_root ends in exactly one (paths are glued to it with +)
data_root = '{{$IMAGENET_LT_ROOT:data/imagenet/}}'.rstrip('/') + '/'

data_preprocessor = dict(
    num_classes=1000,
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    to_rgb=True)

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=224),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeEdge', scale=256, edge='short'),
    dict(type='CenterCrop', crop_size=224),
    dict(type='PackInputs'),
]

train_dataloader = dict(
    batch_size=128,
    num_workers=8,
    dataset=dict(type=dataset_type, data_root=data_root, ann_file='ImageNet_LT_train.txt',
                 pipeline=train_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=True))
val_dataloader = dict(
    batch_size=128,
    num_workers=8,
    dataset=dict(type=dataset_type, data_root=data_root, ann_file='ImageNet_LT_val.txt',
                 pipeline=test_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=False))
test_dataloader = dict(
    batch_size=128,
    num_workers=8,
    dataset=dict(type=dataset_type, data_root=data_root, ann_file='ImageNet_LT_test.txt',
                 pipeline=test_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=False))

# top-1 overall and many (>100 train images) / medium (20-100) / few (<20).
val_evaluator = dict(type='LongTailAccuracy', train_ann_file=data_root + 'ImageNet_LT_train.txt')
test_evaluator = val_evaluator
