"""Docs stay in sync with the code: the generated config reference is current, every
registered module, public class and function has a docstring, the markdown links resolve, the
method pages cover every registered module, and the troubleshooting workaround works."""
import importlib
import inspect
import os
import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import pytest
from ltr_testing import REPO, load_tool


@pytest.fixture(scope='module')
def gen():
    return load_tool('tools/gen_config_reference.py')


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
               and (inspect.isclass(getattr(core, name))
                    or inspect.isfunction(getattr(core, name)))]
    assert not missing, f'public core API without a docstring: {missing}'


# --------------------------------------------------------------------------- markdown links
_LINK = re.compile(r'(?<!!)\[[^\]]*\]\(([^)\s]+)\)')


def _slug(heading: str) -> str:
    """GitHub's anchor of a markdown heading: of its text as rendered (a link gives its
    text), lower case, punctuation dropped (letters, digits, ``_`` and ``-`` kept), spaces to
    hyphens."""
    text = re.sub(r'\[([^\]]*)\]\([^)]*\)', r'\1', heading).strip().lower()
    text = ''.join(ch for ch in text if ch.isalnum() or ch in ' _-')
    return text.replace(' ', '-')


def _anchors(path: Path) -> set:
    found, in_code = set(), False
    for line in path.read_text(encoding='utf-8').splitlines():
        if line.startswith('```'):
            in_code = not in_code
        elif not in_code and line.startswith('#'):
            found.add(_slug(line.lstrip('#')))
    return found


def _markdown_files():
    files = [REPO / 'README.md', REPO / 'CHANGELOG.md', *sorted((REPO / 'docs').rglob('*.md')),
             *sorted((REPO / 'examples').rglob('*.md'))]
    return [f for f in files if f.is_file()]


def test_slug_matches_github_rules():
    assert _slug(' CAMC — class activation map calibration (`ltr_plugins/core/camc.py`)') == \
        'camc--class-activation-map-calibration-ltr_pluginscorecamcpy'
    assert _slug("`_base_ = 'ltr_plugins::...'` in mmdet's / mmpretrain's own tools") == \
        '_base_--ltr_plugins-in-mmdets--mmpretrains-own-tools'
    # a link in a heading anchors by its text, not its target
    assert _slug(' What the full tier shows (3 seeds, [full_demo.md](full_demo.md))') == \
        'what-the-full-tier-shows-3-seeds-full_demomd'


def test_markdown_links_resolve():
    """Every relative link in README.md, CHANGELOG.md, docs/ and examples/ points at an existing
    file, and every #anchor at a heading of that file (docs/methods.md was split into
    docs/methods/)."""
    files = _markdown_files()
    assert len(files) >= 8
    broken = []
    for md in files:
        text = re.sub(r'```.*?```', '', md.read_text(encoding='utf-8'), flags=re.S)
        for target in _LINK.findall(text):
            if re.match(r'[a-z]+://|mailto:', target):
                continue
            path, _, anchor = target.partition('#')
            dest = (md.parent / path).resolve() if path else md
            if not dest.exists():
                broken.append(f'{md.relative_to(REPO)}: {target} (no such file)')
            elif anchor and dest.suffix == '.md' and anchor not in _anchors(dest):
                broken.append(f'{md.relative_to(REPO)}: {target} (no such heading)')
    assert not broken, '\n'.join(broken)


def test_every_benchmark_page_has_one_index_row():
    """docs/benchmarks/README.md indexes every report page once, in the table of today's
    protocol or in the history one (a page nobody can find from the index is lost; a page in
    both tables would be called current and history at once)."""
    pages = REPO / 'docs' / 'benchmarks'
    index = (pages / 'README.md').read_text(encoding='utf-8')
    rows = [line.split('](', 1)[0][len('| ['):] for line in index.splitlines()
            if line.startswith('| [')]
    assert sorted(rows) == sorted(p.name for p in pages.glob('*.md') if p.name != 'README.md')


