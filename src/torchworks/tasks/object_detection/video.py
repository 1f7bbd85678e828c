"""Videos and cameras as streams of frames to predict on, and annotated videos written back (PyAV).

A video file is *probed* when the inputs are listed: its packets are demuxed, nothing decoded, to
count the frames and read their presentation times, so each frame gets an id up front
(:class:`FrameItem`: the video's name, frame index, time in seconds, size). The pixels are decoded
later, in order, one frame at a time as the predictor asks for them (:class:`FrameReader`): a clip of
thousands of frames never sits in memory, only the decoder's few reference frames.

A camera is named by its index (``"0"`` for ``/dev/video0``, Linux's v4l2 devices) and read live;
:data:`CAMERA_FRAMES` frames are predicted (a prediction is a finite list of items).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from PIL import Image

from torchworks.errors import DataError
from torchworks.uploads import Upload

VIDEO_SUFFIXES = frozenset({".mp4", ".m4v", ".mov", ".mkv", ".avi", ".webm", ".mpg", ".mpeg", ".wmv", ".flv",
                            ".ts", ".mts", ".3gp", ".ogv"})
CAMERA_FRAMES = 300  # frames predicted from a live camera (10 s at 30 fps)
_EXPECTED = "a video file PyAV can decode (MP4, MOV, MKV, AVI, WebM ...)"
_CONTAINERS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska", ".avi": "avi"}


@dataclass(eq=False)
class Clip:
    """One video (or camera): its name in records, where it is read from, its frame size and rate, and
    each frame's presentation time in seconds. ``tracker`` holds the clip's object tracker
    (``track=true``): tracks live and die with their video."""

    name: str
    source: Path | Upload | str
    width: int
    height: int
    fps: float
    times: list[float]
    codec: str = ""
    camera: bool = False
    tracker: Any = field(default=None, repr=False)


@dataclass(frozen=True)
class FrameItem:
    """One frame to predict on: the video's name, the frame's index and time, its size."""

    name: str
    clip: Clip = field(compare=False, repr=False)
    index: int
    time: float
    height: int
    width: int


def frames_of(clip: Clip) -> list[FrameItem]:
    """One item per frame of ``clip``, in presentation order."""
    return [FrameItem(clip.name, clip, index, round(time, 4), clip.height, clip.width)
            for index, time in enumerate(clip.times)]


def is_video(source: Any) -> bool:
    """Whether a listed source is a video file or an upload of one (by its name's suffix)."""
    name = source.name if isinstance(source, Upload) else source if isinstance(source, Path) else None
    return name is not None and Path(str(name)).suffix.lower() in VIDEO_SUFFIXES


def _container(source: Path | Upload | str, camera: bool = False) -> Any:
    import av

    if camera:
        return av.open(str(source), format="v4l2")
    if isinstance(source, Upload):
        return av.open(io.BytesIO(source.data), metadata_errors="ignore")
    return av.open(str(source), metadata_errors="ignore")


def _reason(error: BaseException) -> str:
    text = getattr(error, "strerror", None) or str(error) or type(error).__name__
    return str(text).splitlines()[0][:160]


def open_clip(source: Path | Upload, name: str, max_pixels: int) -> Clip:
    """Probe a video file: size, rate and every frame's time, from its headers and packets.

    Raises:
        DataError: Not a video (a text file named ``.mp4``), no video stream, no frames, frames
            larger than ``max_pixels``, or a file that does not exist.
    """
    import av

    try:
        with _container(source) as container:
            if not container.streams.video:
                raise DataError(f"'{name}' holds no video stream", expected=_EXPECTED,
                                got="audio or data streams only" if container.streams else "no streams")
            stream = container.streams.video[0]
            width, height = stream.codec_context.width, stream.codec_context.height
            if width * height > max_pixels:
                raise DataError(f"video '{name}' is too large", expected=f"frames of at most max_pixels="
                                f"{max_pixels:,} pixels", got=f"{width}x{height}", hint="raise max_pixels=")
            rate = stream.average_rate or stream.guessed_rate or stream.base_rate
            fps = float(rate) if rate else 0.0
            stamps = [packet.pts for packet in container.demux(stream) if packet.size]
            time_base = stream.time_base or Fraction(1, 1)
            codec = stream.codec_context.name
    except DataError:
        raise
    except FileNotFoundError:
        raise DataError(f"video '{name}' does not exist", expected="a video file", got="no such file") from None
    except (av.FFmpegError, OSError, ValueError, UnicodeDecodeError) as error:
        raise DataError(f"cannot read video '{name}'", expected=_EXPECTED, got=_reason(error),
                        hint="fix or remove that file") from None
    if not stamps or not width or not height:
        raise DataError(f"video '{name}' has no frames", expected=_EXPECTED, got="an empty video stream",
                        hint="fix or remove that file")
    if fps <= 0:
        fps = 25.0
    if all(stamp is not None for stamp in stamps):
        ordered = sorted(stamps)
        times = [float((stamp - ordered[0]) * time_base) for stamp in ordered]
    else:
        times = [index / fps for index in range(len(stamps))]
    return Clip(name, source, width, height, fps, times, codec)


def camera_device(item: Any) -> str | None:
    """The device an input names as a camera (``0`` or ``"0"`` -> ``/dev/video0``, or a ``/dev/video``
    path), or None when it names none."""
    if isinstance(item, int) and not isinstance(item, bool) and item >= 0:
        return f"/dev/video{item}"
    if isinstance(item, str):
        text = item.strip()
        if text.isdigit() and not Path(text).exists():
            return f"/dev/video{int(text)}"
        if text.startswith("/dev/video"):
            return text
    return None


def open_camera(item: Any, device: str) -> Clip:
    """A live camera as a clip of :data:`CAMERA_FRAMES` frames.

    Raises:
        DataError: No such camera, or one that cannot be opened (busy, not a capture device).
    """
    import av

    name = str(item)
    if not Path(device).exists():
        raise DataError(f"no camera '{name}'", expected=f"a camera at {device} (a number as input is a camera "
                        "index)", got=f"{device} does not exist", hint="connect a camera, or give a video file")
    try:
        with _container(device, camera=True) as container:
            stream = container.streams.video[0]
            width, height = stream.codec_context.width, stream.codec_context.height
            rate = stream.average_rate or stream.guessed_rate
            codec = stream.codec_context.name
    except (av.FFmpegError, OSError, IndexError, ValueError) as error:
        raise DataError(f"cannot open camera '{name}'", expected=f"a video capture device at {device}",
                        got=_reason(error), hint="is another program using it?") from None
    fps = float(rate) if rate else 30.0
    return Clip(f"camera {name}", device, width, height, fps, [i / fps for i in range(CAMERA_FRAMES)], codec,
                camera=True)


class FrameReader:
    """Decodes one clip's frames in order, as asked for; an earlier frame than the last one read starts
    over from the beginning. Holds one open container (close it with :meth:`close`)."""

    def __init__(self, clip: Clip):
        self.clip = clip
        self._container: Any = None
        self._frames: Iterator[Any] | None = None
        self._next = 0  # the index of the frame ``_frames`` gives next

    def frame(self, index: int) -> Image.Image:
        """Frame ``index`` as an RGB image.

        Raises:
            DataError: The stream ends before that frame, or the video cannot be opened any more.
        """
        if self._frames is None or index < self._next:
            self._start()
        assert self._frames is not None
        frame = None
        while self._next <= index:
            frame = next(self._frames, None)
            if frame is None:
                raise DataError(f"frame {index} of video '{self.clip.name}' could not be decoded",
                                expected=f"{len(self.clip.times)} frames, as its packets say",
                                got=f"the stream ended after {self._next} frames")
            self._next += 1
        return frame.to_image()

    def _start(self) -> None:
        import av

        self.close()
        try:
            self._container = _container(self.clip.source, camera=self.clip.camera)
        except (av.FFmpegError, OSError) as error:
            raise DataError(f"cannot read video '{self.clip.name}'", expected=_EXPECTED,
                            got=_reason(error)) from None
        stream = self._container.streams.video[0]
        stream.thread_type = "AUTO"
        self._frames = _decoded(self._container, stream)
        self._next = 0

    def close(self) -> None:
        if self._container is not None:
            self._container.close()
        self._container, self._frames = None, None


def _decoded(container: Any, stream: Any) -> Iterator[Any]:
    """The stream's frames in presentation order; a packet the decoder rejects is passed over (its
    frame goes missing, and a frame index past the end says so)."""
    import av

    for packet in container.demux(stream):
        try:
            yield from packet.decode()
        except av.FFmpegError:
            continue


def write_video(frames: Iterator[Image.Image], path: Path, clip: Clip) -> None:
    """Encode RGB ``frames`` at ``clip``'s rate to ``path`` (its suffix picks the container: MP4, MOV,
    MKV or AVI) with H.264, or MPEG-4 Part 2 when the input was MPEG-4 or no H.264 encoder exists."""
    import av

    rate = Fraction(clip.fps).limit_denominator(1001) if clip.fps > 0 else Fraction(25)
    fmt = _CONTAINERS.get(path.suffix.lower(), "mp4")
    with av.open(str(path), mode="w", format=fmt) as container:
        stream = None
        for image in frames:
            if stream is None:
                stream = _video_stream(container, clip, rate, image.size)
            width, height = stream.width, stream.height
            if image.size != (width, height):  # H.264 wants even sides: pad by a pixel
                canvas = Image.new("RGB", (width, height))
                canvas.paste(image, (0, 0))
                image = canvas
            for packet in stream.encode(av.VideoFrame.from_image(image).reformat(format=stream.pix_fmt)):
                container.mux(packet)
        if stream is not None:
            for packet in stream.encode():
                container.mux(packet)


def _video_stream(container: Any, clip: Clip, rate: Fraction, size: tuple[int, int]) -> Any:
    import av

    width, height = size[0] + size[0] % 2, size[1] + size[1] % 2
    for codec in ("mpeg4", "h264") if clip.codec == "mpeg4" else ("h264", "mpeg4"):
        try:
            stream = container.add_stream(codec, rate=rate)
        except (av.FFmpegError, ValueError, KeyError):
            continue
        stream.width, stream.height = width, height
        stream.pix_fmt = "yuv420p"
        if codec == "h264":
            stream.options = {"preset": "veryfast", "crf": "23"}
        return stream
    raise DataError(f"cannot encode an annotated copy of '{clip.name}'", expected="an H.264 or MPEG-4 encoder",
                    got="none in this build of PyAV")
