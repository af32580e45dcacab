# Ablation of convnet_vlltr-lgr-m8_1xb64-15e_demo-cls.py: M = 8 anchor sentences drawn at random per
# class instead of by AnSS (select_anchor_sentences.py --method random --seed 0).
_base_ = './convnet_vlltr-lgr-m8_1xb64-15e_demo-cls.py'

model = dict(head=dict(anchors='work_dirs/benchmark_lt/convnet_vlltr-pretrain_1xb64-20e_demo-cls/'
                               'anchors_random_m8.safetensors'))
