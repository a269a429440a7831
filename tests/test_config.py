from pathlib import Path

import pytest

from livestyle.config import load_config
from livestyle.errors import UserError
from livestyle.runtime.sessions import RuntimeConfig

REPO = Path(__file__).resolve().parents[1]


def test_shipped_config_equals_defaults():
    from livestyle.commands.live import LiveConfig
    from livestyle.commands.render import RenderConfig

    path = REPO / "configs" / "livestyle.yaml"
    assert load_config(RuntimeConfig, path, section="runtime") == RuntimeConfig()
    assert load_config(RenderConfig, path, section="render") == RenderConfig()
    assert load_config(LiveConfig, path, section="live") == LiveConfig()


def test_shipped_training_config_loads():
    from livestyle.train.stnet_trainer import STNetTrainConfig

    cfg = load_config(STNetTrainConfig, REPO / "configs" / "train_stnet.yaml")
    assert cfg.transform.style_layers == ("r11", "r21", "r31", "r41")
    assert cfg.transform.content_layer == "r41" and cfg.transform.style_weight == 0.02


def test_nested_override_and_unknown_key(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("providers: [cpu]\ntensorrt: {fp16: false}\n")
    cfg = load_config(RuntimeConfig, path)
    assert cfg.providers == ("cpu",) and cfg.tensorrt.fp16 is False and cfg.tensorrt.engine_cache
    path.write_text("tensorrt: {fp61: false}\n")
    with pytest.raises(UserError, match=r"tensorrt: unknown key\(s\) fp61"):
        load_config(RuntimeConfig, path)


def test_bad_yaml_and_missing_file(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("providers: [cpu\n")
    with pytest.raises(UserError, match="not valid YAML"):
        load_config(RuntimeConfig, path)
    with pytest.raises(UserError, match="not found"):
        load_config(RuntimeConfig, tmp_path / "none.yaml")


@pytest.mark.parametrize("path", sorted((REPO / "configs").glob("train_*.yaml")), ids=lambda p: p.name)
def test_every_shipped_training_config_loads(path):
    """Each configs/train_*.yaml names only keys its trainer knows (a typo would stop a long run
    before its first step on a user's machine, or worse, be ignored)."""
    from livestyle.train.lite_trainer import LiteTrainConfig
    from livestyle.train.mvnet_trainer import MVNetTrainConfig
    from livestyle.train.stnet_trainer import STNetTrainConfig
    from livestyle.train.vis2mus_trainer import Vis2MusTrainConfig

    kinds = {"train_stnet": STNetTrainConfig, "train_lite": LiteTrainConfig, "train_mvnet": MVNetTrainConfig,
             "train_vis2mus": Vis2MusTrainConfig}
    cls = next(c for prefix, c in kinds.items() if path.stem.startswith(prefix))
    cfg = load_config(cls, path)
    assert cfg.out_dir.startswith("runs/")
    if hasattr(cfg, "check"):  # the settings the trainer refuses before loading data
        cfg.check(str(path))


@pytest.mark.parametrize("hint, value, ok", [
    (float, 80, True), (float, 1.0e-4, True), (float, "1e-4", False), (float, True, False),
    (int, 3, True), (int, 3.0, False), (int, False, False), (bool, True, True), (bool, "yes", False),
    (str, "auto", True), (str, 1, False), (tuple, "anything", True),   # other hints: left to their users
])
def test_scalar_settings_must_have_their_yaml_type(hint, value, ok):
    from livestyle.config import check_scalar

    if ok:
        check_scalar(hint, value, "x.yaml: setting")
    else:
        with pytest.raises(UserError, match="x.yaml: setting must be"):
            check_scalar(hint, value, "x.yaml: setting")
