# IIF, post-hoc mode on ResNet-50 (ImageNet-LT), the IIF paper's classification protocol for a
# plain model: test the softmax-CE baseline with the IIF weights ('smooth', packaged ImageNet-LT
# counts) applied to its logits. Test only: IIFLinearClsHead has LinearClsHead's parameter names
# plus the iif.weights buffer, which comes from this config. With the baseline trained first:
#   python tools/train.py configs/baselines/resnet50_4xb128-90e_imagenet-lt.py
#   python tools/test.py configs/iif/resnet50_iif-smooth-posthoc_imagenet-lt.py \
#       work_dirs/resnet50_4xb128-90e_imagenet-lt/epoch_90.pth
_base_ = './resnet50_iif-smooth_4xb128-90e_imagenet-lt.py'
