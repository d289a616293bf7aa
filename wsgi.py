"""WSGI entry point: `gunicorn wsgi:app` in production, `flask run` in development."""

from dotenv import load_dotenv

load_dotenv()

from storefront import create_app  # noqa: E402

app = create_app()
