import pytest

from storefront.web.security import safe_next_url


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example",
        "//evil.example",
        "///evil.example",
        "/\\evil.example",
        "\\\\evil.example",
        "\\/evil.example",
        "http:/evil.example",
        "javascript:alert(1)",
        "/ok\r\nLocation: https://evil.example",
        " https://evil.example",
        "evil.example",
        "",
        None,
    ],
)
def test_next_url_never_leaves_site(target):
    assert safe_next_url(target, "/home") == "/home"


@pytest.mark.parametrize("target", ["/", "/account", "/subscribe/3?x=1", "/products/a#plans"])
def test_next_url_keeps_paths_on_this_site(target):
    assert safe_next_url(target) == target
