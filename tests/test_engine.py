"""Provider choice and fallback, and the provider options built from config. A fake onnxruntime
module plays the GPU builds: it behaves as ONNX Runtime documents (a provider missing from the
build is not offered; a provider whose libraries fail to load is dropped and the session runs on
the next one)."""

import logging

import pytest

from livestyle.errors import UserError
from livestyle.runtime.sessions import (CUDAOptions, Engine, ProviderUnavailable, RuntimeConfig, TensorRTOptions,
                                      cuda_options, tensorrt_options)


class FakeSession:
    def __init__(self, providers):
        self._providers = providers

    def get_providers(self):
        return self._providers

    def get_inputs(self):
        return []

    def get_outputs(self):
        return []


class FakeOrt:
    """offered: providers in the build; broken: providers that fail at session creation, either
    silently (ORT drops them) or by raising."""

    class GraphOptimizationLevel:
        ORT_ENABLE_ALL = 99

    class SessionOptions:
        def __init__(self):
            self.entries = {}

        def add_session_config_entry(self, key, value):
            self.entries[key] = value

    def __init__(self, offered, silently_broken=(), raising=()):
        self.offered = offered
        self.silently_broken = set(silently_broken)
        self.raising = set(raising)
        self.calls = []

    def get_available_providers(self):
        return list(self.offered)

    def InferenceSession(self, path, sess_options=None, providers=()):
        self.calls.append(providers)
        self.options = sess_options
        names = [p for p, _ in providers]
        if names[0] in self.raising:
            raise RuntimeError(f"{names[0]} failed: libnvinfer.so.10: cannot open shared object file")
        print("EP Error: noise that must not reach the user's console")
        return FakeSession([n for n in names if n not in self.silently_broken])


@pytest.fixture
def model(tmp_path):
    path = tmp_path / "m.onnx"
    path.write_bytes(b"fake")
    return path


ALL = ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"]


def test_uses_first_requested_provider_with_its_options(model):
    ort = FakeOrt(ALL)
    session = Engine(providers=("tensorrt", "cuda", "cpu"), ort=ort).session(model)
    assert session.provider == "tensorrt"
    (name, opts), _, _ = ort.calls[0]
    assert name == "TensorrtExecutionProvider" and opts["trt_fp16_enable"] is True


