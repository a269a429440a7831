"""The one style tick (runtime/style_ticker.py) and the state arithmetic it relies on: blends,
interpolation between ticks, freeze, seed changes; and render's stages on their own."""

from fractions import Fraction

import numpy as np
import pytest

from livestyle.commands.render import at_constant_rate
from livestyle.controls import Controls
from livestyle.runtime.manifest import models_dir
from livestyle.runtime.mvnet_runner import MVNetRunner
from livestyle.runtime.sessions import Engine, RuntimeConfig
from livestyle.runtime.stnet_runner import STNetRunner
from livestyle.runtime.style_state import StyleState, StyleTrack
from livestyle.runtime.style_ticker import StyleTicker, TickSettings


def state(value: float) -> StyleState:
    return StyleState(np.full((1, 4), value, np.float32), np.full((1, 32, 32), value, np.float32))


def test_blend_and_lerp_are_weighted_sums():
    a, b, c = state(0.0), state(1.0), state(4.0)
    assert np.allclose(a.lerp(b, 0.25).mean, 0.25)
    assert np.allclose(StyleState.blend([a, b, c], [1, 1, 2]).matrix, (0 + 1 + 8) / 4)
    assert StyleState.blend([b], [3]).mean.dtype == np.float32
    with pytest.raises(ValueError):
        StyleState.blend([a, b], [0, 0])
    with pytest.raises(ValueError):
        StyleState.blend([a, b], [1])


def test_track_interpolates_between_ticks_and_holds_at_the_ends():
    track = StyleTrack(keep=3)
    with pytest.raises(LookupError):
        track.at(0.0)
    for t, v in ((0.0, 0.0), (0.1, 1.0), (0.3, 3.0), (0.4, 5.0)):
        track.add(t, state(v))
    assert track.times == [0.1, 0.3, 0.4]  # keeps the newest `keep`
    assert np.allclose(track.at(0.2).mean, 2.0)
    assert np.allclose(track.at(0.35).mean, 4.0)
    assert np.allclose(track.at(-1.0).mean, 1.0) and np.allclose(track.at(9.0).mean, 5.0)
    with pytest.raises(ValueError):
        track.add(0.4, state(0.0))


def test_constant_rate_takes_the_nearest_source_frame_and_holds_the_last():
    source = [(0.0, "a"), (0.04, "b"), (0.09, "c"), (0.13, "d")]  # irregular, about 25 fps
    out = list(at_constant_rate(iter(source), Fraction(20), 5))
    assert [(i, round(t, 3), f) for i, t, f in out] == [(0, 0.0, "a"), (1, 0.05, "b"), (2, 0.1, "c"),
                                                        (3, 0.15, "d"), (4, 0.2, "d")]


@pytest.fixture(scope="module")
def runners():
    engine = Engine(RuntimeConfig(intra_op_threads=1), ("cpu",))
    return MVNetRunner(engine, models_dir()), STNetRunner(engine, models_dir(), style_size=64)


def test_ticker_follows_the_seed_and_holds_when_frozen(runners):
    mvnet, stnet = runners
    controls = Controls(seed=0)
    ticker = StyleTicker(mvnet, stnet, TickSettings(style_size=64, smoothing=0.0), controls)
    audio = (0.1 * np.random.default_rng(0).standard_normal(ticker.mel_config.clip_samples * 2)).astype(np.float32)
    first = ticker.tick(audio, 0)
    again = ticker.tick(audio, 0)
    assert np.allclose(first.matrix, again.matrix, atol=1e-6)  # deterministic for a seed
    controls.seed = 1
    reseeded = ticker.tick(audio, 0)
    assert np.abs(reseeded.matrix - first.matrix).max() > 1e-3  # the seed changes the look
    controls.frozen = True
    held = ticker.tick(audio, ticker.trailing_start(len(audio)))
    assert held is reseeded  # frozen: no work, the same state
    # the stages compose to the tick
    controls.frozen = False
    manual = ticker.style_state(ticker.style_image(ticker.mel_window(audio, 0)))
    assert np.allclose(manual.matrix, reseeded.matrix, atol=1e-6)


