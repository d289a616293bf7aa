"""Every English reason the billing code writes into the AuditLog reads as Korean on /admin/audit.

The release reasons are collected from the source (each ``reason=`` given to
``release_card_if_unused`` and its default), so a new one added in English fails here until
it has a Korean line.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from storefront.web.admin.audit_text import RELEASE_REASONS, audit_detail

ROOT = Path(__file__).resolve().parents[2] / "storefront"


def release_reasons() -> set[str]:
    found = set()
    for path in ROOT.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", "")) == (
                "release_card_if_unused"
            ):
                found |= {
                    k.value.value for k in node.keywords if k.arg == "reason" and isinstance(k.value, ast.Constant)
                }
            if isinstance(node, ast.FunctionDef) and node.name == "release_card_if_unused":
                names = [a.arg for a in node.args.kwonlyargs]
                found.add(node.args.kw_defaults[names.index("reason")].value)
    return found


def test_the_source_has_release_reasons_to_check():
    assert "replaced by a new card" in release_reasons() and "no live subscription uses this card" in release_reasons()


@pytest.mark.parametrize("reason", sorted(release_reasons()))
def test_each_card_release_reason_reads_in_korean(reason):
    shown = audit_detail(f"delete at Toss: {reason}")
    assert shown.startswith("카드 정보 삭제 (토스페이먼츠에도 삭제 요청): ")
    assert reason in RELEASE_REASONS and reason not in shown


@pytest.mark.parametrize(
    ("stored", "shown"),
    [
        ("first charge of subscription 7", "구독 #7 첫 결제"),
        ("renewal charge of subscription 12", "구독 #12 정기 결제 (자동 갱신)"),
        ("charge of subscription 3", "구독 #3 결제 (재시도 또는 카드 변경 후 결제)"),
        ("card registered through the Toss billing window", "토스페이먼츠 결제창에서 카드 등록"),
        ("구독 #5 기간 만료 시 해지", "구독 #5 기간 만료 시 해지"),  # already Korean: as stored
        ("", ""),
    ],
)
def test_stored_reasons_are_shown_in_korean(stored, shown):
    assert audit_detail(stored) == shown
