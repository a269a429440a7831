"""Where live frames go: a window (pygame/SDL, fullscreen on a projector), a file, a network
stream (RTMP, SRT, UDP, ... through FFmpeg). Files and streams are written at a constant rate:
each slot of 1/fps takes the newest frame shown by then, so they show what the audience saw."""

from __future__ import annotations

import logging
import os
import threading
import time
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import av
import numpy as np

from livestyle.controls import GAIN_RANGE_DB, GAIN_STEP_DB, Controls, Dispatcher
from livestyle.errors import UserError
from livestyle.io.encode import VideoWriter, check_encoder, rgb_frame
from livestyle.native_output import captured_native_output

if TYPE_CHECKING:
    from livestyle.io.recovery import DeviceHealth

log = logging.getLogger(__name__)

STREAM_FORMATS = {"rtmp": "flv", "rtmps": "flv", "srt": "mpegts", "udp": "mpegts", "tcp": "mpegts",
                  "rtp": "rtp_mpegts", "rtsp": "rtsp"}


KEYS_HELP = ("F fullscreen, Space freeze/unfreeze the style, N/P next/previous seed, B bypass (raw feed), "
             "0-9 strength 0-100 %, K blackout, C calibrate the gain, +/- gain, H status overlay, Esc/Q quit")


def key_action(pg, key: int, controls: Controls) -> tuple | None:
    """The dispatcher call (action, *values) for a key of the live window, or None."""
    simple = {pg.K_SPACE: ("freeze",), pg.K_n: ("next",), pg.K_p: ("prev",), pg.K_c: ("calibrate",),
              pg.K_b: ("bypass",), pg.K_k: ("blackout",), pg.K_h: ("overlay",)}
    if key in simple:
        return simple[key]
    digits = {getattr(pg, f"K_{d}"): d for d in range(10)} | {getattr(pg, f"K_KP{d}"): d for d in range(10)}
    if key in digits:  # 0 = the raw frame ... 9 = full style
        return ("strength", round(digits[key] / 9, 4))
    if key in (pg.K_PLUS, pg.K_EQUALS, pg.K_KP_PLUS, pg.K_MINUS, pg.K_KP_MINUS):
        step = GAIN_STEP_DB if key in (pg.K_PLUS, pg.K_EQUALS, pg.K_KP_PLUS) else -GAIN_STEP_DB
        lo, hi = GAIN_RANGE_DB
        return ("gain", min(hi, max(lo, controls.input_gain_db + step)))
    return None


