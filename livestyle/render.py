"""`livestyle render`: a clip in, the clip restyled by its own music out, audio muxed back.

Threads (see livestyle.pipeline), joined by bounded queues:
  audio reader   decodes the audio track into an AudioTimeline (mono 22 050 Hz), ahead of video
  video reader   decodes frames, resamples them to the output rate, resizes them
  style worker   every 1/20 s tick t: waits for audio up to t + 4.455 s, log-mel of the 8.91 s
                 window centred on t (silence outside the recording), MVNet with a fixed z,
                 STNet style branch, temporal smoothing of the style state
  stylize worker each frame -> the style state of its tick -> STNet content branch
  writer         encodes frames and muxes the audio (copied, or re-encoded where it must be)
The output goes to a temporary file beside the target and is renamed into place when complete.
"""

from __future__ import annotations

import logging
import math
import sys
import time
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
from tqdm import tqdm

from livestyle.audio.decode import decode_audio, require_audio
from livestyle.audio.features import IncrementalMel, clip_start_for
from livestyle.audio.timeline import AudioTimeline
from livestyle.config import load_config
from livestyle.errors import UserError
from livestyle.io.images import output_size, resize_to
from livestyle.io.video import MediaInfo, VideoWriter, decode_video, probe
from livestyle.pipeline import END, Pipeline
from livestyle.runtime.engine import Engine, RuntimeConfig
from livestyle.runtime.models import models_dir
from livestyle.runtime.mvnet import MVNetRunner, seeded_z
from livestyle.runtime.smoothing import StyleSmoother
from livestyle.runtime.stylizer import STNetRunner

log = logging.getLogger(__name__)


@dataclass
class RenderConfig:
    fps: int | str = 20            # "source" keeps the input's rate
    style_hz: int = 20
    smoothing: float = 0.5         # seconds; see bench/temporal.py for how it was chosen
    style_size: int = 128
    seed: int = 0
    crf: int = 20
    frame_queue: int = 8
    style_queue: int = 40


@dataclass
class RenderJob:
    input: Path
    output: Path
    cfg: RenderConfig = field(default_factory=RenderConfig)
    runtime: RuntimeConfig = field(default_factory=RuntimeConfig)
    providers: tuple[str, ...] | None = None
    audio: Path | None = None
    start: float = 0.0
    duration: float | None = None
    size: tuple[int, int] | None = None
    height: int | None = None
    codec: str | None = None
    models: Path | None = None
    progress: bool = True


@dataclass
class RenderStats:
    frames: int = 0
    ticks: int = 0
    seconds: float = 0.0
    provider: str = ""
    output: Path | None = None


def style_input(style: np.ndarray, size: int) -> np.ndarray:
    """MVNet output (1,3,64,64) in [-1,1] -> STNet style input (1,3,size,size) in [0,1]."""
    image = np.clip(style[0].transpose(1, 2, 0) * 0.5 + 0.5, 0.0, 1.0).astype(np.float32)
    if size != image.shape[0]:
        image = cv2.resize(image, (size, size), interpolation=cv2.INTER_CUBIC).clip(0.0, 1.0)
    return np.ascontiguousarray(image.transpose(2, 0, 1)[None])


def validate(job: RenderJob) -> tuple[MediaInfo, Path, float]:
    """Check everything a user can get wrong before any work starts. Returns the media info, the
    audio source and the zero time of that source."""
    info = probe(job.input)
    if job.audio is not None:
        require_audio(job.audio)
        audio_source, audio_zero = job.audio, 0.0
    elif not info.has_audio:
        raise UserError(f"{job.input}: has no audio stream; pass --audio FILE to drive the style with "
                        f"(and mux) another recording")
    else:
        audio_source, audio_zero = job.input, info.zero
    if job.start < 0:
        raise UserError(f"--start must be >= 0, got {job.start}")
    if info.duration and job.start >= info.duration:
        raise UserError(f"{job.input}: --start {job.start:g} s is beyond the end of the video "
                        f"({info.duration:.2f} s)")
    if job.duration is not None and job.duration <= 0:
        raise UserError(f"--duration must be positive, got {job.duration}")
    if job.output.resolve() == job.input.resolve():
        raise UserError(f"{job.output}: output would overwrite the input")
    if not job.output.parent.is_dir():
        raise UserError(f"{job.output}: directory {job.output.parent} does not exist")
    fps = job.cfg.fps
    if not (fps == "source" or (isinstance(fps, int) and fps > 0)):
        raise UserError(f"fps must be a positive integer or 'source', got {fps!r}")
    return info, audio_source, audio_zero


