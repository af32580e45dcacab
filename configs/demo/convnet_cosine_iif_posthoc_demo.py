# IIF, post-hoc mode on the cosine classifier (the IIF paper's ImageNet-LT protocol): test the
# plain cosine model (convnet_cosine_demo.py) with the IIF weights applied to its logits. Test
# only; the parameter names are CosineClsHead's, the config adds the iif.weights buffer:
#   python tools/train.py configs/demo/convnet_cosine_demo.py --work-dir work_dirs/cosine
#   python tools/test.py configs/demo/convnet_cosine_iif_posthoc_demo.py \
#       work_dirs/cosine/epoch_30.pth
_base_ = './convnet_cosine_iif_demo.py'
