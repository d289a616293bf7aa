"""Uploaded product images, served from PRODUCT_IMAGE_DIR at /media/products/<sha256>.<ext>.

Only names `storefront.media` gives stored files are answered (anything else is 404, so no
path ever leaves the directory); the content type follows the extension the file was
re-encoded to, and ``nosniff`` (set for every response) keeps browsers from guessing. A
stored file never changes (its name is its hash), so it may be cached for a year.
"""

from __future__ import annotations

from flask import Blueprint, abort, current_app, send_from_directory, url_for

from storefront import media

bp = Blueprint("media", __name__, url_prefix="/media")

ONE_YEAR = 365 * 24 * 3600


@bp.get("/products/<name>")
def product_image(name: str):
    if not media.NAME.match(name):
        abort(404)
    directory = current_app.config["STOREFRONT"].product_image_dir
    if not (directory / name).is_file():
        abort(404)
    response = send_from_directory(
        directory, name, mimetype=media.CONTENT_TYPES[name.rsplit(".", 1)[1]], max_age=ONE_YEAR
    )
    response.headers["Cache-Control"] = f"public, max-age={ONE_YEAR}, immutable"
    return response


def product_image_url(reference: str | None) -> str | None:
    """The URL of a `Product.image`: an uploaded image, or a file under static/."""
    if not reference:
        return None
    name = media.uploaded_name(reference)
    if name is not None:
        return url_for("media.product_image", name=name)
    return url_for("static", filename=reference)
