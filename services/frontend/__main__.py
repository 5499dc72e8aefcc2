"""``python -m services.frontend``: serve the frontend with gunicorn."""

from services.common.serve import serve_flask
from services.frontend.app import create_app
from services.frontend.settings import Settings


def main() -> None:
    """Read settings from the environment and serve until stopped."""
    settings = Settings.from_env()
    serve_flask(settings.service, lambda: create_app(settings))


if __name__ == "__main__":
    main()
