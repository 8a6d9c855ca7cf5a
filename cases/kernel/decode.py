"""Decode an evidence file into RGB frames for the detector: images with Pillow, videos
with PyAV (a few frames sampled evenly by time).

Pure functions, no ORM, no torch: the web process may import this module. Bad input never
raises anything but `DecodeError` or `UnsupportedMedia`, each with a message a person can
read, so the pipeline can turn it into a status."""

from __future__ import annotations

import io
import math
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageOps, UnidentifiedImageError

if TYPE_CHECKING:  # PyAV is imported only when a video is decoded
    from av.container import InputContainer
    from av.video.frame import VideoFrame
    from av.video.stream import VideoStream

# Formats Pillow may try. Everything else (EPS runs Ghostscript, ICO/ICNS/PSD are rarely
# evidence) is refused before a decoder sees the bytes. Camera MPO files open through
# the JPEG plugin (naming "MPO" here raises KeyError in Pillow).
IMAGE_FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF")
# Pillow's own bomb threshold (89 MP): a 12,000 x 7,400 photo still fits.
MAX_IMAGE_PIXELS = 89_478_485
# Frames larger than this are downscaled right after decoding: faces are found and cropped
# on this copy, so a 12,000-pixel-wide frame costs at most 4096 x 4096 x 3 bytes later on.
MAX_FRAME_SIDE = 4096
# Sequential decoding of a video without a known duration stops after this many frames.
MAX_SEQUENTIAL_FRAMES = 3000
# Between two sampled frames closer than this, decode forward instead of seeking.
SEEK_AHEAD_SECONDS = 5.0
VIDEO_MAGIC = (
    (4, b"ftyp"),  # MP4, MOV, 3GP
    (0, b"\x1a\x45\xdf\xa3"),  # Matroska, WebM
    (0, b"RIFF"),  # AVI (RIFF....AVI )
    (0, b"FLV"),
    (0, b"\x00\x00\x01\xba"),  # MPEG program stream
    (0, b"\x47"),  # MPEG transport stream sync byte (checked again below)
)


class DecodeError(Exception):
    """The file claims a supported format but could not be decoded (corrupt, truncated)."""


class UnsupportedMedia(Exception):
    """The file is not an image or video this pipeline reads."""


@dataclass
class DecodedMedia:
    """RGB uint8 frames (H, W, 3), each possibly downscaled by `scales[i]` (<= 1) from the
    original size `width` x `height`; `times` are seconds for video frames, 0.0 for images."""

    kind: str  # "image" or "video"
    width: int
    height: int
    frames: list[NDArray[Any]] = field(default_factory=list)
    scales: list[float] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _video_signature(data: bytes) -> bool:
    head = data[:16]
    for offset, magic in VIDEO_MAGIC:
        if head[offset : offset + len(magic)] == magic:
            if magic == b"RIFF" and data[8:12] != b"AVI ":
                return False  # RIFF....WEBP is an image
            if magic == b"\x47" and not (len(data) > 188 and data[188:189] == b"\x47"):
                continue
            return True
    return False


def decode_media(data: bytes, media_type: str = "", *, max_frames: int = 8) -> DecodedMedia:
    """Decode `data`. The bytes decide (a mislabelled upload is common); `media_type`
    (e.g. "image/jpeg", "video/mp4") only breaks the tie when no signature is known."""
    if not data:
        raise DecodeError("the file is empty")
    if _claimed_image_format(data):
        return decode_image(data)
    if _video_signature(data) or media_type.startswith("video/"):
        return decode_video(data, max_frames=max_frames)
    try:
        return decode_image(data)
    except UnsupportedMedia:
        if media_type.startswith("image/"):
            raise
        # No signature we know: one more try as any container FFmpeg reads.
        try:
            return decode_video(data, max_frames=max_frames)
        except (DecodeError, UnsupportedMedia):
            raise UnsupportedMedia(
                "not a recognised image or video format "
                f"(images: {', '.join(IMAGE_FORMATS)}; videos: anything FFmpeg reads)"
            ) from None


def image_format(data: bytes) -> str:
    """The allowed image format (one of IMAGE_FORMATS) whose signature the bytes start with,
    or "" : the bytes decide, never a file name or a browser's claim."""
    return _claimed_image_format(data)