def test_readme_is_a_front_door():
    """README.md stays short and points at the docs instead of holding measurements: at most
    200 lines, the two commands verbatim, the results linked from docs/benchmarks/, the
    license file it names present."""
    text = (REPO / 'README.md').read_text(encoding='utf-8')
    assert len(text.splitlines()) <= 200
    for command in ('bash tools/demo.sh', 'bash tools/run_tests.sh', 'bash tools/install.sh',
                    'pip install -e .'):
        assert command in text, command
    for target in ('docs/benchmarks/README.md', 'docs/benchmarks/demo.md',
                   'docs/benchmarks/bench_suite.md', 'docs/benchmarks/overhead.md',
                   'docs/benchmarks/detector.md', 'docs/reliability.md', 'LICENSE'):
        assert f']({target})' in text, target
    assert text.count('@inproceedings{') + text.count('@article{') == 5  # one per cited paper
    assert not re.search(r'20\d\d-\d\d-\d\d', text), 'dated measurements belong in docs/'
    assert 'Apache License' in (REPO / 'LICENSE').read_text(encoding='utf-8')


def test_no_internal_paths_are_cited():
    """Committed files cite papers and public repositories, never paths of the machine the
    package was developed on (a user cannot open them)."""
    internal = re.compile('|'.join(['/' + 'work/', 'shared/' + 'specs', r'\.\./' + 'shared/',
                                    'shared/' + 'data']))
    roots = ['README.md', 'CHANGELOG.md', 'docs', 'examples', 'ltr_plugins', 'tools',
             'configs', 'tests', 'setup.cfg']
    found = []
    for root in roots:
        path = REPO / root
        files = [path] if path.is_file() else sorted(path.rglob('*'))
        for f in files:
            if f.suffix not in ('.md', '.py', '.sh', '.cfg', '.txt', '.yml') or not f.is_file():
                continue
            for number, line in enumerate(f.read_text(encoding='utf-8').splitlines(), 1):
                if internal.search(line):
                    found.append(f'{f.relative_to(REPO)}:{number}: {line.strip()}')
    assert not found, '\n'.join(found)


def test_method_pages_cover_every_method_and_quote_sources(gen):
    """One page per method, each with the sections the docs promise; every paper number is
    given with its source, and a page without paper numbers says so."""
    pages = {name: (REPO / 'docs' / 'methods' / f'{name}.md').read_text(encoding='utf-8')
             for name in ('iif_cosine', 'camc', 'oltr', 'vlltr', 'evaluation', 'peers')}
    for name, text in pages.items():
        for section in ('## What it does', '## Formulas (as implemented)', '## Expected numbers'):
            assert section in text, f'{name}.md lacks "{section}"'
        if name != 'evaluation':
            assert '## Configs' in text and 'options' in text.lower(), name
            assert 'Choices where' in text, f'{name}.md lacks the choices section'
    assert 'not available' in pages['camc'].lower()  # no public paper numbers for CAMC
    # each registered module is documented on some method page
    all_pages = '\n'.join(pages.values())
    missing = sorted({key for _, _, key, _ in gen.collect()
                      if f'`{key}`' not in all_pages and key not in _NOT_METHOD_MODULES})
    assert not missing, f'registered modules on no method page: {missing}'


# infrastructure modules documented in the config reference / getting started / troubleshooting
# rather than on a method page
_NOT_METHOD_MODULES = {'SmallConvNet', 'AutocastOptimWrapper', 'NumClassesCheckHook',
                       'CheckpointFixesHook'}


# --------------------------------------------------------------------------- docstrings
def _package_modules():
    import ltr_plugins
    names = ['ltr_plugins'] + sorted(
        m.name for m in pkgutil.walk_packages(ltr_plugins.__path__, 'ltr_plugins.'))
    return [importlib.import_module(n) for n in names]


