"""Atomic file writes: an interrupted tool leaves the old file or none, never half a file; and
file locks between processes."""
import csv
import fcntl
import io
import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence, Union


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


class LockHeld(RuntimeError):
    """:func:`file_lock` with ``wait=False`` found the lock held; ``holder`` is what the holding
    process wrote into the lock file (who it is), '' if nothing."""

    def __init__(self, path: Union[str, Path], holder: str):
        self.path, self.holder = str(path), holder
        super().__init__(f'{path} is held by {holder or "another process"}')


@contextmanager
def file_lock(path: Union[str, Path], holder: str = '', wait: bool = True) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``path`` (created, with its folder) inside the block.

    The kernel releases the lock when its holder ends, however it ends, so a crashed holder
    leaves no stale lock (the file stays; its text is not a lock). ``holder``: written into the
    file once the lock is held, for whoever finds it held. ``wait=False``: raise
    :class:`LockHeld` at once instead of waiting. Two opens of the same file exclude each other
    in one process too (the lock belongs to the open file, not the process).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, 'a+', encoding='utf-8') as f:  # 'a+': the holder's text stays until held
        try:
            fcntl.flock(f, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            f.seek(0)
            raise LockHeld(path, f.read().strip()) from None
        try:
            if holder:
                f.seek(0)
                f.truncate()
                f.write(holder + '\n')
                f.flush()
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)
