"""Access logs keep Toss's one-time authKey out."""


def test_access_log_lines_never_show_the_authkey():
    import logging

    from storefront.web.security import RedactAuthKeys

    record = logging.LogRecord("werkzeug", logging.INFO, __file__, 1, '%s - - [%s] "%s" %s -',
                               ("127.0.0.1", "now", "GET /billing/success?intent=t&customerKey=c&authKey=bln_SECRET1 HTTP/1.1",
                                "302"), None)
    assert RedactAuthKeys().filter(record) is True
    line = record.getMessage()
    assert "bln_SECRET1" not in line and "authKey=[redacted]" in line and "customerKey=c" in line
