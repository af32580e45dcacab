# The demo CE classifier (convnet_1xb64-30e_demo-cls.py) at batch 16: the same 30 epochs (the
# same images seen, the same FLOPs), four times the optimizer updates (3030 against 780), the
# learning rate halved. It leaves the chance-level plateau of the first epochs sooner and ends
# far better trained (validation top-1 69.2 +- 8.4 against 48.8 +- 15.5 over seeds 0-2), at
# about 1.25x the wall time (smaller matrix products). Used by `benchmark_lt --suite b16`: does
# a better-trained backbone separate the head-level methods better
# (docs/benchmarks/README.md, "A better-trained classification backbone")?
_base_ = './convnet_1xb64-30e_demo-cls.py'

train_dataloader = dict(batch_size=16)
optim_wrapper = dict(optimizer=dict(lr=1e-3))
auto_scale_lr = dict(base_batch_size=16)
