# Both stages must use the same image: the venv's interpreter is a symlink into the base image.
ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS builder

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

WORKDIR /src
COPY pyproject.toml README.md ./
COPY app/ app/
# Non-editable, so the venv holds the package itself and not a link back to /src.
RUN pip install .

# The .mo files are build output (git-ignored, kept out of the context), so they are compiled here.
COPY locales/ locales/
RUN pybabel compile --domain messages --directory locales


FROM ${PYTHON_IMAGE}

# Installed non-editable, config.py's ROOT is site-packages, so the built-in defaults for the
# content, the catalogs and the SQLite file would point there: they are set explicitly instead.
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PATH=/opt/venv/bin:$PATH \
    DATABASE_URL=sqlite:////data/migrantinfo.db \
    QUEUE_PATH=/data/queue.db \
    CONTENT_DIR=/app/content \
    LOCALES_DIR=/app/locales \
    BOT_DIR=/app/bot \
    INBOX_DIR=/data/inbox \
    CONTENT_SNAPSHOT_DIR=/data/content-last-good \
    ENGINE_CACHE_DIR=/data/engine-cache \
    HOST=0.0.0.0

# A fixed uid keeps the ownership of /data predictable across rebuilds and hosts.
RUN groupadd --gid 10001 app \
 && useradd --uid 10001 --gid 10001 --no-log-init --no-create-home --home-dir /app \
        --shell /usr/sbin/nologin app \
 && mkdir /data \
 && chown 10001:10001 /data

WORKDIR /app
COPY --from=builder /opt/venv /opt/venv
COPY content/ content/
# The training data of the embedded engine (and of Rasa): without it the app refuses to start.
COPY bot/ bot/
COPY --from=builder /src/locales/ locales/

USER 10001:10001
# Declared after the chown: a new named volume is seeded with /data's ownership, so SQLite can write.
VOLUME ["/data"]
EXPOSE 8000

# No curl in the slim image. /readyz answers 503 until the database and the knowledge base are ready,
# and urlopen raises on any status of 400 or above, so the check fails then.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=4)"]

# No separate `migrantinfo db upgrade`: the app applies the migrations in its lifespan before serving.
# Host and port are given here, not left to HOST/PORT, so an env file made for local runs
# cannot move the server away from the exposed and health-checked port.
CMD ["migrantinfo", "serve", "--host", "0.0.0.0", "--port", "8000"]
