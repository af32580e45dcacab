# The enhanced IIF recipe of the demo (base10_obj, cosine bbox classifier tau=8, cosine mask
# predictor tau=20) with RFS at the demo's threshold t=0.15 instead of the reference's t=1e-3,
# which repeats no demo image (see ../../peers/README.md). So the recipe has the re-balancing
# the reference gets from RFS on LVIS, and is as long as the RFS peer
# (peers/demo/mask-rcnn_r18_fpn_sample0.15_1xb8-6e_demo-lvis.py: 636 iterations against
# the baseline's 450): what it adds over that peer is IIF and the cosine predictors.
_base_ = ('./mask-rcnn_r18_fpn_iif-base10-obj_cosine-t8_cosine-mask-t20_sample1e-3_1xb8-6e_'
          'demo-lvis.py')

train_dataloader = dict(dataset=dict(oversample_thr=0.15))
