# Peer: tau-normalised classifier (Kang et al., ICLR 2020): test the plain CE model
# (baselines/demo/convnet_1xb64-30e_demo-cls.py) with weight rows w_c / ||w_c||^tau and no bias,
# as the reference's tau_norm.py (facebookresearch/classifier-balancing, pnorm). tau = 1 (unit
# norm rows); the reference picks tau on the validation set (sweep 0..2), which this config does
# not do. Test only: the CE checkpoint loads whole:
#   python tools/test.py configs/peers/demo/convnet_tau-norm-t1-posthoc_demo-cls.py \
#       work_dirs/demo_cls/epoch_30.pth
_base_ = '../../baselines/demo/convnet_1xb64-30e_demo-cls.py'

model = dict(head=dict(type='PostHocLinearClsHead', tau_norm=dict(tau=1.0, bias=False)))
