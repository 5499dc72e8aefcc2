"""``python -m services.db``: serve the db service with gunicorn."""

import atexit

from flask import Flask

from services.common.serve import serve_flask
from services.db.app import app_pool, create_app
from services.db.settings import Settings


def main() -> None:
    """Read settings from the environment and serve until stopped."""
    settings = Settings.from_env()

    def factory() -> Flask:
        # Runs in each gunicorn worker, after telemetry init: the pool is per worker.
        app = create_app(settings)
        atexit.register(app_pool(app).close)
        return app

    serve_flask(settings.service, factory)


if __name__ == "__main__":
    main()
