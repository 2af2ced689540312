"""GIFs and animated WebPs cleaned block by block: comments, XMP, EXIF and other
application blocks dropped, every frame kept byte for byte, and (frames, width, height)
counted from the blocks, so that no frame is decoded and nothing is re-compressed."""

from __future__ import annotations

import struct
from collections.abc import Callable

from resize.errors import DAMAGED, ImageError


def _sub_blocks_end(data: bytes, pos: int) -> int:
    """Where a GIF's chain of data sub-blocks starting at ``pos`` ends (after its 0)."""
    while True:
        if pos >= len(data):
            raise ImageError("corrupt", DAMAGED)
        length = data[pos]
        pos += 1
        if length == 0:
            return pos
        pos += length


_GIF_LOOPS = (b"NETSCAPE2.0", b"ANIMEXTS1.0")


def clean_gif(data: bytes) -> tuple[bytes, int, int, int]:
    """The GIF without comments, plain text, XMP, ICC or any other application block but
    the loop count, its frames byte for byte; and (frames, width, height) of the canvas
    that holds them all. Cut inside a block: ``corrupt``; ending between blocks is taken,
    and the trailer added, as browsers and Pillow do."""
    if len(data) < 13 or data[:6] not in (b"GIF87a", b"GIF89a"):
        raise ImageError("corrupt", DAMAGED)
    width, height, flags = struct.unpack_from("<HHB", data, 6)
    pos = 13 + (3 << ((flags & 7) + 1) if flags & 0x80 else 0)
    if pos > len(data):
        raise ImageError("corrupt", DAMAGED)
    kept = [data[:pos]]
    control = b""  # a graphic control block waits for the frame it belongs to
    frames = 0
    while pos < len(data) and data[pos] != 0x3B:
        kind = data[pos]
        if kind == 0x2C:  # a frame: descriptor, colour table, LZW code size, data
            if pos + 11 > len(data):
                raise ImageError("corrupt", DAMAGED)
            left, top, frame_width, frame_height, flags = struct.unpack_from(
                "<HHHHB", data, pos + 1
            )
            start = pos + 10 + (3 << ((flags & 7) + 1) if flags & 0x80 else 0) + 1
            end = _sub_blocks_end(data, start)
            kept += [control, data[pos:end]]
            control = b""
            frames += 1
            width, height = max(width, left + frame_width), max(height, top + frame_height)
        elif kind == 0x21 and pos + 2 < len(data):
            label = data[pos + 1]
            end = _sub_blocks_end(data, pos + 2)
            if label == 0xF9:
                control = data[pos:end]
            elif label == 0xFF and data[pos + 2 : pos + 14] in (b"\x0b" + n for n in _GIF_LOOPS):
                kept.append(data[pos:end])
            elif label == 0x01:
                control = b""  # plain text goes, and the control block that was its own
        else:
            raise ImageError("corrupt", DAMAGED)
        pos = end
    if frames == 0:
        raise ImageError("corrupt", DAMAGED)
    kept.append(b"\x3b")
    return b"".join(kept), frames, width, height


_WEBP_KEPT = {b"VP8X", b"ANIM", b"ANMF", b"ALPH", b"VP8 ", b"VP8L"}
_VP8X_ICC, _VP8X_EXIF, _VP8X_XMP = 0x20, 0x08, 0x04


def clean_webp_animation(
    data: bytes, keep_profile: Callable[[bytes], bytes | None]
) -> tuple[bytes, int, int, int]:
    """An animated WebP without EXIF, XMP or unknown chunks, and its ICC profile only when
    ``keep_profile`` keeps it, the frames byte for byte; and (frames, width, height)."""
    if len(data) < 30 or data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        raise ImageError("corrupt", DAMAGED)
    end = 8 + struct.unpack_from("<I", data, 4)[0]
    if end > len(data):
        raise ImageError("corrupt", DAMAGED)
    chunks: list[tuple[bytes, bytes]] = []
    pos = 12
    while pos < end:
        if pos + 8 > end:
            raise ImageError("corrupt", DAMAGED)
        kind, length = data[pos : pos + 4], struct.unpack_from("<I", data, pos + 4)[0]
        if pos + 8 + length > end:
            raise ImageError("corrupt", DAMAGED)
        chunks.append((kind, data[pos + 8 : pos + 8 + length]))
        pos += 8 + length + (length & 1)
    if not chunks or chunks[0][0] != b"VP8X" or len(chunks[0][1]) < 10:
        raise ImageError("corrupt", DAMAGED)
    header = chunks[0][1]
    width = 1 + int.from_bytes(header[4:7], "little")
    height = 1 + int.from_bytes(header[7:10], "little")
    frames = 0
    profile = None
    kept = []
    for kind, payload in chunks:
        if kind == b"ANMF":
            if len(payload) < 16:
                raise ImageError("corrupt", DAMAGED)
            x, y = (
                2 * int.from_bytes(payload[0:3], "little"),
                2 * int.from_bytes(payload[3:6], "little"),
            )
            frame_width = 1 + int.from_bytes(payload[6:9], "little")
            frame_height = 1 + int.from_bytes(payload[9:12], "little")
            if x + frame_width > width or y + frame_height > height:
                raise ImageError("corrupt", DAMAGED)
            frames += 1
        if kind == b"ICCP" and profile is None:
            profile = keep_profile(payload)
            if profile is not None:
                kept.append((kind, payload))
        elif kind in _WEBP_KEPT:
            kept.append((kind, payload))
    if frames == 0:
        raise ImageError("corrupt", DAMAGED)
    flags = header[0] & ~(_VP8X_EXIF | _VP8X_XMP | (0 if profile else _VP8X_ICC))
    kept[0] = (b"VP8X", bytes([flags]) + header[1:])
    body = b"".join(
        kind + struct.pack("<I", len(payload)) + payload + b"\x00" * (len(payload) & 1)
        for kind, payload in kept
    )
    return b"RIFF" + struct.pack("<I", 4 + len(body)) + b"WEBP" + body, frames, width, height
