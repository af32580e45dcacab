# The demo CE classifier (convnet_1xb64-30e_demo-cls.py) at batch 16: the same 30 epochs (the
# same images seen, the same FLOPs), four times the optimizer updates (3030 against 780), the
# learning rate halved. It leaves the chance-level plateau of the first epochs sooner and ends
# far better trained (test top-1 67.9 +- 5.5 against 53.5 +- 10.5, few 26.0 against 7.1, seeds
# 0-5), at about 1.1-1.2x the wall time (smaller matrix products). The backbone of
# `benchmark_lt --suite b16`: on it IIF, the cosine classifier and CAMC no longer separate from
# the retrained control (docs/benchmarks/README.md, "A better-trained classification
# backbone"; docs/benchmarks/shared_b16_demo.md).
_base_ = './convnet_1xb64-30e_demo-cls.py'

train_dataloader = dict(batch_size=16)
optim_wrapper = dict(optimizer=dict(lr=1e-3))
auto_scale_lr = dict(base_batch_size=16)
