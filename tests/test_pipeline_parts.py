"""Pipeline building blocks: stage errors, the audio timeline, style smoothing."""

import threading
import time

import numpy as np
import pytest

from livestyle.audio.timeline import AudioTimeline
from livestyle.pipeline import END, Pipeline
from livestyle.runtime.style_state import StyleSmoother
from livestyle.runtime.style_state import StyleState


def test_an_error_in_one_stage_stops_all_and_is_raised():
    p = Pipeline()
    q = p.channel(2)
    produced = []

    def producer():
        for i in range(10_000):
            q.put(i)
            produced.append(i)
        q.put(END)

    def consumer():
        for _ in range(5):
            q.get()
        raise RuntimeError("boom in consumer")

    p.stage("producer", producer)
    p.stage("consumer", consumer)
    with pytest.raises(RuntimeError, match="boom"):
        p.run()
    assert len(produced) < 20  # the producer was stopped, not left blocked or running on


def test_timeline_waits_reads_silence_and_releases():
    tl = AudioTimeline(100, max_ahead_seconds=10.0)
    stop = threading.Event()

    def feed():
        for _ in range(5):
            tl.wait_for_room(stop)
            tl.append(np.ones(50, np.float32))
            time.sleep(0.01)
        tl.finish()

    t = threading.Thread(target=feed)
    t.start()
    assert tl.wait_until(200, stop)
    assert tl.end >= 200
    t.join()
    window = tl.read(-10, 270)
    assert window[:10].sum() == 0 and window[10:260].sum() == 250 and window[260:].sum() == 0
    tl.release_before(240)
    with pytest.raises(ValueError):
        tl.read(0, 10)
    assert tl.read(240, 20)[:10].sum() == 10


def test_timeline_holds_the_reader_back():
    tl = AudioTimeline(100, max_ahead_seconds=1.0)
    stop = threading.Event()
    tl.append(np.zeros(150, np.float32))
    done = threading.Event()

    def reader():
        tl.wait_for_room(stop)
        done.set()

    t = threading.Thread(target=reader)
    t.start()
    time.sleep(0.3)
    assert not done.is_set()  # 150 samples ahead of the consumer > 100 allowed
    tl.release_before(100)
    t.join(2)
    assert done.is_set()


def test_smoothing_is_an_ema_with_the_given_time_constant():
    a = StyleState(np.zeros((1, 4), np.float32), np.zeros((1, 32, 32), np.float32))
    b = StyleState(np.ones((1, 4), np.float32), np.ones((1, 32, 32), np.float32))
    off = StyleSmoother(0.0, 0.05)
    off(a)
    assert off(b) is b
    smooth = StyleSmoother(0.5, 0.05)
    smooth(a)
    out = None
    for _ in range(10):  # 0.5 s of steps = one time constant: 1 - 1/e of the way
        out = smooth(b)
    assert out.mean[0, 0] == pytest.approx(1 - np.exp(-1), abs=1e-6)
    assert out.matrix[0, 3, 3] == pytest.approx(1 - np.exp(-1), abs=1e-6)


def test_consumer_finishing_stops_producers_that_run_ahead():
    """A producer with more to give than the consumer wants must not hang the pipeline."""
    p = Pipeline()
    q = p.channel(2)

    def endless():
        i = 0
        while True:
            q.put(i)
            i += 1

    def consumer():
        for _ in range(5):
            q.get()
        p.stop.set()

    p.stage("producer", endless)
    p.stage("consumer", consumer)
    t = threading.Thread(target=p.run)
    t.start()
    t.join(5)
    assert not t.is_alive() and not p.errors
