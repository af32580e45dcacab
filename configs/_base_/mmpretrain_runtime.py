# Runtime for mmpretrain configs: mmpretrain's own default runtime + this package's registrations.
_base_ = 'mmpretrain::_base_/default_runtime.py'

custom_imports = dict(imports=['ltr_plugins'], allow_failed_imports=False)

# A fixed seed, so that a rerun repeats the run (bit-identical on the same machine type with the
# same thread count, see docs/reliability.md#repeatability); another seed: --seed N.
# deterministic=True (--deterministic): torch's deterministic algorithms (an op without one
# raises).
randomness = dict(seed=0, deterministic=False, diff_rank_seed=False)