def _public_objects(module):
    """Public classes and functions defined in ``module`` (not imported into it) and the
    public methods / properties those classes define themselves, with their docstrings."""
    for name, obj in sorted(vars(module).items()):
        if name.startswith('_') or getattr(obj, '__module__', None) != module.__name__:
            continue
        if inspect.isfunction(obj):
            yield f'{module.__name__}.{name}', obj.__doc__
        elif inspect.isclass(obj):
            yield f'{module.__name__}.{name}', obj.__doc__
            for attr, member in vars(obj).items():
                if attr.startswith('_'):
                    continue
                if isinstance(member, (staticmethod, classmethod)):
                    member = member.__func__
                if inspect.isfunction(member) or isinstance(member, property):
                    # an override documented by its base class counts (inspect.getdoc), except
                    # forward: nn.Module's docstring says nothing about the shapes
                    doc = member.__doc__
                    if attr != 'forward':
                        doc = doc or inspect.getdoc(getattr(obj, attr, None))
                    yield f'{module.__name__}.{name}.{attr}', doc


def test_every_public_class_and_function_has_a_docstring():
    modules = _package_modules()
    names = {m.__name__ for m in modules}
    assert {'ltr_plugins.core.iif', 'ltr_plugins.mmdet.heads', 'ltr_plugins.mmpretrain.vlltr',
            'ltr_plugins.launch', 'ltr_plugins.cli'} <= names
    objects = [item for m in modules for item in _public_objects(m)]
    assert len(objects) > 150  # the walk really sees the package
    assert any(name == 'ltr_plugins.core.iif.iif_weights' for name, _ in objects)
    missing = [name for name, doc in objects if not (doc or '').strip()]
    missing += [m.__name__ + ' (module)' for m in modules if not (m.__doc__ or '').strip()]
    assert not missing, 'without a docstring:\n' + '\n'.join(missing)


def test_pydoc_shows_the_docstrings():
    proc = subprocess.run([sys.executable, '-m', 'pydoc', 'ltr_plugins.core.iif'], cwd=REPO,
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, 'PAGER': 'cat'})
    assert proc.returncode == 0, proc.stderr
    for needle in ('iif_weights(', 'per-class image counts', 'IIFLogitAdjustment'):
        assert needle in proc.stdout


# --------------------------------------------------------------------------- troubleshooting
def test_foreign_tool_ltr_base_limitation_and_workaround(tmp_path):
    """docs/troubleshooting.md: a tool that parses configs before custom_imports (mmdet's own
    tools/misc/print_config.py) cannot resolve `_base_ = 'ltr_plugins::...'`; run with
    ltr_plugins imported first (workaround 2), the same tool can."""
    import mmdet
    tool = Path(mmdet.__file__).parent / '.mim' / 'tools' / 'misc' / 'print_config.py'
    assert tool.is_file(), tool
    cfg = tmp_path / 'my_config.py'
    cfg.write_text("_base_ = "
                   "'ltr_plugins::iif/demo/mask-rcnn_r18_fpn_iif-raw_1xb8-6e_demo-lvis.py'\n"
                   "custom_imports = dict(imports=['ltr_plugins'], allow_failed_imports=False)\n")
    env = {k: v for k, v in os.environ.items() if k != 'PYTHONSTARTUP'}
    plain = subprocess.run([sys.executable, str(tool), str(cfg)], cwd=tmp_path,
                           capture_output=True, text=True, timeout=300, env=env)
    assert plain.returncode != 0
    assert 'does not support to load ltr_plugins config' in plain.stdout + plain.stderr
    wrapped = subprocess.run(
        [sys.executable, '-c', 'import ltr_plugins.mim, runpy, sys; sys.argv = sys.argv[1:]; '
         "ltr_plugins.mim.enable_config_names(); runpy.run_path(sys.argv[0], "
         "run_name='__main__')", str(tool), str(cfg)],
        cwd=tmp_path, capture_output=True, text=True, timeout=300, env=env)
    assert wrapped.returncode == 0, wrapped.stdout[-3000:] + wrapped.stderr[-3000:]
    assert 'IIFShared2FCBBoxHead' in wrapped.stdout
