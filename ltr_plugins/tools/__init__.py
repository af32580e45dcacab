"""The command-line tools, one module per command, each with ``main(argv)``.

``tools/<name>.py`` in the checkout and the console scripts of :mod:`ltr_plugins.cli` call
these functions; ``python -m ltr_plugins.tools.<name>`` runs them too.

=========================  ============================  ===================
module                     checkout script               console script
=========================  ============================  ===================
``train``                  ``tools/train.py``            ``ltr-train``
``test``                   ``tools/test.py``             ``ltr-test``
``check_data``             ``tools/check_data.py``       ``ltr-check-data``
``class_stats``            ``tools/analysis/class_stats.py``  ``ltr-stats``
``plot_per_class``         ``tools/analysis/plot_per_class.py``  ``ltr-plot``
``benchmark``              ``tools/benchmark.py``        ``ltr-benchmark``
``benchmark_lt``           ``tools/benchmark_lt.py``
``benchmark_detector``     ``tools/benchmark_detector.py``
``demo``                   ``tools/demo.sh`` (after the install)  ``ltr-demo``
=========================  ============================  ===================
"""