def _claimed_image_format(data: bytes) -> str:
    """The allowed format whose signature the bytes start with, if any."""
    signatures = (
        (b"\xff\xd8\xff", "JPEG"),
        (b"\x89PNG\r\n\x1a\n", "PNG"),
        (b"GIF87a", "GIF"),
        (b"GIF89a", "GIF"),
        (b"BM", "BMP"),
        (b"II*\x00", "TIFF"),
        (b"MM\x00*", "TIFF"),
    )
    for magic, name in signatures:
        if data.startswith(magic):
            return name
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    return ""


def _fit(image: Image.Image) -> tuple[Image.Image, float]:
    """Downscale so the longer side is at most MAX_FRAME_SIDE; returns (image, scale)."""
    longest = max(image.size)
    if longest <= MAX_FRAME_SIDE:
        return image, 1.0
    scale = MAX_FRAME_SIDE / longest
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    # reducing_gap: resample in two steps (fast box reduce, then bilinear) for big ratios.
    return image.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0), scale


def decode_image(data: bytes) -> DecodedMedia:
    with warnings.catch_warnings():
        # Pillow warns (not raises) between 1x and 2x its bomb limit; we refuse both.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image: Image.Image = Image.open(io.BytesIO(data), formats=IMAGE_FORMATS)
        except UnidentifiedImageError:
            claimed = _claimed_image_format(data)
            if claimed:
                raise DecodeError(
                    f"the image is corrupt or truncated: it starts like {claimed} but its "
                    "header cannot be read"
                ) from None
            raise UnsupportedMedia(
                f"not a supported image (allowed formats: {', '.join(IMAGE_FORMATS)})"
            ) from None
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise DecodeError(
                f"the image is larger than {MAX_IMAGE_PIXELS // 1_000_000} megapixels; refused"
            ) from None
        except (OSError, ValueError, SyntaxError) as exc:
            raise DecodeError(f"could not read the image header: {exc}") from None
        width, height = image.size
        if width * height > MAX_IMAGE_PIXELS:
            raise DecodeError(
                f"the image is {width} x {height} pixels, more than "
                f"{MAX_IMAGE_PIXELS // 1_000_000} megapixels; refused"
            )
        try:
            if image.format in ("JPEG", "MPO") and max(width, height) > MAX_FRAME_SIDE:
                # JPEG can decode at 1/2, 1/4 or 1/8 scale: a huge photo never exists in
                # memory at full size.
                image.draft("RGB", (MAX_FRAME_SIDE, MAX_FRAME_SIDE))
            image.load()
            # Phone photos store rotation in EXIF; faces lying on their side are not found.
            swapped = image.getexif().get(0x0112) in (5, 6, 7, 8)
            image = ImageOps.exif_transpose(image).convert("RGB")
        except (OSError, ValueError, SyntaxError, EOFError) as exc:
            raise DecodeError(f"the image is corrupt or truncated: {exc}") from None
        except Image.DecompressionBombError:
            raise DecodeError("the image expands to too many pixels; refused") from None
    # Boxes are reported in the coordinates of the upright original.
    original_w, original_h = (height, width) if swapped else (width, height)
    fitted, _ = _fit(image)
    return DecodedMedia(
        kind="image",
        width=original_w,
        height=original_h,
        frames=[np.asarray(fitted)],
        scales=[fitted.width / original_w],
        times=[0.0],
    )


def _frame_array(frame: VideoFrame, width: int, height: int) -> tuple[NDArray[Any], float]:
    """An RGB array of a PyAV VideoFrame, downscaled by FFmpeg when it is very large."""
    longest = max(width, height)
    if longest > MAX_FRAME_SIDE:
        scale = MAX_FRAME_SIDE / longest
        w, h = max(2, round(width * scale)), max(2, round(height * scale))
        return frame.reformat(width=w, height=h, format="rgb24").to_ndarray(), w / width
    return frame.to_ndarray(format="rgb24"), 1.0


