"""PSNR between two renders of the same clip, frame by frame (decoded), e.g. the same model before
and after a refactor. Render both losslessly (`--crf 0`, .mkv) so only the pipelines differ.

    python bench/render_parity.py A.mkv B.mkv
"""

from __future__ import annotations

import sys

import numpy as np

from livestyle.io.decode import decode_video
from livestyle.io.media import probe


def frames(path: str) -> list[np.ndarray]:
    info = probe(path)
    return [f for _, f in decode_video(path, info.zero, 0.0, info.orientation)]


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)


def main() -> None:
    a, b = frames(sys.argv[1]), frames(sys.argv[2])
    if len(a) != len(b) or a[0].shape != b[0].shape:
        sys.exit(f"different renders: {len(a)} vs {len(b)} frames, {a[0].shape} vs {b[0].shape}")
    values = [psnr(x, y) for x, y in zip(a, b)]
    finite = [v for v in values if np.isfinite(v)]
    print(f"{len(values)} frames {a[0].shape[1]}x{a[0].shape[0]}: PSNR min {min(values):.1f} dB, "
          f"mean {np.mean(finite) if finite else float('inf'):.1f} dB, identical frames {len(values) - len(finite)}")


if __name__ == "__main__":
    main()
