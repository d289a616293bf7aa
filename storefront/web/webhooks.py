"""`POST /webhooks/toss`: Toss webhooks (filled in by the Toss issues)."""

from __future__ import annotations

from flask import Blueprint, jsonify

from storefront.extensions import csrf

bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")


@bp.post("/toss")
@csrf.exempt
def toss():
    return jsonify(status="ignored"), 200
