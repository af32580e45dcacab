# Peer: post-hoc logit adjustment (Menon et al., ICLR 2021): test the plain CE model
# (baselines/demo/convnet_1xb64-30e_demo-cls.py) with logits z_c - tau * log(pi_c), pi the class
# prior of the training list, tau = 1 (the paper's default). Test only: PostHocLinearClsHead has
# LinearClsHead's parameters (the prior is not saved), so the CE checkpoint loads whole:
#   python tools/train.py configs/baselines/demo/convnet_1xb64-30e_demo-cls.py \
#       --work-dir work_dirs/demo_cls
#   python tools/test.py configs/peers/demo/convnet_logit-adj-t1-posthoc_demo-cls.py \
#       work_dirs/demo_cls/epoch_30.pth
_base_ = '../../baselines/demo/convnet_1xb64-30e_demo-cls.py'

data_root = 'data/demo/classification/'
model = dict(
    head=dict(type='PostHocLinearClsHead',
              logit_adjustment=dict(tau=1.0, stats=data_root + 'ImageNet_LT_train.txt')))
