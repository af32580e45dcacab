# Runtime for mmdet configs: mmdet's own default runtime + this package's registrations.
_base_ = 'mmdet::_base_/default_runtime.py'

custom_imports = dict(imports=['ltr_plugins'], allow_failed_imports=False)
