"""`render` speed with ONNX Runtime's CPU thread spinning on (ORT's default) and off.

    python bench/spinning.py [--heights 144 256] [--seconds 4] [--repeats 2]

Renders the first seconds of the bundled clip on the CPU provider, alternating the setting, each
render in its own process; prints fps and the CPU time the process used.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CHILD = r"""
import json, sys, time
from pathlib import Path
from livestyle.commands.render import RenderConfig, RenderJob, render
from livestyle.runtime.sessions import RuntimeConfig
spin, height, seconds, out = sys.argv[1] == "1", int(sys.argv[2]), float(sys.argv[3]), Path(sys.argv[4])
cpu = time.process_time()
stats = render(RenderJob(Path(sys.argv[5]), out, RenderConfig(), RuntimeConfig(cpu_spinning=spin),
                         providers=("cpu",), duration=seconds, height=height, progress=False))
print(json.dumps({"spinning": spin, "height": height, "fps": round(stats.frames / stats.seconds, 2),
                  "cpu_seconds": round(time.process_time() - cpu, 1)}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--heights", type=int, nargs="+", default=[144, 256])
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    clip = REPO / "data" / "video" / "big_buck_bunny_cut_10s.mp4"
    with tempfile.TemporaryDirectory() as tmp:
        for height in args.heights:
            for _ in range(args.repeats):
                for spin in ("1", "0"):
                    result = subprocess.run([sys.executable, "-c", CHILD, spin, str(height), str(args.seconds),
                                             str(Path(tmp) / "out.mp4"), str(clip)],
                                            capture_output=True, text=True, check=True, cwd=REPO)
                    print(json.loads(result.stdout.strip().splitlines()[-1]), flush=True)


if __name__ == "__main__":
    main()
