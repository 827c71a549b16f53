# syntax=docker/dockerfile:1
# Onramp: a two-stage image. The builder installs the pinned dependencies and the package into
# a virtual environment; the runtime copies only that environment, the content and bot.toml.
#
#   docker build -t onramp .
#   docker run --rm -it onramp                # `onramp run` (the console unless configured)
#   docker run --rm onramp check              # any other onramp command

ARG PYTHON_IMAGE=python:3.11-slim

# --- builder ------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS builder

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

WORKDIR /src

# Dependencies first, from the lock file only, so this layer is reused until the lock changes.
COPY requirements.lock ./
RUN pip install -r requirements.lock

# Then the package itself. pyproject.toml names README.md as the package's readme, so the
# build needs it. --no-deps: every dependency is already installed at its pinned version.
COPY pyproject.toml README.md ./
COPY bot/ bot/
COPY flows/ flows/
COPY adapters/ adapters/
COPY storage/ storage/
RUN pip install --no-deps .

# --- runtime ------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime

LABEL org.opencontainers.image.title="onramp" \
      org.opencontainers.image.description="A chat bot that welcomes newcomers to open-source and digital-public-good communities." \
      org.opencontainers.image.licenses="Apache-2.0"

# The bot runs as an unprivileged user that can write only to /app/data.
RUN groupadd --gid 10001 onramp \
 && useradd --uid 10001 --gid 10001 --home-dir /app --no-create-home \
            --shell /usr/sbin/nologin onramp

COPY --from=builder /opt/venv /opt/venv

WORKDIR /app
# Settings and content belong to root: the bot reads them but cannot change them.
COPY bot.toml ./
COPY content/ content/
RUN mkdir -p /app/data && chown onramp:onramp /app/data

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    ONRAMP_WEB__ENABLED=always

# Broken content fails the build instead of the first start.
RUN onramp check

USER onramp

# `docker stop` (and Kubernetes, and systemd) send SIGTERM: the bot stops taking events, lets
# the turns and sends in flight finish, logs `onramp stopped` and exits 0, within
# [runtime] stop_timeout_seconds (8 s: inside `docker stop`'s 10 s before it kills).
STOPSIGNAL SIGTERM

# The web server: webhooks, /healthz, /readyz, /metrics ([web] port). Served even for the
# console (ONRAMP_WEB__ENABLED=always above), so the health check below has something to ask.
EXPOSE 8080

# Alive: /healthz answers. No curl in slim images: python -m bot.healthcheck uses only the
# standard library (exit 0 healthy, 1 not). The start period covers migrations at start-up.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-m", "bot.healthcheck"]
ENTRYPOINT ["onramp"]
CMD ["run"]
