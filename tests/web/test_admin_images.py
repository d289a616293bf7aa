"""Product images through the admin's product form: uploaded, checked, stored under PRODUCT_IMAGE_DIR, served with
the right content type, shown in the shop and previewed in the form; anything else refused with a message."""

from __future__ import annotations

import gc
import io
import re
import warnings

import pytest
from PIL import Image
from sqlalchemy import select

from storefront.models import Product
from tests.conftest import csrf_token
from tests.web.admin_support import login_admin, make_catalog


@pytest.fixture
def config(tmp_path):
    from tests.conftest import make_config

    return make_config(tmp_path, PRODUCT_IMAGE_DIR=str(tmp_path / "uploads"))


@pytest.fixture
def product(db_session) -> Product:
    plan = make_catalog(db_session)
    db_session.commit()
    return plan.product


def jpeg(size=(128, 80)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (20, 120, 220)).save(out, "JPEG")
    return out.getvalue()


def upload(client, product: Product, data: bytes, filename: str = "photo.jpg", content_type: str = "image/jpeg"):
    path = f"/admin/products/{product.id}/edit"
    form = {
        "csrf_token": csrf_token(client, path),
        "category_id": str(product.category_id),
        "name": product.name,
        "slug": product.slug,
        "kind": product.kind,
        "summary": product.summary,
        "description": "",
        "provision": product.provision,
        "image": product.image,
        "position": "0",
        "active": "y",
        "image_file": (io.BytesIO(data), filename, content_type),
    }
    return client.post(path, data=form, content_type="multipart/form-data")


def test_an_uploaded_jpeg_is_stored_served_and_shown(client, auth, db_session, clock, config, product):
    login_admin(auth, db_session, clock.now())

    response = upload(client, product, jpeg())

    assert response.status_code == 302
    db_session.refresh(product)
    name = re.fullmatch(r"media/([0-9a-f]{64}\.jpg)", product.image).group(1)
    assert (config.product_image_dir / name).is_file()
    with client.get(f"/media/products/{name}") as served:
        assert served.status_code == 200 and served.headers["Content-Type"] == "image/jpeg"
        assert served.headers["X-Content-Type-Options"] == "nosniff" and "immutable" in served.headers["Cache-Control"]
        with Image.open(io.BytesIO(served.get_data())) as image:
            assert image.size == (128, 80)
    shop = client.get(f"/products/{product.slug}").get_data(as_text=True)
    assert f'src="/media/products/{name}"' in shop
    form = client.get(f"/admin/products/{product.id}/edit").get_data(as_text=True)
    assert re.search(rf'<img id="image-preview" src="/media/products/{name}"', form)
    assert 'enctype="multipart/form-data"' in form and 'accept="image/jpeg,image/png,image/webp"' in form
    assert 'src="/static/js/image-preview.js"' in form and "style=" not in form


@pytest.mark.parametrize(
    "data,filename,content_type,message",
    [
        (b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>', "logo.svg", "image/svg+xml", "SVG·HTML"),
        (b"<html><script>alert(1)</script></html>", "photo.jpg", "image/jpeg", "SVG·HTML"),
        (jpeg() + b"<script>alert(1)</script>", "photo.jpg", "image/jpeg", "HTML·스크립트)이 섞인 파일"),
        (b"GIF89a" + b"\0" * 40, "anim.gif", "image/gif", "JPEG, PNG, WebP 이미지만"),
    ],
)
def test_markup_polyglots_and_other_files_are_refused_and_nothing_changes(
    client, auth, db_session, clock, config, product, data, filename, content_type, message
):
    login_admin(auth, db_session, clock.now())
    before = product.image

    response = upload(client, product, data, filename, content_type)

    assert response.status_code == 200
    assert message in response.get_data(as_text=True)
    db_session.refresh(product)
    assert product.image == before
    assert not config.product_image_dir.exists() or list(config.product_image_dir.iterdir()) == []


def test_a_request_over_the_limit_is_refused_before_it_is_read(client, auth, db_session, clock, config, product):
    login_admin(auth, db_session, clock.now())

    with upload(client, product, jpeg() + b"\0" * (6 * 1024 * 1024)) as response:
        assert response.status_code == 413
        assert "이미지는 5MB 이하만 올릴 수 있습니다." in response.get_data(as_text=True)
    # The test client spooled the unread body to a temporary file that nothing closes; let it go quietly here.
    del response
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()
    db_session.refresh(product)
    assert product.image == ""


def test_only_stored_names_are_served(client, config):
    config.product_image_dir.mkdir(parents=True)
    (config.product_image_dir / "notes.txt").write_text("secret")
    for name in ("notes.txt", "..%2Fsecret.png", "a" * 64 + ".jpg", "a" * 64 + ".svg", "x"):
        assert client.get(f"/media/products/{name}").status_code == 404, name


def test_shoppers_cannot_upload_and_a_post_without_csrf_is_refused(
    app, client, auth, db_session, clock, config, product
):
    auth.signup()
    response = client.post(
        f"/admin/products/{product.id}/edit",
        data={"image_file": (io.BytesIO(jpeg()), "a.jpg", "image/jpeg")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 403
    auth.logout()
    login_admin(auth, db_session, clock.now())
    with app.app_context():  # a fresh `g`, as in a real request: nothing from the login's CSRF check lingers
        no_token = client.post(
            f"/admin/products/{product.id}/edit",
            data={"image_file": (io.BytesIO(jpeg()), "a.jpg", "image/jpeg")},
            content_type="multipart/form-data",
        )
    assert no_token.status_code == 400 and "요청을 확인할 수 없습니다" in no_token.get_data(as_text=True)
    assert db_session.scalars(select(Product.image)).all() == [""]
    assert not config.product_image_dir.exists()
