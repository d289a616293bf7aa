"""Product images uploaded from the admin: checked, re-encoded with Pillow, stored by content hash.

Only JPEG, PNG and WebP of at most 5 MB are taken. A file is refused (`ImageRefused`, with a
plain-Korean message, nothing written) when it is too big, is text markup (SVG, HTML, XML),
carries markup or script anywhere in its bytes (a polyglot: a valid image that is also an
HTML page), is not one of the three formats by its content (the name and the browser's
content type are never trusted), does not decode, or has absurd dimensions. What is stored
is never the uploaded file: the decoded pixels are encoded again (EXIF and other metadata
dropped, orientation applied), so nothing but image data reaches the disk. The file name is
the SHA-256 of the stored bytes plus the format's extension, so the same image is stored
once and a stored file never changes (it can be cached for ever).

Products refer to an uploaded image as ``media/<name>``; other values are paths under
``static/`` (the demo catalog's illustrations). `image_url_parts` tells them apart.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

MAX_BYTES = 5 * 1024 * 1024
MAX_PIXELS = 40_000_000  # a 8000 × 5000 photo; more is a decompression bomb, not a product shot
FORMATS = {"JPEG": ("jpg", "image/jpeg"), "PNG": ("png", "image/png"), "WEBP": ("webp", "image/webp")}
MEDIA_PREFIX = "media/"
NAME = re.compile(r"^[0-9a-f]{64}\.(jpg|png|webp)$")
CONTENT_TYPES = {ext: content_type for ext, content_type in FORMATS.values()}
# Markup that makes a file render as a page somewhere: refused wherever it sits in the bytes.
_MARKUP = re.compile(rb"<\s*(?:script|html|svg|iframe|object|embed|body|\?xml|!doctype)|javascript:", re.IGNORECASE)


class ImageRefused(ValueError):
    """The upload is not an image we store; `message` says why in plain Korean."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class StoredImage:
    name: str  # <sha256>.<ext>
    content_type: str
    width: int
    height: int

    @property
    def reference(self) -> str:
        """What `Product.image` holds for it."""
        return MEDIA_PREFIX + self.name


def check_and_encode(data: bytes) -> tuple[bytes, str, tuple[int, int]]:
    """The re-encoded image, its format and size; raises ImageRefused (see the module docstring)."""
    if len(data) > MAX_BYTES:
        raise ImageRefused(f"이미지는 5MB 이하만 올릴 수 있습니다 (올린 파일 {len(data) / 1024 / 1024:.1f}MB).")
    if not data:
        raise ImageRefused("빈 파일입니다. 이미지 파일을 골라 주세요.")
    head = data[:512].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith((b"<", b"<?xml")) or b"<svg" in head:
        raise ImageRefused("SVG·HTML 같은 문서 파일은 올릴 수 없습니다. JPEG, PNG, WebP 이미지만 올려 주세요.")
    if _MARKUP.search(data):
        raise ImageRefused(
            "이미지가 아닌 내용(HTML·스크립트)이 섞인 파일은 올릴 수 없습니다. "
            "이미지 편집기에서 JPEG, PNG, WebP로 다시 저장해 올려 주세요."
        )
    image = _open(data)
    return _encode(image)


def _open(data: bytes) -> Image.Image:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            probe = Image.open(io.BytesIO(data), formats=list(FORMATS))
            if probe.width * probe.height > MAX_PIXELS:
                raise ImageRefused(
                    f"이미지 크기가 너무 큽니다 ({probe.width}×{probe.height}). 4,000만 화소 이하로 줄여 올려 주세요."
                )
            probe.verify()
            image = Image.open(io.BytesIO(data), formats=list(FORMATS))
            image.load()
    except ImageRefused:
        raise
    except UnidentifiedImageError:
        raise ImageRefused("JPEG, PNG, WebP 이미지만 올릴 수 있습니다.") from None
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageRefused("이미지 파일이 손상되어 열 수 없습니다. 다른 파일을 올려 주세요.") from None
    if getattr(image, "n_frames", 1) > 1:
        raise ImageRefused("움직이는 이미지는 올릴 수 없습니다. 한 장짜리 이미지를 올려 주세요.")
    return image


def _encode(image: Image.Image) -> tuple[bytes, str, tuple[int, int]]:
    fmt = image.format
    assert fmt is not None  # _open accepts only images Pillow identified as one of FORMATS
    image = ImageOps.exif_transpose(image)
    out = io.BytesIO()
    if fmt == "JPEG":
        image.convert("RGB").save(out, "JPEG", quality=88, optimize=True)
    elif fmt == "PNG":
        keep = image if image.mode in ("RGB", "RGBA", "L", "LA", "P") else image.convert("RGBA")
        keep.save(out, "PNG", optimize=True)
    else:
        keep = image if image.mode in ("RGB", "RGBA") else image.convert("RGBA")
        keep.save(out, "WEBP", quality=88)
    return out.getvalue(), fmt, image.size


def store_product_image(data: bytes, directory: Path) -> StoredImage:
    """Check and re-encode `data`, write it under `directory` (created if missing) once; return what was stored.

    Writes to a temporary file in the same directory and renames it, so a reader never sees
    half a file; storing the same image again finds it there and writes nothing.
    """
    encoded, fmt, (width, height) = check_and_encode(data)
    ext, content_type = FORMATS[fmt]
    name = f"{hashlib.sha256(encoded).hexdigest()}.{ext}"
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / name
    if not target.exists():
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(encoded)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    return StoredImage(name, content_type, width, height)


def uploaded_name(reference: str | None) -> str | None:
    """The stored file name when `reference` (a `Product.image`) is an uploaded image, else None."""
    if reference and reference.startswith(MEDIA_PREFIX) and NAME.match(reference[len(MEDIA_PREFIX) :]):
        return reference[len(MEDIA_PREFIX) :]
    return None


def image_exists(reference: str | None, directory: Path, static_dir: Path) -> bool:
    """Whether a `Product.image` points at a file that is there (an upload or a static file)."""
    if not reference:
        return False
    name = uploaded_name(reference)
    if name is not None:
        return (directory / name).is_file()
    path = (static_dir / reference).resolve()
    return path.is_file() and static_dir.resolve() in path.parents
