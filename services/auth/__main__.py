"""``python -m services.auth``: serve the auth service with gunicorn."""

from services.auth.app import create_app
from services.auth.settings import Settings
from services.common.serve import serve_flask


def main() -> None:
    """Read settings from the environment and serve until stopped."""
    settings = Settings.from_env()
    serve_flask(settings.service, lambda: create_app(settings))


if __name__ == "__main__":
    main()