def test_ticker_smooths_with_the_time_since_the_last_tick(runners):
    mvnet, stnet = runners
    ticker = StyleTicker(mvnet, stnet, TickSettings(style_size=64, smoothing=0.5, tick_seconds=0.05))
    rng = np.random.default_rng(1)
    quiet = np.zeros(ticker.mel_config.clip_samples, np.float32)
    loud = (0.3 * rng.standard_normal(ticker.mel_config.clip_samples)).astype(np.float32)
    a = ticker.tick(quiet, 0)
    raw_b = ticker.style_state(ticker.style_image(ticker.mel_window(loud, 0)))
    b = ticker.tick(loud, 0, seconds=0.5)  # one time constant: 63 % of the way
    expected = a.matrix + (1 - np.exp(-1.0)) * (raw_b.matrix - a.matrix)
    assert np.allclose(b.matrix, expected, atol=1e-5)


def test_hold_keeps_the_image_until_the_music_moves_it_past_the_threshold(runners):
    """With `hold`, an image within `hold` RMS of the held one changes nothing; one beyond it, or
    a new seed, is taken at once; the reactive look still acts on the held image every tick."""
    mvnet, stnet = runners
    controls = Controls(seed=0)
    ticker = StyleTicker(mvnet, stnet, TickSettings(style_size=64, smoothing=0.0, hold=0.1), controls)
    base = np.random.default_rng(2).uniform(-1, 1, (1, 3, 64, 64)).astype(np.float32)
    assert ticker.held_image(base) is base
    near = base + np.float32(0.09)                   # RMS 0.09: within the hold
    assert ticker.held_image(near) is base
    far = base + np.float32(0.11)                    # RMS 0.11 from the held image: taken
    assert ticker.held_image(far) is far
    assert ticker.held_image(far - np.float32(0.05)) is far   # measured from the new held image
    controls.seed = 1
    ticker.z                                         # the tick asks for the new seed's z first
    assert ticker.held_image(near) is near           # a new seed always shows
    # through the whole tick: a steady window and one 50 ms later give the same state
    audio = (0.1 * np.random.default_rng(3).standard_normal(ticker.mel_config.clip_samples * 2)).astype(np.float32)
    hop = ticker.mel_config.hop
    first = ticker.tick(audio, 0)
    later = ticker.tick(audio, 16 * hop)
    assert np.array_equal(first.matrix, later.matrix)
    off = StyleTicker(mvnet, stnet, TickSettings(style_size=64, smoothing=0.0, hold=0.0), Controls(seed=1))
    assert not np.array_equal(off.tick(audio, 0).matrix, off.tick(audio, 16 * hop).matrix)
    # the performer's `hold` control replaces the configured value
    controls.hold = 0.0
    assert ticker.held_image(near) is near and ticker.held_image(base) is base
    controls.hold = 2.0                              # nothing in -1..1 moves that far
    held = ticker.held_image(base)
    assert held is not base and ticker.held_image(far) is held


def test_tick_config_errors_name_the_file():
    from livestyle.commands.render import RenderConfig
    from livestyle.errors import UserError
    from livestyle.runtime.style_ticker import check_tick_config

    check_tick_config(RenderConfig(hold=0.05), "c.yaml:render")
    for field, value in (("hold", -0.1), ("hold", 3.0), ("hold", "high"), ("smoothing", -1.0), ("smoothing", True)):
        with pytest.raises(UserError, match=rf"c.yaml:render: {field} must be a number"):
            check_tick_config(RenderConfig(**{field: value}), "c.yaml:render")


