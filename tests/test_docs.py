"""Docs stay in sync with the code: the generated config reference is current and every
registered module and public core function has its own docstring."""
import importlib.util
import inspect

import pytest

from conftest import REPO


@pytest.fixture(scope='module')
def gen():
    spec = importlib.util.spec_from_file_location(
        'gen_config_reference', REPO / 'tools' / 'gen_config_reference.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_config_reference_is_current(gen):
    assert gen.main(['--check']) == 0, 'run python tools/gen_config_reference.py'


def test_registered_modules_have_their_own_docstrings(gen):
    entries = gen.collect()
    assert len(entries) >= 10
    missing = [key for _, _, key, obj in entries if not (obj.__doc__ or '').strip()]
    assert not missing, f'registered modules without a docstring: {missing}'


def test_public_core_api_has_docstrings():
    import ltr_plugins.core as core
    missing = [name for name in core.__all__
               if not (getattr(core, name).__doc__ or '').strip()
               and (inspect.isclass(getattr(core, name)) or inspect.isfunction(getattr(core, name)))]
    assert not missing, f'public core API without a docstring: {missing}'
