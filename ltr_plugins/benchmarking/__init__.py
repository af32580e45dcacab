"""Benchmark helpers shared by ``tools/benchmark*.py`` (importable, no OpenMMLab imports)."""
