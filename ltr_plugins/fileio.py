"""Atomic file writes: an interrupted tool leaves the old file or none, never half a file."""
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Union


def atomic_write_text(path: Union[str, Path], text: str) -> None:
    """Write ``text`` to a temporary file next to ``path``, then ``os.replace`` it there."""
    _atomic_write(path, text, 'w')


def atomic_write_bytes(path: Union[str, Path], data: bytes) -> None:
    """:func:`atomic_write_text` for binary data (e.g. an encoded PNG)."""
    _atomic_write(path, data, 'wb')


def _atomic_write(path: Union[str, Path], data: Union[str, bytes], mode: str) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f'.{path.name}.', suffix='.tmp')
    try:
        with os.fdopen(fd, mode, **({'newline': ''} if mode == 'w' else {})) as f:
            f.write(data)
        # mkstemp creates 0600; keep an existing file's mode, else a normal 0644
        os.chmod(tmp, path.stat().st_mode & 0o7777 if path.exists() else 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_json(path: Union[str, Path], obj: Any, **kwargs) -> None:
    """:func:`atomic_write_text` of ``json.dumps(obj, **kwargs)`` (default ``indent=2``)."""
    kwargs.setdefault('indent', 2)
    atomic_write_text(path, json.dumps(obj, **kwargs))
