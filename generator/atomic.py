"""Files replaced whole: written beside their target under a temporary name, then renamed
onto it, so a crash, a full disk or Ctrl-C never leaves half a file where a whole one was.
The one place this is done; the lock, `deck ids`, the preview, the cache and the package
all write through it."""

from __future__ import annotations

import errno
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from generator.model import temporary_prefix


@contextmanager
def replacing(path: Path, mode: int | None = 0o644, suffix: str = ".tmp",
              durable: bool = True) -> Iterator[Path]:
    """A new empty file beside `path` for the caller to fill; renamed onto `path` when the
    block ends without an exception, removed otherwise. `mode`: the file's permissions
    (mkstemp makes it private); None leaves them private. `durable`: flushed to disk
    before the rename (a lock or a package must survive a power cut; a cache entry need
    not)."""
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=temporary_prefix(path.name),
                                suffix=suffix)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        if durable:
            fd = os.open(tmp, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write(path: Path, data: bytes | str, *, mode: int | None = 0o644,
          keep_mode: bool = False, refuse_read_only: bool = False,
          durable: bool = True) -> None:
    """Replace `path` with `data` (text is written as UTF-8 with `\\n` line endings as
    given). Through a symbolic link, the file it points to is replaced and the link stays.
    `keep_mode`: an existing file keeps its permissions. `refuse_read_only`: an existing
    file without its owner's write bit is not replaced (PermissionError): the user made it
    so, and root, who may write any file, must not replace it either."""
    path = path.resolve()
    if keep_mode or refuse_read_only:
        try:
            current = path.stat().st_mode & 0o7777
        except FileNotFoundError:
            current = None
        if refuse_read_only and current is not None and not current & 0o200:
            raise PermissionError(errno.EACCES, "the file is read-only", str(path))
        if keep_mode and current is not None:
            mode = current
    with replacing(path, mode=mode, durable=durable) as tmp:
        tmp.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)


def write_quietly(path: Path, data: bytes | str) -> bool:
    """`write` for what only saves time later (the cache, this machine's memory): a
    failure (a full disk, a read-only folder) is ignored. Whether it was written."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write(path, data, mode=None, durable=False)  # private, as mkstemp makes it
    except OSError:
        return False
    return True
