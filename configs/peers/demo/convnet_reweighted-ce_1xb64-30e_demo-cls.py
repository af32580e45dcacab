# Peer: re-weighted cross-entropy, mmpretrain's own CrossEntropyLoss with class_weight = the
# normalised inverse class frequency K * (1/n_c) / sum_j (1/n_j) of the training list (computed
# when the loss is built: InverseFrequencyCrossEntropyLoss, formula in
# ltr_plugins.core.inverse_frequency_weights). Same data, model and schedule as the demo CE
# baseline.
_base_ = '../../baselines/demo/convnet_1xb64-30e_demo-cls.py'

data_root = 'data/demo/classification/'
num_classes = 20
model = dict(
    head=dict(
        loss=dict(_delete_=True, type='InverseFrequencyCrossEntropyLoss',
                  stats=data_root + 'ImageNet_LT_train.txt', num_classes=num_classes,
                  power=1.0, loss_weight=1.0)))
