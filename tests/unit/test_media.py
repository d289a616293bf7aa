"""Product image checks: only real JPEG/PNG/WebP up to 5 MB, re-encoded; markup and polyglots refused."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from storefront import media


def image_bytes(fmt: str, size=(64, 40), color=(200, 30, 30), **save) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, fmt, **save)
    return out.getvalue()


@pytest.mark.parametrize(
    "fmt,ext,content_type", [("JPEG", "jpg", "image/jpeg"), ("PNG", "png", "image/png"), ("WEBP", "webp", "image/webp")]
)
def test_the_three_formats_are_stored_re_encoded_under_their_hash(tmp_path, fmt, ext, content_type):
    data = image_bytes(fmt)

    stored = media.store_product_image(data, tmp_path / "images")

    assert stored.name.endswith("." + ext) and stored.content_type == content_type
    assert (stored.width, stored.height) == (64, 40)
    assert stored.reference == "media/" + stored.name and media.uploaded_name(stored.reference) == stored.name
    on_disk = (tmp_path / "images" / stored.name).read_bytes()
    with Image.open(io.BytesIO(on_disk)) as saved:
        assert saved.format == fmt
    again = media.store_product_image(data, tmp_path / "images")
    assert again == stored and len(list((tmp_path / "images").iterdir())) == 1


def test_metadata_is_dropped_and_orientation_applied(tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    exif[0x010F] = "Camera Maker With Secrets"
    data = image_bytes("JPEG", size=(80, 20), exif=exif.tobytes())

    stored = media.store_product_image(data, tmp_path)

    with Image.open(tmp_path / stored.name) as saved:
        assert saved.size == (20, 80) and not saved.getexif()
    assert b"Camera Maker" not in (tmp_path / stored.name).read_bytes()


@pytest.mark.parametrize(
    "data,message",
    [
        (b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "SVG·HTML 같은 문서 파일은"),
        (b'<?xml version="1.0"?><svg/>', "SVG·HTML 같은 문서 파일은"),
        (b"\xef\xbb\xbf  <!doctype html><html><body>hi</body></html>", "SVG·HTML 같은 문서 파일은"),
        (image_bytes("JPEG") + b"<script>alert(document.cookie)</script>", "HTML·스크립트)이 섞인 파일"),
        (image_bytes("PNG")[:40] + b"<html><body onload=x()>" + image_bytes("PNG")[40:], "HTML·스크립트)이 섞인 파일"),
        (image_bytes("GIF"), "JPEG, PNG, WebP 이미지만"),
        (b"%PDF-1.7 not an image", "JPEG, PNG, WebP 이미지만"),
        (image_bytes("PNG")[:60], "손상되어 열 수 없습니다"),
        (b"", "빈 파일입니다"),
    ],
)
def test_what_is_not_a_plain_image_is_refused_with_a_reason(tmp_path, data, message):
    with pytest.raises(media.ImageRefused) as refused:
        media.store_product_image(data, tmp_path / "images")
    assert message in refused.value.message
    assert not (tmp_path / "images").exists()  # nothing written, not even the directory


def test_more_than_five_megabytes_is_refused(tmp_path):
    data = image_bytes("PNG") + b"\0" * media.MAX_BYTES
    with pytest.raises(media.ImageRefused, match="5MB 이하"):
        media.store_product_image(data, tmp_path)


def test_a_decompression_bomb_is_refused_before_it_is_decoded(tmp_path):
    out = io.BytesIO()
    Image.new("1", (10_000, 5_000)).save(out, "PNG")  # 50 million pixels in a few kilobytes
    assert len(out.getvalue()) < 100_000
    with pytest.raises(media.ImageRefused, match="4,000만 화소"):
        media.store_product_image(out.getvalue(), tmp_path)


def test_an_animated_webp_is_refused(tmp_path):
    frames = [Image.new("RGB", (16, 16), c) for c in ((255, 0, 0), (0, 255, 0))]
    out = io.BytesIO()
    frames[0].save(out, "WEBP", save_all=True, append_images=frames[1:])
    with pytest.raises(media.ImageRefused, match="움직이는 이미지"):
        media.store_product_image(out.getvalue(), tmp_path)


def test_only_stored_names_count_as_uploads():
    name = "a" * 64 + ".png"
    assert media.uploaded_name("media/" + name) == name
    for other in (
        "img/plan.png",
        "media/../secret.png",
        "media/" + "a" * 63 + ".png",
        "media/" + "A" * 64 + ".png",
        "media/" + "a" * 64 + ".svg",
        "",
        None,
    ):
        assert media.uploaded_name(other) is None