def decode_video(data: bytes, *, max_frames: int = 8) -> DecodedMedia:
    """Sample up to `max_frames` frames evenly spaced in time (the middle of N equal slices).

    A truncated file yields the frames before the damage (with a warning); no frame at all is
    a DecodeError."""
    try:
        import av
    except ImportError:  # pragma: no cover - the detection extra installs it
        raise UnsupportedMedia("video decoding needs PyAV (the detection extra)") from None

    max_frames = max(1, int(max_frames))
    container, stream = _open_video(data)
    media = DecodedMedia(
        kind="video", width=stream.codec_context.width, height=stream.codec_context.height
    )
    try:
        duration = _duration_seconds(container, stream)
        if duration and duration > 0:
            _sample_by_seeking(container, stream, duration, max_frames, media)
    except av.FFmpegError as exc:
        media.warnings.append(f"seeking failed: {exc}")
    finally:
        container.close()
    if not media.frames:
        # Unknown duration, or seeking found nothing (a truncated file often loses its
        # index): read from the start with a fresh demuxer.
        container, stream = _open_video(data)
        try:
            _sample_sequentially(container, stream, max_frames, media)
        finally:
            container.close()
    if not media.frames:
        raise DecodeError("no video frame could be decoded (corrupt or truncated file)")
    return media


def _open_video(data: bytes) -> tuple[InputContainer, VideoStream]:
    import av

    try:
        container = av.open(io.BytesIO(data), mode="r")
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise DecodeError(f"could not open the video: {exc}") from None
    if not container.streams.video:
        container.close()
        raise UnsupportedMedia("the file has no video stream")
    stream = container.streams.video[0]
    stream.thread_type = "AUTO"
    if not stream.codec_context.width or not stream.codec_context.height:
        container.close()
        raise DecodeError("the video stream has no frame size")
    return container, stream


def _duration_seconds(container: InputContainer, stream: VideoStream) -> float | None:
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    if container.duration:
        return container.duration / 1_000_000
    return None


def _sample_by_seeking(
    container: InputContainer, stream: VideoStream, duration: float, count: int, media: DecodedMedia
) -> None:
    import av

    if stream.time_base is None:
        return  # nothing to seek by: decode_video reads the frames in order instead
    time_base = float(stream.time_base)
    start = float((stream.start_time or 0) * stream.time_base)
    seen: set[int] = set()
    decoder = None
    last_time = -math.inf
    for i in range(count):
        target = start + (i + 0.5) * duration / count
        try:
            if decoder is None or target - last_time > SEEK_AHEAD_SECONDS:
                # Far ahead: jump to the keyframe before the target. Near: decoding on is
                # cheaper than seeking back to a keyframe we already passed.
                container.seek(int(target / time_base), stream=stream, backward=True)
                decoder = container.decode(stream)
            chosen = None
            for frame in decoder:
                chosen = frame
                last_time = frame.time if frame.time is not None else last_time
                if frame.time is not None and frame.time >= target - time_base:
                    break
        except av.FFmpegError as exc:
            media.warnings.append(f"stopped at {target:.2f}s: {exc}")
            break
        if chosen is None:
            media.warnings.append(f"no frame at {target:.2f}s (file truncated?)")
            break
        key = chosen.pts if chosen.pts is not None else i
        if key in seen:
            continue  # a short clip: two targets landed on the same frame
        seen.add(key)
        array, scale = _frame_array(chosen, media.width, media.height)
        media.frames.append(array)
        media.scales.append(scale)
        media.times.append(float(chosen.time or 0.0))


def _sample_sequentially(
    container: InputContainer, stream: VideoStream, count: int, media: DecodedMedia
) -> None:
    """Keep every k-th frame of the first MAX_SEQUENTIAL_FRAMES, then thin to `count`."""
    import av

    kept: list[VideoFrame] = []
    stride = 1
    try:
        for n, frame in enumerate(container.decode(stream)):
            if n >= MAX_SEQUENTIAL_FRAMES:
                break
            if n % stride:
                continue
            kept.append(frame)
            if len(kept) > 4 * count:
                # Bounded memory: keep every other frame and sample half as often from now on.
                kept, stride = kept[::2], stride * 2
    except av.FFmpegError as exc:
        media.warnings.append(f"decoding stopped early: {exc}")
    if not kept:
        return
    step = len(kept) / min(count, len(kept))
    for j in range(min(count, len(kept))):
        frame = kept[math.floor(j * step)]
        array, scale = _frame_array(frame, media.width, media.height)
        media.frames.append(array)
        media.scales.append(scale)
        media.times.append(float(frame.time or 0.0))
