"""The package's layers: io/ and audio/ (reading and writing media, DSP) import nothing from the
model runners or the commands above them, and the runtime imports no command. Checked on the
source, so a lazy import inside a function counts too."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "livestyle"


def imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
    return {n for n in names if n.startswith("livestyle")}


def offenders(folder: str, forbidden: tuple[str, ...]) -> dict[str, list[str]]:
    found = {}
    for path in sorted((PACKAGE / folder).rglob("*.py")):
        bad = sorted(m for m in imported_modules(path) if m.startswith(forbidden) or m in
                     {f.rstrip(".") for f in forbidden})
        if bad:
            found[str(path.relative_to(PACKAGE))] = bad
    return found


def test_io_and_audio_import_nothing_above_them():
    above = ("livestyle.runtime", "livestyle.commands", "livestyle.cli", "livestyle.train", "livestyle.models")
    assert offenders("io", above) == {}
    assert offenders("audio", above + ("livestyle.io",)) == {}


def test_runtime_imports_no_command_and_no_torch_code():
    assert offenders("runtime", ("livestyle.commands", "livestyle.cli", "livestyle.train", "livestyle.models")) == {}


def test_the_check_sees_a_violation(tmp_path, monkeypatch):
    """The test above can fail: a module importing the runtime is reported."""
    (tmp_path / "io").mkdir()
    (tmp_path / "io" / "bad.py").write_text("def f():\n    from livestyle.runtime.sessions import Engine\n")
    monkeypatch.setattr(__import__(__name__), "PACKAGE", tmp_path)
    assert offenders("io", ("livestyle.runtime",)) == {"io/bad.py": ["livestyle.runtime.sessions",
                                                                    "livestyle.runtime.sessions.Engine"]}


def test_vis2mus_imports_only_foundations_and_the_manifest():
    above = ("livestyle.commands", "livestyle.cli", "livestyle.train", "livestyle.models", "livestyle.io",
             "livestyle.audio", "livestyle.runtime.sessions", "livestyle.runtime.stnet_runner",
             "livestyle.runtime.style_ticker")
    assert offenders("vis2mus", above) == {}
