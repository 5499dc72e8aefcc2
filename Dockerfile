# One image for the five tracelab services (frontend, gateway, auth, user, db)
# and the tracelab console (`python -m tracelab.console`, Compose's command).
#
#   docker build -t tracelab-service:0.1.0 .
#   docker run -e SERVICE=gateway -p 8081:8081 tracelab-service:0.1.0
#
# The service is chosen at run time by the SERVICE environment variable
# (Compose and Kubernetes set it per container); `--build-arg SERVICE=...`
# only changes the default. Dependencies come from uv.lock exactly, the
# project's own only (`uv sync --frozen --no-default-groups`: pyproject's
# default groups `dev` and `bench` hold the test and benchmark tools, and
# `--no-dev` would drop only `dev`); the image runs as an unprivileged user
# and holds no compiler, no uv and no source tree, only the virtualenv.
#
# The base images are pinned; docker-compose.yml passes the same values from
# .env (PYTHON_IMAGE, UV_IMAGE), and tests/config checks that they agree.

ARG PYTHON_IMAGE=python:3.11.14-slim-trixie
ARG UV_IMAGE=ghcr.io/astral-sh/uv:0.13.8
ARG NODE_IMAGE=node:22.12.0-bookworm-slim

FROM ${UV_IMAGE} AS uv

# ----------------------------------------------- the console's browser libraries
# npm ci from the console's lock file; only the files its package.json lists
# are copied into the package (python -m tracelab.console.assets, below).
FROM ${NODE_IMAGE} AS console-assets
WORKDIR /web
COPY tracelab/console/web/package.json tracelab/console/web/package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund

# ---------------------------------------------------------------- build stage
FROM ${PYTHON_IMAGE} AS build

COPY --from=uv /uv /usr/local/bin/uv

# Byte-compile at install time (faster start), copy instead of hard-linking
# from the cache mount, and never let uv download another interpreter: the
# virtualenv must use the base image's Python, the same one the runtime has.
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv

WORKDIR /src

# Dependencies first, in their own layer: rebuilt only when the lock changes.
COPY pyproject.toml uv.lock README.md ./
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-default-groups --no-install-project

# Then the project itself, installed as a regular (non-editable) package so
# the runtime stage needs the virtualenv only.
COPY services ./services
COPY tracelab ./tracelab
COPY --from=console-assets /web/node_modules /tmp/console-node-modules
RUN python -m tracelab.console.assets --from /tmp/console-node-modules
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-default-groups --no-editable

# -------------------------------------------------------------- runtime stage
FROM ${PYTHON_IMAGE} AS runtime

ARG SERVICE=frontend

RUN groupadd --system --gid 10001 tracelab \
    && useradd --system --uid 10001 --gid tracelab --home-dir /app \
       --no-create-home --shell /usr/sbin/nologin tracelab

COPY --from=build /app/.venv /app/.venv

# BIND_HOST: containers listen on every interface (docs/architecture.md).
# XDG_RUNTIME_DIR: gunicorn puts its control socket there; /tmp is the one
# writable place (an emptyDir in Kubernetes, where the root fs is read-only).
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    BIND_HOST=0.0.0.0 \
    XDG_RUNTIME_DIR=/tmp \
    SERVICE=${SERVICE}

WORKDIR /app
USER 10001:10001

EXPOSE 8080 8081 8082 8083 8084 8090

# Every service answers /readyz; urllib raises (exit 1) on a non-2xx answer.
# PORT is optional: each service has its own default port.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=5 \
    CMD ["python", "-c", "import os, urllib.request; d = dict(frontend=8080, gateway=8081, auth=8082, user=8083, db=8084, console=8090); p = os.environ.get('PORT') or os.environ.get('TRACELAB_CONSOLE_PORT') or d[os.environ['SERVICE']]; urllib.request.urlopen(f'http://127.0.0.1:{p}/readyz', timeout=2)"]

# exec: the service becomes PID 1 and gets SIGTERM directly. SERVICE=console
# runs the lab's console (tracelab/console) instead of a demo service. A demo
# service starts through services.common.launch, as in the local stack: it
# execs `python -m services.$SERVICE`, under opentelemetry-instrument when
# TRACELAB_INSTRUMENTATION=zero-code.
CMD ["/bin/sh", "-c", "if [ \"$SERVICE\" = console ]; then exec python -m tracelab.console; else exec python -m services.common.launch \"${SERVICE}\"; fi"]