def test_provider_missing_from_build_falls_back_with_one_warning(model, tmp_path, caplog):
    ort = FakeOrt(["CUDAExecutionProvider", "CPUExecutionProvider"])
    engine = Engine(providers=("tensorrt", "cuda", "cpu"), ort=ort)
    with caplog.at_level(logging.WARNING):
        first = engine.session(model)
        second = engine.session(model)
    assert first.provider == second.provider == "cuda"
    warnings = [r.message for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "TensorRT" in warnings[0] and "running on CUDA" in warnings[0]


def test_provider_that_fails_to_load_is_detected_and_skipped(model, caplog, capfd):
    ort = FakeOrt(ALL, silently_broken={"TensorrtExecutionProvider", "CUDAExecutionProvider"})
    engine = Engine(providers=("tensorrt", "cuda", "cpu"), ort=ort)
    with caplog.at_level(logging.WARNING):
        session = engine.session(model)
        engine.session(model)
    assert session.provider == "cpu"
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 1
    assert "EP Error" not in capfd.readouterr().out  # ORT's console noise is captured
    # the second graph goes straight to CPU: the broken providers are remembered
    assert [p for p, _ in ort.calls[-1]] == ["CPUExecutionProvider"]


def test_provider_that_raises_is_skipped(model, caplog):
    ort = FakeOrt(ALL, raising={"TensorrtExecutionProvider"})
    with caplog.at_level(logging.WARNING):
        session = Engine(providers=("tensorrt", "cuda"), ort=ort).session(model)
    assert session.provider == "cuda"
    assert "libnvinfer" in caplog.text
    # CPU is always kept as the last fallback for nodes the accelerator cannot run
    assert [p for p, _ in ort.calls[-1]] == ["CUDAExecutionProvider", "CPUExecutionProvider"]


def test_only_unavailable_providers_requested_runs_on_cpu(model, caplog):
    ort = FakeOrt(["CPUExecutionProvider"])
    with caplog.at_level(logging.WARNING):
        session = Engine(providers=("cuda",), ort=ort).session(model)
    assert session.provider == "cpu"
    assert "CUDA requested but unusable" in caplog.text


@pytest.mark.parametrize("ort,reason", [
    (FakeOrt(["CPUExecutionProvider"]), "not in this onnxruntime build"),
    (FakeOrt(ALL, silently_broken={"CUDAExecutionProvider"}), "EP Error"),  # what ORT printed
    (FakeOrt(ALL, raising={"CUDAExecutionProvider"}), "libnvinfer"),
])
def test_without_fallback_an_unusable_provider_raises_instead_of_running_elsewhere(model, ort, reason, caplog):
    """What `livestyle bench` relies on: a CUDA figure is never a CPU figure in disguise."""
    engine = Engine(providers=("cuda",), ort=ort, fallback=False)
    with caplog.at_level(logging.WARNING), pytest.raises(ProviderUnavailable, match=reason) as info:
        engine.session(model)
    assert info.value.provider == "cuda"
    assert not caplog.records  # no "running on CPU" warning: nothing runs
    assert Engine(providers=("cuda",), ort=FakeOrt(ALL), fallback=False).session(model).provider == "cuda"


def test_unknown_provider_and_missing_model_are_user_errors(model, tmp_path):
    with pytest.raises(UserError, match="unknown execution provider"):
        Engine(providers=("tensorrt", "directml"), ort=FakeOrt(ALL))
    with pytest.raises(UserError, match="model file not found"):
        Engine(providers=("cpu",), ort=FakeOrt(ALL)).session(tmp_path / "nope.onnx")


def test_cpu_threads_do_not_spin_unless_asked(model):
    """Two of our sessions run at once (style, frames): busy-waiting threads would steal cores."""
    ort = FakeOrt(ALL)
    Engine(providers=("cpu",), ort=ort).session(model)
    assert ort.options.entries == {"session.intra_op.allow_spinning": "0"}
    Engine(RuntimeConfig(cpu_spinning=True), providers=("cpu",), ort=ort).session(model)
    assert ort.options.entries == {}


def test_tensorrt_options_from_config():
    cfg = RuntimeConfig(device_id=1, tensorrt=TensorRTOptions(fp16=False, cache_dir="/tmp/trt",
                                                              min_size="32x32", opt_size="640x360",
                                                              max_size="1280x720"))
    opts = tensorrt_options(cfg, {"frame": (-1, "H", "W", 3), "s_mean": (-1, 256), "s_matrix": (-1, 32, 32)})
    assert opts["device_id"] == 1
    assert opts["trt_fp16_enable"] is False
    assert opts["trt_engine_cache_enable"] is True and opts["trt_engine_cache_path"] == "/tmp/trt"
    assert opts["trt_max_workspace_size"] == 2048 * 1024 * 1024
    # every dynamic input of the content graph gets a profile (TensorRT requires one for each)
    assert opts["trt_profile_min_shapes"] == "frame:1x32x32x3,s_mean:1x256,s_matrix:1x32x32"
    assert opts["trt_profile_opt_shapes"] == "frame:1x360x640x3,s_mean:1x256,s_matrix:1x32x32"
    # square at the longer side: a 720x1280 portrait clip fits the same engine as 1280x720
    assert opts["trt_profile_max_shapes"] == "frame:1x1280x1280x3,s_mean:1x256,s_matrix:1x32x32"
    assert "trt_profile_min_shapes" not in tensorrt_options(cfg)  # static graphs need no profile
    # the style graph at render's fixed style size: one shape, so no engine is rebuilt per tick
    fixed = tensorrt_options(cfg, {"style": (1, 3, 128, 128)})
    assert fixed["trt_profile_min_shapes"] == fixed["trt_profile_max_shapes"] == "style:1x3x128x128"


def test_cuda_options_from_config():
    cfg = RuntimeConfig(cuda=CUDAOptions(cudnn_conv_algo_search="HEURISTIC", gpu_mem_limit_mb=512))
    opts = cuda_options(cfg)
    assert opts == {"device_id": 0, "cudnn_conv_algo_search": "HEURISTIC",
                    "arena_extend_strategy": "kSameAsRequested", "use_tf32": 1,
                    "gpu_mem_limit": 512 * 1024 * 1024}


def test_real_onnxruntime_reports_the_provider_it_runs(tmp_path):
    """With the installed onnxruntime (CPU here), asking for CPU gives CPU."""
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
    path = tmp_path / "relu.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8), str(path))
    session = Engine(providers=("cpu",)).session(path)
    assert session.provider == "cpu"
    import numpy as np
    assert session.run(x=np.array([-1.0], np.float32))["y"][0] == 0.0


def test_content_graph_gets_a_tensorrt_profile_for_every_dynamic_input():
    """Checked against the shipped graph: each input with a symbolic dimension has a profile shape
    of the same rank, so TensorRT can build one engine for the configured frame-size range."""
    import onnxruntime

    from livestyle.runtime.sessions import Session
    from livestyle.runtime.manifest import models_dir
    from livestyle.runtime.stnet_runner import STNetRunner

    requested = {}

    class SpyEngine:
        cfg = RuntimeConfig()

        def session(self, path, dynamic_inputs=None):
            requested[path.name] = dynamic_inputs
            return Session(onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"]), path)

    STNetRunner(SpyEngine(), models_dir())
    profile = requested["stnet_content.onnx"]
    graph = onnxruntime.InferenceSession(str(models_dir() / "stnet_content.onnx"), providers=["CPUExecutionProvider"])
    dynamic = [i for i in graph.get_inputs() if any(not isinstance(d, int) for d in i.shape)]
    assert {i.name for i in dynamic} == set(profile)
    for i in dynamic:
        assert len(profile[i.name]) == len(i.shape)
        assert all(p == d for p, d in zip(profile[i.name], i.shape) if isinstance(d, int))
    shapes = tensorrt_options(RuntimeConfig(), profile)["trt_profile_opt_shapes"]
    assert shapes == "frame:1x360x640x3,s_mean:1x256,s_matrix:1x32x32"
