"""Output paths, checked the same way by every command before any work starts, and the temporary
files beside them that become the output only when complete.

`check_output` refuses an output that is one of the inputs (same path after resolving symlinks, or
the same file through a hard link), a directory where a file is expected (or a file where a folder
is), a missing or unwritable directory. `temporary_beside` reserves a new, uniquely named file next
to the target: two jobs writing to one target never share a temporary file, so the last complete
one wins and neither sees the other's bytes.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Callable, Iterable

from livestyle.errors import UserError


def same_file(a: str | Path, b: str | Path) -> bool:
    """True when `a` and `b` name one file: equal resolved paths, or (both existing) the same
    device and inode, which also catches hard links."""
    a, b = Path(a), Path(b)
    try:
        if a.resolve() == b.resolve():
            return True
        sa, sb = os.stat(a), os.stat(b)
    except (OSError, RuntimeError):  # missing, or a symlink loop
        return False
    return (sa.st_dev, sa.st_ino) == (sb.st_dev, sb.st_ino)


def check_output(path: str | Path, inputs: Iterable[str | Path | None] = (), directory: bool = False,
                 option: str = "output") -> None:
    """Refuse, with a UserError naming `path`, an output that would overwrite one of `inputs`, is
    of the wrong kind (a folder for a file, or a file for a folder when `directory`), or whose
    directory is missing or not writable. `option` names it in messages (e.g. "--json")."""
    path = Path(path)
    for source in inputs:
        if source is not None and same_file(path, source):
            raise UserError(f"{path}: the {option} would overwrite the input {source}; choose another path")
    if directory:
        if path.exists() and not path.is_dir():
            raise UserError(f"{path}: exists and is not a directory (the {option} is a folder)")
        parent = path
        while not parent.exists() and parent != parent.parent:  # created with its parents later
            parent = parent.parent
        if not parent.is_dir():
            raise UserError(f"{path}: {parent} is not a directory")
    else:
        if path.is_dir():
            raise UserError(f"{path}: is a directory; the {option} must be a file name")
        parent = path.parent
        if not parent.is_dir():
            raise UserError(f"{path}: directory {parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UserError(f"{path}: cannot write in {parent} (permission denied or read-only)")


def temporary_beside(target: str | Path, suffix: str | None = None) -> Path:
    """Create and return a new empty file beside `target`, named `.STEM.RANDOM.partial SUFFIX`
    (the target's suffix unless given, so muxers that look at the name still see the format).
    Created with O_EXCL and mode 0666 less the umask, as the final file would be."""
    target = Path(target)
    suffix = target.suffix if suffix is None else suffix
    for _ in range(100):
        tmp = target.with_name(f".{target.stem}.{secrets.token_hex(4)}.partial{suffix}")
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        except FileExistsError:
            continue
        except OSError as exc:
            raise UserError(f"{target}: cannot write here ({exc.strerror})") from None
        except BaseException:  # interrupted (Ctrl-C, SIGTERM) just after creating it
            tmp.unlink(missing_ok=True)
            raise
        return tmp
    raise UserError(f"{target}: cannot create a temporary file beside it")


def write_atomically(path: str | Path, write: Callable[[Path], None]) -> None:
    """Call `write(tmp)` on a unique temporary file beside `path`, then rename it into place; a
    failure is a UserError naming `path` and leaves nothing behind."""
    path = Path(path)
    tmp = temporary_beside(path)
    try:
        write(tmp)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise UserError(f"{path}: cannot write ({exc.strerror})") from None


def write_text(path: str | Path, text: str) -> None:
    """Write `text` atomically (see write_atomically)."""
    write_atomically(path, lambda tmp: tmp.write_text(text))
