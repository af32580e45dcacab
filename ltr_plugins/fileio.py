"""Atomic file writes: an interrupted tool leaves the old file or none, never half a file."""
import csv
import io
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Iterable, Sequence, Union


def read_text(path: Union[str, Path], what: str = 'file') -> str:
    """The UTF-8 text of ``path``. A binary file (e.g. a pickle given where a csv / json / list
    is expected) raises ``ValueError`` naming the file, not a bare ``UnicodeDecodeError``.
    Nothing is ever unpickled or executed."""
    path = Path(path)
    try:
        return path.read_text(encoding='utf-8')
    except UnicodeDecodeError as e:
        raise ValueError(f'{path}: not a UTF-8 text {what} (undecodable byte at offset '
                         f'{e.start}: {e.reason}); is it a binary file?') from None


def atomic_write_bytes(path: Union[str, Path], data: bytes) -> None:
    """Write ``data`` to a temporary file next to ``path``, then ``os.replace`` it there."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f'.{path.name}.', suffix='.tmp')
    try:
        with os.fdopen(fd, 'wb') as f:
            f.write(data)
        # mkstemp creates 0600; keep an existing file's mode, else a normal 0644
        os.chmod(tmp, path.stat().st_mode & 0o7777 if path.exists() else 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_text(path: Union[str, Path], text: str) -> None:
    """:func:`atomic_write_bytes` of ``text`` encoded as UTF-8 (line ends kept as given)."""
    atomic_write_bytes(path, text.encode('utf-8'))


def atomic_write_json(path: Union[str, Path], obj: Any, **kwargs) -> None:
    """:func:`atomic_write_text` of ``json.dumps(obj, **kwargs)`` (default ``indent=2``)."""
    kwargs.setdefault('indent', 2)
    atomic_write_text(path, json.dumps(obj, **kwargs))


def to_csv(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """CSV text (header + rows, quoting as needed) for :func:`atomic_write_text`."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator='\n')
    writer.writerow(header)
    writer.writerows(rows)
    return buf.getvalue()
