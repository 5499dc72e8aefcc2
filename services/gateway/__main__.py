"""``python -m services.gateway``: serve the gateway."""

from services.common.serve import serve_aiohttp
from services.gateway.app import create_app
from services.gateway.settings import Settings


def main() -> None:
    """Read settings from the environment and serve until stopped."""
    settings = Settings.from_env()
    serve_aiohttp(settings.service, lambda: create_app(settings))


if __name__ == "__main__":
    main()
