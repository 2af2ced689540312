"""Pictures for the tests, made with Pillow, and a way to upload them like the page does."""

from __future__ import annotations

import io
import struct
import time
import uuid
import zlib

import requests
from PIL import Image

from testkit.sns import Client

GPS_IFD = 0x8825
ORIENTATION = 0x0112
MAKE = 0x010F


def jpeg(width: int = 1600, height: int = 1200, *, orientation: int | None = None) -> bytes:
    """A photo-like JPEG with camera metadata and GPS, optionally turned by EXIF."""
    image = Image.linear_gradient("L").point(lambda v: v // 3).resize((width, height))
    image = image.convert("RGB")
    # A red corner at the stored top left, so turning can be checked.
    image.paste((255, 0, 0), (0, 0, width // 8, height // 8))
    exif = image.getexif()
    exif[MAKE] = "TestCam"
    exif[GPS_IFD] = {1: "N", 2: (37.0, 33.0, 0.0), 3: "E", 4: (126.0, 58.0, 0.0)}
    if orientation:
        exif[ORIENTATION] = orientation
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif, quality=90)
    return out.getvalue()


def png(width: int = 300, height: int = 200) -> bytes:
    out = io.BytesIO()
    Image.new("RGBA", (width, height), (0, 128, 255, 128)).save(out, "PNG")
    return out.getvalue()


def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims ``width`` x ``height`` pixels (a decompression bomb)."""
    data = bytearray(png(2, 2))
    ihdr = 8 + 8  # signature, then the IHDR chunk's length and type
    data[ihdr : ihdr + 8] = struct.pack(">II", width, height)
    crc = zlib.crc32(bytes(data[12 : ihdr + 13]))
    data[ihdr + 13 : ihdr + 17] = struct.pack(">I", crc)
    return bytes(data)


def upload(
    client: Client, data: bytes | None, filename: str = "photo.jpg", **kwargs
) -> requests.Response:
    """POST /post/img as the page's script does (multipart field ``img``, token header)."""
    files = kwargs.pop("files", None)
    if files is None:
        files = {"img": (filename, data, "image/jpeg")} if data is not None else {}
    headers = {"X-XSRFToken": client.xsrf(), "Accept": "application/json"}
    return client.http.post(
        client.base_url + "/post/img", files=files, headers=headers, timeout=30, **kwargs
    )


def wait_for(client: Client, url: str, timeout: float = 20.0) -> requests.Response:
    """GET ``url`` until it exists (thumbnails are made just after the upload)."""
    deadline = time.monotonic() + timeout
    while True:
        if "://" in url:
            response = client.http.get(url, timeout=30)
        else:
            response = client.get(url)
        if response.status_code == 200 or time.monotonic() > deadline:
            return response
        time.sleep(0.1)


def opened(response: requests.Response) -> Image.Image:
    return Image.open(io.BytesIO(response.content))


def sign_up(tab, server) -> None:
    """Sign a new person up through the browser tab's own /join form."""
    tab.goto("/join")
    tab.get_by_label("Email").fill(f"p{uuid.uuid4().hex[:10]}@example.com")
    tab.get_by_label("Nickname").fill(f"사진{uuid.uuid4().hex[:4]}")
    tab.get_by_label("Password").fill("picture pass 1")
    tab.get_by_role("button", name="Sign up").click()
    tab.wait_for_url(server.url + "/")
