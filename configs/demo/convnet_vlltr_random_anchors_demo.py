# Ablation of convnet_vlltr_demo.py: M = 8 anchor sentences drawn at random per class instead of
# by AnSS (select_anchor_sentences.py --method random --seed 0).
_base_ = './convnet_vlltr_demo.py'

model = dict(head=dict(anchors='work_dirs/benchmark_lt/convnet_vlltr_pretrain_demo/'
                               'anchors_random_m8.safetensors'))