def render(job: RenderJob) -> RenderStats:
    cfg = job.cfg
    info, audio_source, audio_zero = validate(job)
    engine = Engine(job.runtime, job.providers)
    folder = models_dir(job.models)
    stnet = STNetRunner(engine, folder)
    mvnet = MVNetRunner(engine, folder)
    mel_cfg = mvnet.mel_config
    sr = mel_cfg.sample_rate

    end = info.duration if job.duration is None else min(info.duration, job.start + job.duration)
    length = end - job.start
    fps = info.fps if cfg.fps == "source" else Fraction(int(cfg.fps))
    n_frames = max(1, round(length * fps))
    width, height = output_size(info.width, info.height, job.size, job.height)
    tick = 1.0 / cfg.style_hz
    n_ticks = int(math.ceil(length * cfg.style_hz)) + 1
    z = seeded_z(cfg.seed, 1, mvnet.z_dim)

    writer = VideoWriter(job.output, width, height, fps, codec=job.codec, crf=cfg.crf,
                         audio_source=audio_source, audio_zero=audio_zero, audio_start=job.start,
                         end_time=n_frames / fps)
    pipeline = Pipeline()
    timeline = AudioTimeline(sr)
    frames_q = pipeline.channel(cfg.frame_queue)
    styles_q = pipeline.channel(cfg.style_queue)
    out_q = pipeline.channel(cfg.frame_queue)
    stats = RenderStats(provider=stnet.provider)

    def audio_reader() -> None:
        needed = int((length + mel_cfg.clip_seconds) * sr) + sr  # beyond this no window reads
        position = None
        for t, chunk in decode_audio(audio_source, sr, zero=audio_zero, start=job.start):
            if pipeline.stop.is_set():
                break
            if position is None:
                position = int(round((t - job.start) * sr))
            if position < 0:  # decoding starts at the keyframe before --start
                drop = min(-position, len(chunk))
                chunk, position = chunk[drop:], position + drop
                if not len(chunk):
                    continue
            if position > timeline.end:  # a gap in the stream: silence
                timeline.append(np.zeros(position - timeline.end, np.float32))
            timeline.wait_for_room(pipeline.stop)
            timeline.append(chunk)
            position += len(chunk)
            if timeline.end >= needed:
                break
        timeline.finish()

    def video_reader() -> None:
        index, previous = 0, None
        for t, frame in decode_video(job.input, info.zero, job.start, info.orientation):
            t -= job.start
            frame = resize_to(frame, width, height)
            if cfg.fps == "source":
                frames_q.put((index, t, frame))
                index += 1
            else:  # constant rate: each output time takes the nearest source frame
                while index < n_frames and index / fps <= t:
                    tau = float(index / fps)
                    nearest = frame if previous is None or t - tau < tau - previous[0] else previous[1]
                    frames_q.put((index, tau, nearest))
                    index += 1
                previous = (t, frame)
            if index >= n_frames:
                break
        if cfg.fps != "source":
            while previous is not None and index < n_frames:  # stream ended early: hold the last frame
                frames_q.put((index, float(index / fps), previous[1]))
                index += 1
        frames_q.put(END)

    def style_worker() -> None:
        mel = IncrementalMel(mel_cfg)
        smoother = StyleSmoother(cfg.smoothing, tick)
        for k in range(n_ticks):
            start = clip_start_for(k * tick, mel_cfg)
            if not timeline.wait_until(start + mel_cfg.clip_samples, pipeline.stop):
                return
            window = mel.window(timeline, start)
            timeline.release_before(start)
            style = mvnet.style_tensor(window[None], z)
            state = smoother(stnet.style_state_tensor(style_input(style, cfg.style_size)))
            styles_q.put((k, state))
            stats.ticks += 1
        styles_q.put(END)

    def stylize_worker() -> None:
        current, state = -1, None
        while True:
            item = frames_q.get()
            if item is END:
                break
            index, t, frame = item
            wanted = min(int(round(t * cfg.style_hz)), n_ticks - 1)
            while current < wanted:
                got = styles_q.get()
                if got is END:
                    break
                current, state = got
            out_q.put((index, stnet.stylize(frame, state)))
        out_q.put(END)

    def writer_stage() -> None:
        bar = tqdm(total=n_frames, unit="frame", desc=f"render {job.output.name}", dynamic_ncols=True,
                   disable=not (job.progress and sys.stderr.isatty()))
        with bar:
            while True:
                item = out_q.get()
                if item is END:
                    break
                writer.write(item[1])
                stats.frames += 1
                bar.update(1)
        # every frame is written: stop the producers still ahead of us (audio read-ahead, style
        # ticks past the last frame) instead of letting them block on full queues
        pipeline.stop.set()

    for name, fn in (("audio reader", audio_reader), ("video reader", video_reader),
                     ("style worker", style_worker), ("stylize worker", stylize_worker),
                     ("writer", writer_stage)):
        pipeline.stage(name, fn)
    t0 = time.perf_counter()
    try:
        pipeline.run()
        stats.output = writer.commit()
    except av.error.FFmpegError as exc:
        writer.abort()
        raise UserError(f"{job.input}: {exc}") from None
    except BaseException:
        writer.abort()
        raise
    stats.seconds = time.perf_counter() - t0
    log.debug("wrote %s: %d frames, %d style ticks in %.1f s (%.2f fps, %s)", job.output, stats.frames,
             stats.ticks, stats.seconds, stats.frames / max(stats.seconds, 1e-9), stats.provider)
    return stats


def load_render_config(path: Path | None) -> tuple[RenderConfig, RuntimeConfig]:
    return (load_config(RenderConfig, path, section="render"),
            load_config(RuntimeConfig, path, section="runtime"))
