# IIF, post-hoc mode on the linear classifier: test the plain CE model (convnet_ce_demo.py) with
# the IIF weights applied to its logits. Test only (IIFLinearClsHead has LinearClsHead's
# parameter names plus the iif.weights buffer, which comes from this config):
#   python tools/test.py configs/demo/convnet_iif_posthoc_demo.py work_dirs/demo_cls/epoch_30.pth
_base_ = './convnet_iif_demo.py'
