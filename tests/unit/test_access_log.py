"""Access logs keep Toss's one-time authKey out."""


def test_access_log_lines_never_show_the_authkey():
    import logging

    from storefront.web.security import RedactAuthKeys

    record = logging.LogRecord(
        "werkzeug",
        logging.INFO,
        __file__,
        1,
        '%s - - [%s] "%s" %s -',
        ("127.0.0.1", "now", "GET /billing/success?intent=t&customerKey=c&authKey=bln_SECRET1 HTTP/1.1", "302"),
        None,
    )
    assert RedactAuthKeys().filter(record) is True
    line = record.getMessage()
    assert "bln_SECRET1" not in line and "authKey=[redacted]" in line and "customerKey=c" in line


def test_access_log_lines_never_show_the_tokens_of_emailed_links():
    import logging

    from storefront.web.security import RedactAuthKeys

    for path in ("/password/reset/TOKEN_abc-123", "/signup/confirm/TOKEN_abc-123?x=1"):
        record = logging.LogRecord(
            "werkzeug",
            logging.INFO,
            __file__,
            1,
            '%s - - [%s] "%s" %s -',
            ("127.0.0.1", "now", f"GET {path} HTTP/1.1", "200"),
            None,
        )
        assert RedactAuthKeys().filter(record) is True
        line = record.getMessage()
        assert "TOKEN_abc-123" not in line and "/[redacted]" in line and "HTTP/1.1" in line
