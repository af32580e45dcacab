"""Write docs/config_reference.md: every module ltr_plugins registers into an OpenMMLab registry,
with the registry it is in (what ``type=`` finds it), its constructor signature and docstring.

    python tools/gen_config_reference.py [--out docs/config_reference.md] [--check]

``--check`` exits 1 if the file is out of date (the test suite runs it), so the reference never
drifts from the code.
"""
import argparse
import inspect
import os.path as osp
import sys
from typing import List, Tuple

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)  # run from a checkout

import ltr_plugins  # noqa: E402,F401  (registers everything)
from ltr_plugins.fileio import atomic_write_text  # noqa: E402

REGISTRIES = [  # (scope, import path, registry names)
    ('mmpretrain', 'mmpretrain.registry', ('MODELS', 'METRICS', 'HOOKS', 'DATASETS',
                                           'DATA_SAMPLERS', 'TRANSFORMS')),
    ('mmdet', 'mmdet.registry', ('MODELS', 'METRICS', 'HOOKS', 'DATASETS', 'DATA_SAMPLERS',
                                 'TRANSFORMS', 'TASK_UTILS')),
    ('mmengine (root: visible from every scope)', 'mmengine.registry',
     ('MODELS', 'OPTIM_WRAPPERS', 'HOOKS', 'DATA_SAMPLERS', 'LOOPS')),
]


def collect() -> List[Tuple[str, str, str, type]]:
    """(scope, registry, type name, class) of every ltr_plugins entry, in a stable order."""
    import importlib
    found, seen = [], set()
    for scope, module, names in REGISTRIES:
        registries = importlib.import_module(module)
        for name in names:
            registry = getattr(registries, name, None)
            if registry is None:
                continue
            for key, obj in sorted(registry.module_dict.items()):
                if getattr(obj, '__module__', '').startswith('ltr_plugins') and \
                        (scope, name, key) not in seen:
                    seen.add((scope, name, key))
                    found.append((scope, name, key, obj))
    return found


def _signature(obj) -> str:
    try:
        target = obj.__init__ if inspect.isclass(obj) else obj
        sig = inspect.signature(target)
    except (TypeError, ValueError):
        return '(...)'
    params = [p for p in sig.parameters.values() if p.name != 'self']
    return '(' + ', '.join(str(p) for p in params) + ')'


def render() -> str:
    lines = ['# Config reference', '',
             'Every module `ltr_plugins` registers, by the registry its `type=` is looked up in. '
             'Generated from the code by `python tools/gen_config_reference.py` (a test fails '
             'when this file is out of date); the docstrings are the documentation.', '']
    current = None
    for scope, registry, key, obj in collect():
        if (scope, registry) != current:
            current = (scope, registry)
            lines += [f'## {scope} · {registry}', '']
        lines += [f'### `{key}`', '',
                  f'`{obj.__module__}.{obj.__qualname__}`', '',
                  '```python', f'dict(type={key!r}, ...)  # {key}{_signature(obj)}', '```', '']
        doc = inspect.getdoc(obj) or '(no docstring)'
        lines += [doc, '']
    return '\n'.join(lines).rstrip() + '\n'


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--out', default=osp.join(ROOT, 'docs', 'config_reference.md'))
    parser.add_argument('--check', action='store_true',
                        help='do not write; exit 1 if --out differs from the generated text')
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = open(args.out).read() if osp.isfile(args.out) else ''
        if current != text:
            print(f'{args.out} is out of date: run python tools/gen_config_reference.py')
            return 1
        return 0
    atomic_write_text(args.out, text)
    print(f'wrote {args.out} ({text.count("### ")} modules)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