def test_bank_follows_the_generated_image_and_rejects_bad_folders(runners, tmp_path):
    from livestyle.errors import UserError
    from livestyle.io.images import read_image, resize_to
    from livestyle.runtime.style_bank import StyleBank

    from conftest import PAINTINGS

    mvnet, stnet = runners
    folder = tmp_path / "looks"
    folder.mkdir()
    for name in ("1889_van_gogh_the_starry_night.jpg", "1893_munch_the_scream.jpg", "1913_picabia_udnie.jpg"):
        (folder / name).write_bytes((PAINTINGS / name).read_bytes())
    bank = StyleBank.from_folder(folder, stnet, style_size=64)
    assert bank.names == sorted(bank.names) and len(bank.states) == 3
    # a "generated" image that is the Munch itself chooses the Munch
    munch = resize_to(read_image(folder / "1893_munch_the_scream.jpg"), 64, 64).astype(np.float32) / 127.5 - 1
    weights = bank.weights(munch.transpose(2, 0, 1)[None])
    assert weights.argmax() == bank.names.index("1893_munch_the_scream.jpg") and weights.sum() == pytest.approx(1)
    blended = bank.blend(weights)
    assert np.allclose(blended.matrix, sum(w * s.matrix for w, s in zip(weights, bank.states)), atol=1e-5)
    # the ticker with a bank yields blends of the bank's states
    ticker = StyleTicker(mvnet, stnet, TickSettings(style_size=64, smoothing=0.0), bank=bank)
    state = ticker.tick(np.zeros(ticker.mel_config.clip_samples, np.float32), 0)
    lo = np.min([s.matrix for s in bank.states], axis=0) - 1e-5
    hi = np.max([s.matrix for s in bank.states], axis=0) + 1e-5
    assert ((state.matrix >= lo) & (state.matrix <= hi)).all()
    # the performer's `style` control pins one image, without changing the bank's own states
    ticker.controls.style = 1
    pinned = ticker.tick(np.zeros(ticker.mel_config.clip_samples, np.float32), 0)
    assert np.array_equal(pinned.matrix, bank.states[1].matrix) and pinned is not bank.states[1]
    ticker.controls.style = -1
    for bad, message in ((tmp_path / "missing", "needs a folder"), (tmp_path / "empty", "no images")):
        if message == "no images":
            bad.mkdir()
        with pytest.raises(UserError, match=message):
            StyleBank.from_folder(bad, stnet, 64)
    (folder / "broken.png").write_bytes(b"not an image")
    with pytest.raises(UserError, match="broken.png"):
        StyleBank.from_folder(folder, stnet, 64)


def test_a_bank_takes_the_reactive_looks_brightness_and_contrast(runners, tmp_path):
    """A quiet passage darkens and flattens a bank's look as it does MVNet's image: at the grid's
    looks the state is the adjusted image's own, between them an interpolation, beyond them held."""
    from livestyle.image_adjust import adjust
    from livestyle.io.images import read_image, resize_shorter
    from livestyle.runtime.reactive import Look, ReactiveConfig
    from livestyle.runtime.style_bank import NEUTRAL_GRID, StyleBank, interpolation_weights, look_grid, square_crop

    from conftest import PAINTINGS

    mvnet, stnet = runners
    folder = tmp_path / "looks"
    folder.mkdir()
    for name in ("1889_van_gogh_the_starry_night.jpg", "1913_picabia_udnie.jpg"):
        (folder / name).write_bytes((PAINTINGS / name).read_bytes())
    cfg = ReactiveConfig()
    grid = look_grid(cfg)
    assert grid == ((cfg.brightness_quiet, 0.0, cfg.brightness_loud), (cfg.contrast_quiet, 0.0, cfg.contrast_loud))
    assert look_grid(ReactiveConfig(enabled=False)) == NEUTRAL_GRID == look_grid(None)
    assert interpolation_weights((-45.0, 0.0, 10.0), -90.0) == [(0, 1.0)]
    assert interpolation_weights((-45.0, 0.0, 10.0), 5.0) == [(1, pytest.approx(0.5)), (2, pytest.approx(0.5))]
    bank = StyleBank.from_folder(folder, stnet, style_size=64, grid=grid)
    weights = np.array([0.25, 0.75])
    neutral = bank.blend(weights)
    assert np.allclose(neutral.matrix, 0.25 * bank.states[0].matrix + 0.75 * bank.states[1].matrix, atol=1e-6)
    quiet = Look(0.45, cfg.brightness_quiet, cfg.contrast_quiet)
    image = square_crop(resize_shorter(read_image(folder / bank.names[1]), 64), 64)
    exact = stnet.style_state(adjust(image, quiet.brightness, quiet.contrast))
    pinned = bank.blend(np.array([0.0, 1.0]), quiet)
    assert np.allclose(pinned.matrix, exact.matrix, atol=1e-6) and np.allclose(pinned.mean, exact.mean, atol=1e-6)
    assert np.abs(exact.mean - bank.states[1].mean).max() > 0.05          # the look does change the state
    halfway = bank.blend(np.array([0.0, 1.0]), Look(1.0, quiet.brightness / 2, 0.0))
    left = bank.grid_states[1][0][1]
    assert np.allclose(halfway.mean, 0.5 * left.mean + 0.5 * bank.states[1].mean, atol=1e-6)
    beyond = bank.blend(np.array([0.0, 1.0]), Look(1.0, -99.0, -99.0))
    assert np.allclose(beyond.mean, bank.grid_states[1][0][0].mean, atol=1e-6)
    # the ticker hands the look to the bank: silence with the mapping on is the quiet look
    from livestyle.runtime.reactive import Reactive

    ticker = StyleTicker(mvnet, stnet, TickSettings(style_size=64, smoothing=0.0), bank=bank,
                         reactive=Reactive(cfg, 0.05))
    ticker.controls.style = 1
    state = ticker.tick(np.zeros(ticker.mel_config.clip_samples, np.float32), 0)
    assert np.allclose(state.mean, exact.mean, atol=1e-6) and state.strength == pytest.approx(cfg.strength_quiet)


