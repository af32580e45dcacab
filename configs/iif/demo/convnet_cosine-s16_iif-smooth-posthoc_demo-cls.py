# IIF, post-hoc mode on the cosine classifier (the IIF paper's ImageNet-LT protocol): test the plain
# cosine model (convnet_cosine-s16_1xb64-30e_demo-cls.py) with the IIF weights applied to its
# logits. Test only; the parameter names are CosineClsHead's, the config adds the iif.weights
# buffer:
#   python tools/train.py configs/cosine/demo/convnet_cosine-s16_1xb64-30e_demo-cls.py \
#       --work-dir work_dirs/cosine
#   python tools/test.py configs/iif/demo/convnet_cosine-s16_iif-smooth-posthoc_demo-cls.py \
#       work_dirs/cosine/epoch_30.pth
_base_ = './convnet_cosine-s16_iif-smooth_1xb64-30e_demo-cls.py'
