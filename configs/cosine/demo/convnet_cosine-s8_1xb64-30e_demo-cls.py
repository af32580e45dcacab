# Scale sweep for the cosine classifier (CAMC's "appropriate scalar"): s = 8
# (convnet_cosine-s16_1xb64-30e_demo-cls.py has s = 16). python tools/benchmark_lt.py --suite camc
# --tasks cls
_base_ = './convnet_cosine-s16_1xb64-30e_demo-cls.py'

model = dict(head=dict(scale=8.0))