def test_dynamics_of_the_tick_before_the_anchor(runners):
    mvnet, stnet = runners
    ticker = StyleTicker(mvnet, stnet, TickSettings(style_size=64, tick_seconds=0.05))
    sr = ticker.mel_config.sample_rate
    audio = np.zeros(sr * 2, np.float32)
    audio[sr:] = 0.5 * np.sin(2 * np.pi * 440 * np.arange(sr) / sr)  # silence, then a loud tone
    assert ticker.measure_dynamics(audio, sr // 2).level_dbfs == -120.0
    assert ticker.measure_dynamics(audio, sr + sr // 2).level_dbfs == pytest.approx(-9.03, abs=0.05)
    assert ticker.last_dynamics.level_dbfs == pytest.approx(-9.03, abs=0.05)


def test_track_gives_the_ticks_own_state_for_a_frame_on_a_tick():
    """Render at the tick rate: frame times equal tick times up to float rounding; the track hands
    back the tick's own state object, so the runner binds the state once per tick."""
    track = StyleTrack()
    states = [state(float(k)) for k in range(4)]
    for k, s in enumerate(states):
        track.add(k * 0.05, s)
    assert all(track.at(k / 20) is states[k] for k in range(4))
    assert np.allclose(track.at(0.075).mean, 1.5)


def test_glide_reaches_each_new_tick_over_the_previous_ticks_interval():
    """live: a new tick's state is reached gradually from what was on screen, not in one step."""
    from livestyle.runtime.style_state import StyleGlide

    glide = StyleGlide(0.05)
    a, b = state(0.0), state(1.0)
    assert glide.at((0.0, a), 0.1) is a
    assert float(glide.at((0.2, b), 0.2).mean[0, 0]) == pytest.approx(0.0)    # just arrived
    assert float(glide.at((0.2, b), 0.3).mean[0, 0]) == pytest.approx(0.5)    # half of the 0.2 s gap
    assert glide.at((0.2, b), 0.45) is b                                      # there: the tick's own state


def test_controls_for_smoothing_and_the_reactive_amount(runners):
    """`smoothing` replaces the time constant from the next tick; `reactive` scales the look's
    departure from neutral (0: the mapping does nothing)."""
    from livestyle.runtime.reactive import NEUTRAL, Look, Reactive, ReactiveConfig

    assert Look(0.5, -40.0, -50.0).scaled(0.5) == Look(0.75, -20.0, -25.0)
    assert Look(0.5, -40.0, -50.0).scaled(0.0) == NEUTRAL
    mvnet, stnet = runners
    controls = Controls()
    ticker = StyleTicker(mvnet, stnet, TickSettings(style_size=64, smoothing=0.5), controls,
                         reactive=Reactive(ReactiveConfig(), 0.05))
    quiet = np.full(ticker.mel_config.clip_samples, 1e-4, np.float32)   # -80 dBFS: the quiet end
    assert ticker.tick(quiet, 0).strength == pytest.approx(ReactiveConfig().strength_quiet)
    controls.reactive = 0.0
    controls.smoothing = 0.0
    assert ticker.tick(quiet, 0).strength == 1.0   # no reactive effect, no smoothing: at once
    assert ticker._smoother.time_constant == 0.0
