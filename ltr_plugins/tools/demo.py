"""Train and test the demo configs on the embedded long-tailed data (the README's main job).

    ltr-demo [--tasks cls det] [--work-dir work_dirs]

``bash tools/demo.sh`` installs the stack, then runs this (``python -m ltr_plugins.tools.demo``).
The data are generated under ``./data/demo`` on first use; results are printed and logged under
``<work-dir>/demo_<task>``.
"""
import argparse
import os.path as osp
from typing import List, Optional, Sequence

#: the demo config of each task (shipped config names)
DEMO_CONFIGS = {
    'cls': 'ltr_plugins::baselines/demo/convnet_1xb64-30e_demo-cls.py',
    'det': 'ltr_plugins::baselines/demo/mask-rcnn_r18_fpn_sample1e-3_1xb8-6e_demo-lvis.py',
}


def main(argv: Optional[Sequence[str]] = None) -> List[dict]:
    """Train each task's demo config, then test its last checkpoint; the test metrics."""
    from .test import main as test_main
    from .train import main as train_main
    parser = argparse.ArgumentParser(
        prog='ltr-demo', description='Train + test the demo configs on the embedded '
        'long-tailed data (generated under ./data/demo on first use); results are printed and '
        'logged under --work-dir.')
    parser.add_argument('--tasks', nargs='+', choices=sorted(DEMO_CONFIGS),
                        default=['cls', 'det'], help='cls: classifier (~5 min on 2 CPU '
                        'cores), det: Mask R-CNN (~11 min)')
    parser.add_argument('--work-dir', default='work_dirs',
                        help='runs go to <work-dir>/demo_<task>')
    args = parser.parse_args(argv)
    results = []
    for task in args.tasks:
        work_dir = osp.join(args.work_dir, f'demo_{task}')
        train_main([DEMO_CONFIGS[task], '--work-dir', work_dir])
        with open(osp.join(work_dir, 'last_checkpoint')) as f:
            checkpoint = f.read().strip()
        results.append(test_main([DEMO_CONFIGS[task], checkpoint, '--work-dir', work_dir]))
    return results


if __name__ == '__main__':
    main()
