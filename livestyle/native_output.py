"""Capturing what C/C++ libraries print straight to file descriptors 1 and 2 (ONNX Runtime while
loading providers, OpenCV probing camera backends, SDL probing video drivers), so a user sees one
clear line instead of a wall of library noise."""

from __future__ import annotations

import contextlib
import io
import os
import sys
import tempfile
from typing import Iterator


@contextlib.contextmanager
def captured_native_output() -> Iterator[list[str]]:
    """Send file descriptors 1 and 2 to a temporary file for the duration (ONNX Runtime prints
    provider-loading errors from C++ and Python straight to them); yields a list that holds the
    captured text afterwards. Used only while sessions are built, before any worker thread runs."""
    text: list[str] = []
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    python_level = io.StringIO()  # ORT's Python layer prints too; sys.stdout may not be fd 1
    with tempfile.TemporaryFile(mode="w+b") as tmp:
        os.dup2(tmp.fileno(), 1)
        os.dup2(tmp.fileno(), 2)
        try:
            with contextlib.redirect_stdout(python_level), contextlib.redirect_stderr(python_level):
                yield text
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)
            tmp.seek(0)
            text.append(python_level.getvalue() + tmp.read().decode(errors="replace"))
