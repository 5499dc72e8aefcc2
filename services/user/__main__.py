"""``python -m services.user``: serve the user service."""

from services.common.serve import serve_aiohttp
from services.user.app import create_app
from services.user.settings import Settings


def main() -> None:
    """Read settings from the environment and serve until stopped."""
    settings = Settings.from_env()
    serve_aiohttp(settings.service, lambda: create_app(settings))


if __name__ == "__main__":
    main()
