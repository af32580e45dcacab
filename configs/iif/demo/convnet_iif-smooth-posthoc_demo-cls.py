# IIF, post-hoc mode on the linear classifier: test the plain CE model
# (convnet_1xb64-30e_demo-cls.py) with the IIF weights applied to its logits. Test only
# (IIFLinearClsHead has LinearClsHead's parameter names plus the iif.weights buffer, which comes
# from this config):
#   python tools/test.py configs/iif/demo/convnet_iif-smooth-posthoc_demo-cls.py \
#       work_dirs/demo_cls/epoch_30.pth
_base_ = './convnet_iif-smooth_1xb64-30e_demo-cls.py'
