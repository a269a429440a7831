"""The CUDA, cuDNN, cuBLAS and TensorRT libraries ONNX Runtime's GPU providers need, from pip wheels.

onnxruntime-gpu 1.31 is built against CUDA 13 and cuDNN 9. With the `gpu` extra they come as
NVIDIA's wheels (nvidia-cuda-runtime, nvidia-cudnn-cu13, nvidia-cublas, ...) inside site-packages,
where the dynamic loader does not look; the `tensorrt` extra adds TensorRT's libraries the same
way. `preload()` loads them once, before the first session is built, so no system-wide CUDA or
LD_LIBRARY_PATH is needed: ONNX Runtime's own `preload_dlls()` for CUDA and cuDNN, then cuBLAS
and TensorRT (which it does not cover) by path. torch's CUDA 12 libraries may sit in the same
process (during `export`): the sonames differ by major version (libcudart.so.12 vs .so.13), so
both load side by side. `loaded()` reads the process's own memory map, so `doctor` can say which
file each library really came from.
"""

from __future__ import annotations

import ctypes
import importlib.util
import logging
from pathlib import Path

log = logging.getLogger(__name__)

CUDA_MAJOR = 13  # onnxruntime-gpu 1.31's build (constraints.txt); torch's CUDA 12 copies are not ours
LIBRARY_PREFIXES = ("libcudart", "libcublas", "libcublasLt", "libcudnn", "libcufft", "libcurand",
                    "libnvrtc", "libnvinfer", "libnvonnxparser")
_done = False


def _package_dir(name: str) -> Path | None:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _load_all(folder: Path, patterns: tuple[str, ...]) -> list[str]:
    loaded = []
    for pattern in patterns:
        for lib in sorted(folder.glob(pattern)):
            try:
                ctypes.CDLL(str(lib), mode=ctypes.RTLD_GLOBAL)
                loaded.append(str(lib))
            except OSError as exc:
                log.debug("could not preload %s: %s", lib, exc)
    return loaded


def preload(ort) -> list[str]:
    """Load the GPU libraries from the wheels (once per process); returns the files loaded here.
    Harmless without a GPU or without the wheels: whatever is missing is simply not loaded."""
    global _done
    if _done:
        return []
    _done = True
    loaded: list[str] = []
    if hasattr(ort, "preload_dlls"):
        from livestyle.native_output import captured_native_output

        with captured_native_output() as printed:  # it prints every library it misses
            try:
                ort.preload_dlls(cuda=True, cudnn=True, msvc=True, directory="")
            except Exception as exc:  # noqa: BLE001 - a missing library is reported by doctor, not fatal
                log.debug("onnxruntime.preload_dlls: %s", exc)
        log.debug("onnxruntime.preload_dlls: %s", printed[0].strip() if printed else "")
    nvidia = _package_dir("nvidia")
    if nvidia is not None:  # cuBLAS: the CUDA provider needs it; preload_dlls leaves it out
        for sub in ("cu13/lib", "cublas/lib"):
            if (nvidia / sub).is_dir():
                loaded += _load_all(nvidia / sub, (f"libcublasLt.so.{CUDA_MAJOR}*", f"libcublas.so.{CUDA_MAJOR}*"))
    trt = _package_dir("tensorrt_libs")
    if trt is not None:
        loaded += _load_all(trt, ("libnvinfer.so.*", "libnvinfer_plugin.so.*", "libnvonnxparser.so.*"))
    return loaded


def loaded() -> dict[str, str]:
    """{library file name: full path} of the GPU libraries mapped into this process now (Linux)."""
    found: dict[str, str] = {}
    try:
        maps = Path("/proc/self/maps").read_text().splitlines()
    except OSError:
        return found
    for line in maps:
        path = line.split()[-1] if "/" in line else ""
        name = Path(path).name
        if name.startswith(LIBRARY_PREFIXES) and ".so" in name:
            found.setdefault(name, path)
    return found
