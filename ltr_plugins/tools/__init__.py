"""The command-line tools, one module per command, each with ``main(argv)``.

``tools/<name>.py`` in the checkout (a few lines: the checkout on ``sys.path``, then ``main()``)
and the console scripts of :mod:`ltr_plugins.cli` call these functions;
``python -m ltr_plugins.tools.<name>`` runs them too. Module: checkout script (console script)

- ``train``: ``tools/train.py`` (``ltr-train``)
- ``test``: ``tools/test.py`` (``ltr-test``)
- ``check_data``: ``tools/check_data.py`` (``ltr-check-data``)
- ``class_stats``: ``tools/analysis/class_stats.py`` (``ltr-stats``)
- ``plot_per_class``: ``tools/analysis/plot_per_class.py`` (``ltr-plot``)
- ``show_cam``: ``tools/analysis/show_cam.py``
- ``show_generated``: ``tools/analysis/show_generated.py``
- ``build_class_texts``: ``tools/vlltr/build_class_texts.py``
- ``select_anchor_sentences``: ``tools/vlltr/select_anchor_sentences.py``
- ``benchmark``: ``tools/benchmark.py`` (``ltr-benchmark``)
- ``benchmark_lt``: ``tools/benchmark_lt.py``
- ``benchmark_detector``: ``tools/benchmark_detector.py``
- ``publish_model``: ``tools/publish_model.py``
- ``compare_runs``, ``compare_reports``, ``config_results``: ``tools/analysis/<name>.py``
- ``demo``: ``bash tools/demo.sh`` runs it after the install (``ltr-demo``)

The benchmark logic (suites, runner, tables, cases) is in :mod:`ltr_plugins.benchmarking`.
"""
