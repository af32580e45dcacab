# Runtime for mmpretrain configs: mmpretrain's own default runtime + this package's registrations.
_base_ = 'mmpretrain::_base_/default_runtime.py'

custom_imports = dict(imports=['ltr_plugins'], allow_failed_imports=False)
