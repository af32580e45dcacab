# Places-LT (Liu et al., OLTR): 365 classes, 62.5k long-tailed training images (5..4980 per
# class), balanced val (20/class) and test (100/class). Layout under data_root:
#   Places_LT_train.txt / Places_LT_val.txt / Places_LT_test.txt  ("data_256/a/airfield/x.jpg 0")
_base_ = './imagenet_lt.py'

# set PLACES_LT_ROOT=/path/to/places365 for real data (trailing slash optional, as ImageNet-LT)
data_root = '{{$PLACES_LT_ROOT:data/places365/}}'.rstrip('/') + '/'
data_preprocessor = dict(num_classes=365)
train_dataloader = dict(dataset=dict(data_root=data_root, ann_file='Places_LT_train.txt'))
val_dataloader = dict(dataset=dict(data_root=data_root, ann_file='Places_LT_val.txt'))
test_dataloader = dict(dataset=dict(data_root=data_root, ann_file='Places_LT_test.txt'))
val_evaluator = dict(train_ann_file=data_root + 'Places_LT_train.txt')
test_evaluator = val_evaluator
