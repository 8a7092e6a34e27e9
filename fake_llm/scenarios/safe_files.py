"""Reading the files a rule's `content_file` names: regular files only (a FIFO or a device would block the server or
never end), under a size cap, and never a dotfile (`.env`, `.git/config`, `.ssh/...`): SECURITY.md, issue 11 item 2.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path, PurePath

#: Largest file a `content_file` may name; replies are capped far below this anyway (`max_reply_bytes`).
MAX_FILE_BYTES = 10 * 1024 * 1024


class FileRefused(ValueError):
    """A file fake-llm will not serve; the message says why."""


def read_text_file(name: str, target: Path, *, max_bytes: int = MAX_FILE_BYTES) -> str:
    """The UTF-8 text of `target` (already resolved from `name`), or FileRefused / OSError / UnicodeDecodeError."""
    hidden = [part for part in (*PurePath(name).parts, target.name) if part.startswith(".") and part not in (".", "..")]
    if hidden:
        raise FileRefused(f"{hidden[0]!r} is a dotfile or dot-folder, which rules may not read")
    # O_NONBLOCK: a FIFO put in place after any check opens without waiting for a writer; fstat then refuses it.
    descriptor = os.open(target, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    try:
        info = os.fstat(descriptor)
        if not stat.S_ISREG(info.st_mode):
            raise FileRefused("not a regular file (a folder, FIFO, socket or device)")
        if info.st_size > max_bytes:
            raise FileRefused(f"the file has {info.st_size} bytes; the limit is {max_bytes}")
        data = os.read(descriptor, max_bytes + 1)
    finally:
        os.close(descriptor)
    if len(data) > max_bytes:
        raise FileRefused(f"the file has more than {max_bytes} bytes")
    return data.decode("utf-8")