class WindowOutput:
    """A window that scales the frames to its size (aspect kept), fullscreen on a projector. Keys
    (KEYS_HELP) go through the same dispatcher as OSC and MIDI. The status overlay (H) is drawn
    on the window only, never on what is recorded or streamed. SDL wants the main thread, so
    `live` calls this from there."""

    def __init__(self, title: str = "livestyle", fullscreen: bool = False, dispatch: Dispatcher | None = None,
                 status: Callable[[], list[str]] | None = None):
        os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
        try:
            import pygame
        except ImportError:
            raise UserError("the live window needs pygame (pip install pygame); or use -o FILE / "
                            "--stream URL") from None
        self.pg = pygame
        with captured_native_output() as printed:  # SDL prints its probing failures to stderr
            try:
                pygame.display.init()
                error = None
            except pygame.error as exc:
                error = str(exc)
        log.debug("SDL printed: %s", printed[0] if printed else "")
        driver = None if error else pygame.display.get_driver()
        if driver in ("offscreen", "dummy") and os.environ.get("SDL_VIDEODRIVER") != driver:
            pygame.display.quit()
            error = f"SDL found no screen, only its {driver!r} driver"  # chosen only by SDL_VIDEODRIVER
        if error:
            raise UserError(f"no display for the live window ({error}); use -o FILE or --stream URL, "
                            f"or run where a display is available (DISPLAY / WAYLAND_DISPLAY)")
        self.title, self.fullscreen = title, fullscreen
        self.dispatch = dispatch or Dispatcher(Controls())
        self.controls = self.dispatch.controls
        self.status = status
        self.screen = None
        self.font = None
        self.shown = 0
        self.overlay_drawn = 0   # frames shown with the overlay (tests)

    def _open(self, size: tuple[int, int]) -> None:
        pg = self.pg
        try:
            if self.fullscreen:
                self.screen = pg.display.set_mode((0, 0), pg.FULLSCREEN)
            else:
                self.screen = pg.display.set_mode(size, pg.RESIZABLE)
        except pg.error as exc:
            raise UserError(f"cannot open the live window ({exc}); use -o FILE or --stream URL") from None
        pg.display.set_caption(self.title)

    def handle_events(self, size: tuple[int, int]) -> bool:
        """Keys and window events; False when the user asked to stop."""
        pg = self.pg
        for event in pg.event.get():
            if event.type == pg.QUIT or (event.type == pg.KEYDOWN and event.key in (pg.K_ESCAPE, pg.K_q)):
                return False
            if event.type != pg.KEYDOWN:
                continue
            if event.key == pg.K_f:
                self.fullscreen = not self.fullscreen
                self._open(size)
                continue
            action = key_action(pg, event.key, self.controls)
            if action is not None:
                self.dispatch(*action)
            c = self.controls
            pg.display.set_caption(f"{self.title}  seed {c.seed}  gain {c.input_gain_db:+.0f} dB  "
                                   f"strength {c.strength:.0%}" + ("  BYPASS" if c.bypass else "")
                                   + ("  BLACKOUT" if c.blackout else "") + ("  (style frozen)" if c.frozen else ""))
        return True

    def show(self, image: np.ndarray, now: float) -> bool:
        """Draw one RGB frame (scaled to the window, aspect kept). False when the user asked to stop."""
        pg = self.pg
        h, w = image.shape[:2]
        if self.screen is None:
            self._open((w, h))
        if not self.handle_events((w, h)):
            return False
        surface = pg.image.frombuffer(np.ascontiguousarray(image).tobytes(), (w, h), "RGB")
        sw, sh = self.screen.get_size()
        if (sw, sh) != (w, h):
            scale = min(sw / w, sh / h)
            size = (max(1, int(w * scale)), max(1, int(h * scale)))
            surface = pg.transform.smoothscale(surface, size)
            self.screen.fill((0, 0, 0))
            self.screen.blit(surface, ((sw - size[0]) // 2, (sh - size[1]) // 2))
        else:
            self.screen.blit(surface, (0, 0))
        if self.controls.overlay and self.status is not None:
            self._draw_overlay(self.status())
        pg.display.flip()
        self.shown += 1
        return True

    def _draw_overlay(self, lines: list[str]) -> None:
        """Status text on a translucent band at the top left of the window surface only."""
        pg = self.pg
        if self.font is None:
            pg.font.init()
            self.font = pg.font.Font(None, max(16, self.screen.get_height() // 30))
        rendered = [self.font.render(line, True, (255, 255, 255)) for line in lines]
        if not rendered:
            return
        width = max(r.get_width() for r in rendered) + 12
        height = sum(r.get_height() for r in rendered) + 8
        band = pg.Surface((width, height), pg.SRCALPHA)
        band.fill((0, 0, 0, 160))
        self.screen.blit(band, (0, 0))
        y = 4
        for r in rendered:
            self.screen.blit(r, (6, y))
            y += r.get_height()
        self.overlay_drawn += 1

    def close(self, complete: bool = True) -> None:
        self.pg.display.quit()


class ConstantRate:
    """Feeds an encoder at `fps` from frames that arrive whenever they are ready: at each call,
    every slot whose time has come gets the newest frame."""

    def __init__(self, fps: int, t0: float):
        self.fps, self.t0, self.slots = fps, t0, 0

    def due(self, now: float) -> int:
        """How many slots to write now."""
        target = int((now - self.t0) * self.fps) + 1
        n, self.slots = max(0, target - self.slots), max(self.slots, target)
        return n


class FileOutput:
    """Records the stylised video (no audio) to a file; complete files only, as `render` does."""

    def __init__(self, path: Path, width: int, height: int, fps: int, t0: float, codec: str | None = None,
                 crf: int = 23):
        if not path.parent.is_dir():
            raise UserError(f"{path}: directory {path.parent} does not exist")
        self.writer = VideoWriter(path, width, height, Fraction(fps), codec=codec, crf=crf)
        self.rate = ConstantRate(fps, t0)
        self.path = path

    def show(self, image: np.ndarray, now: float) -> bool:
        slots = self.rate.due(now)
        if slots:
            self.writer.write(image, repeat=slots)
        return True

    def close(self, complete: bool = True) -> None:
        if complete and self.writer.frames:
            self.writer.commit()
        else:
            self.writer.abort()


def stream_format(url: str) -> str:
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme not in STREAM_FORMATS:
        raise UserError(f"{url}: unknown stream URL; use rtmp://, srt://, udp://, tcp://, rtp:// or rtsp:// "
                        f"(or pass --stream-format)")
    return STREAM_FORMATS[scheme]


LOOPBACK_HINT = ("on Linux load v4l2loopback (Debian: apt install v4l2loopback-dkms; then sudo modprobe "
                 "v4l2loopback devices=1 exclusive_caps=1 card_label=livestyle); on Windows and macOS install "
                 "OBS Studio and start its virtual camera once")


def import_pyvirtualcam():
    try:
        import pyvirtualcam
    except ImportError:
        raise UserError("--virtual-cam needs pyvirtualcam: pip install 'livestyle[virtualcam]'") from None
    return pyvirtualcam


class VirtualCamOutput:
    """A camera other programs open (OBS, Zoom, TouchDesigner, a browser) through pyvirtualcam:
    v4l2loopback on Linux, OBS's virtual camera on Windows and macOS. Written at a constant rate
    like files, never with the window's overlay. `device`: a /dev/videoN on Linux, else the
    backend's default."""

    def __init__(self, width: int, height: int, fps: int, t0: float, device: str | None = None):
        pyvirtualcam = import_pyvirtualcam()
        try:
            self.cam = pyvirtualcam.Camera(width, height, fps, fmt=pyvirtualcam.PixelFormat.RGB, device=device)
        except (RuntimeError, ValueError, OSError) as exc:
            raise UserError(f"--virtual-cam{' ' + device if device else ''}: cannot start ({exc}); "
                            f"{LOOPBACK_HINT}") from None
        self.path = f"virtual camera {self.cam.device}"
        self.rate = ConstantRate(fps, t0)
        self.frames = 0

    def show(self, image: np.ndarray, now: float) -> bool:
        if self.rate.due(now):  # one frame per due slot: the device shows the newest
            self.cam.send(np.ascontiguousarray(image))
            self.frames += 1
        return True

    def close(self, complete: bool = True) -> None:
        self.cam.close()


def virtual_camera_status() -> tuple[bool, str]:
    """Whether --virtual-cam can run here, and what to do when it cannot (doctor)."""
    import sys

    try:
        import_pyvirtualcam()
    except UserError as exc:
        return False, str(exc).removeprefix("--virtual-cam needs ")
    if sys.platform != "linux":
        return True, "pyvirtualcam found; it uses OBS's virtual camera (install OBS Studio, start it once)"
    devices = []
    for name_file in sorted(Path("/sys/devices/virtual/video4linux").glob("video*/name")):
        devices.append(f"/dev/{name_file.parent.name} ({name_file.read_text().strip()})")
    if not devices:
        return False, f"no v4l2loopback device: {LOOPBACK_HINT.removeprefix('on Linux ')}"
    return True, "v4l2loopback: " + ", ".join(devices)


def import_ndi():
    try:
        import NDIlib
    except ImportError:
        raise UserError("--ndi needs ndi-python (NDI's runtime under the NDI SDK licence): "
                        "pip install 'livestyle[ndi]'") from None
    return NDIlib


class NdiOutput:
    """An NDI source named `name` on the local network (ndi-python, which bundles NDI's runtime):
    TouchDesigner, Resolume, OBS and vMix list it as "<host> (<name>)". Written at a constant rate
    like files, RGBX (NDI's own codec compresses it on the wire), never with the overlay. The send
    does not wait for the receiver's clock, so a slow receiver never slows the set."""

    def __init__(self, name: str, width: int, height: int, fps: int, t0: float):
        ndi = self.ndi = import_ndi()
        if not name.strip():
            raise UserError("--ndi: the source needs a name, e.g. --ndi livestyle")
        if not ndi.initialize():
            raise UserError("--ndi: NDI's runtime cannot start on this machine (its CPU lacks SSE4.2?)")
        settings = ndi.SendCreate()
        settings.ndi_name = name
        settings.clock_video = False
        self.sender = ndi.send_create(settings)
        if self.sender is None:
            raise UserError(f"--ndi {name}: NDI could not create the source")
        self.path = f"NDI source {name!r}"
        self.rgbx = np.full((height, width, 4), 255, np.uint8)
        self.frame = ndi.VideoFrameV2()
        self.frame.FourCC = ndi.FOURCC_VIDEO_TYPE_RGBX
        self.frame.frame_rate_N, self.frame.frame_rate_D = fps, 1
        self.rate = ConstantRate(fps, t0)
        self.frames = 0

    def show(self, image: np.ndarray, now: float) -> bool:
        if self.rate.due(now):
            self.rgbx[..., :3] = image
            self.frame.data = self.rgbx
            self.ndi.send_send_video_v2(self.sender, self.frame)
            self.frames += 1
        return True

    def close(self, complete: bool = True) -> None:
        self.ndi.send_destroy(self.sender)


class StreamOutput:
    """H.264 at a constant rate to a URL, tuned for latency (no B-frames, a keyframe every 2 s so
    viewers can join)."""

    def __init__(self, url: str, width: int, height: int, fps: int, t0: float, fmt: str | None = None,
                 bitrate_kbps: int = 4000, codec: str = "libx264"):
        self.url = url
        fmt = fmt or stream_format(url)
        check_encoder(codec)
        try:
            self.output = av.open(url, mode="w", format=fmt)
        except (av.error.FFmpegError, OSError) as exc:
            raise UserError(f"{url}: cannot open the stream ({exc})") from None
        self.width, self.height = width + width % 2, height + height % 2
        self.video = self.output.add_stream(codec, rate=fps)
        self.video.width, self.video.height, self.video.pix_fmt = self.width, self.height, "yuv420p"
        options: dict[str, Any] = {}
        if codec == "libx264":
            options = {"preset": "veryfast", "tune": "zerolatency", "g": str(2 * fps), "bf": "0",
                       "b": f"{bitrate_kbps}k", "maxrate": f"{bitrate_kbps}k", "bufsize": f"{2 * bitrate_kbps}k"}
        self.video.options = options
        try:  # the header goes out now: a receiver that is not there fails here, not at the first frame
            self.output.start_encoding()
        except (av.error.FFmpegError, OSError) as exc:
            try:
                self.output.close()
            except (av.error.FFmpegError, OSError):
                pass
            raise UserError(f"{url}: cannot open the stream ({exc})") from None
        self.time_base = Fraction(1, fps)
        self.rate = ConstantRate(fps, t0)
        self.frames = 0

    def show(self, image: np.ndarray, now: float) -> bool:
        slots = self.rate.due(now)
        if not slots:
            return True
        frame = rgb_frame(image, self.width, self.height)  # converted once, however many slots
        frame.time_base = self.time_base
        for _ in range(slots):
            frame.pts = self.frames
            try:
                self.output.mux(self.video.encode(frame))
            except (av.error.FFmpegError, OSError) as exc:
                raise UserError(f"{self.url}: the stream failed ({exc})") from None
            self.frames += 1
        return True

    def close(self, complete: bool = True) -> None:
        try:
            self.output.mux(self.video.encode(None))
        except (av.error.FFmpegError, OSError):
            pass
        self.output.close()


STABLE_SECONDS = 10.0   # a stream up this long has recovered; failing sooner continues the back-off


class ReconnectingStream:
    """--stream that survives its receiver going away: a failed send closes the connection and a
    background thread reopens it with back-off (io/recovery.py), while the set and the other
    outputs go on; frames for the stream are skipped meanwhile (nothing queues). The first
    connection is made at once: a URL that fails then is the user's mistake and ends the set."""

    def __init__(self, open_stream: Callable[[float], "StreamOutput"], url: str,
                 health: "DeviceHealth | None" = None):
        from livestyle.io.recovery import DeviceHealth

        self.open_stream, self.url = open_stream, url
        self.path = url
        self.health = health or DeviceHealth(f"stream {url}")
        self.stream: StreamOutput | None = open_stream(time.monotonic())
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._attempt = 0   # back-off step; kept when a stream fails again soon after it came back

    def show(self, image: np.ndarray, now: float) -> bool:
        stream = self.stream
        if stream is None:
            return True
        try:
            stream.show(image, now)
        except UserError as exc:
            self.stream = None
            previous = self.health.outages[-1] if self.health.outages else None
            if previous is None or previous.back_at is None or now - previous.back_at > STABLE_SECONDS:
                self._attempt = 0   # it had been up a while: start the back-off afresh
            self.health.lost(str(exc).removeprefix(f"{self.url}: "))
            try:
                stream.close(complete=False)
            except Exception:  # noqa: BLE001 - the connection is gone already
                pass
            self._thread = threading.Thread(target=self._reconnect, name="stream reconnect", daemon=True)
            self._thread.start()
        return True

    def _reconnect(self) -> None:
        from livestyle.io.recovery import reopen_with_backoff

        stream, self._attempt = reopen_with_backoff(lambda: self.open_stream(time.monotonic()), self._stop,
                                                    self.url, self._attempt)
        if stream is not None:
            self.stream = stream
            self.health.back()

    def status(self) -> str | None:
        return self.health.status()

    def close(self, complete: bool = True) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
        if self.stream is not None:
            self.stream.close(complete)
