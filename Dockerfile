# Quire: one image for both ECS services (QUIRE_SERVE=api|ai), see README
# "Deploying to AWS". Build: docker build -t quire . (here: `make image`,
# which builds with podman; `make image-test` smoke-tests the result).

# --- builder: dependencies, code and static files ----------------------------
FROM python:3.11-slim-bookworm AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
COPY requirements.txt /tmp/requirements.txt
RUN /opt/venv/bin/pip install --no-cache-dir -r /tmp/requirements.txt
# The runtime installs nothing: no pip or setuptools in its venv. Django's
# translation sources (*.po) are never read at run time, only the *.mo.
RUN /opt/venv/bin/python -m pip uninstall --yes --quiet pip setuptools wheel \
    && find /opt/venv -name '*.po' -delete
WORKDIR /app
# .dockerignore keeps tests, bench, infra, docs and CI files out.
COPY . .
# Hashed, compressed static files for whitenoise, made once at build time.
# The key only satisfies the settings; collectstatic signs nothing with it.
# The vendored bundles' source maps (18 MB; only a browser's developer tools
# ask for them) go after collecting: --ignore would break the hashed
# sourceMappingURL references the manifest storage rewrites.
RUN DJANGO_SETTINGS_MODULE=project.settings.production \
    DJANGO_SECRET_KEY=collectstatic-only-not-used-at-run-time-0123456789abcdef \
    /opt/venv/bin/python manage.py collectstatic --noinput --verbosity 0 \
    && find staticfiles \( -name '*.map' -o -name '*.map.gz' \) -delete

# --- runtime: the venv, the code and the static files; no build tools --------
FROM python:3.11-slim-bookworm AS runtime
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    DJANGO_SETTINGS_MODULE=project.settings.production \
    QUIRE_VAR_DIR=/tmp/quire \
    GUNICORN_HOST=0.0.0.0 \
    PORT=8000 \
    FORWARDED_ALLOW_IPS=* \
    METRICS_ENABLED=true
# WeasyPrint (PDF export, documents/convert.py) draws text with Pango through
# cffi at run time: Pango with its FreeType and HarfBuzz parts, fontconfig,
# and one font family. Debian's current bookworm builds (security updates
# included), so no version pins. apt's lists, caches and the packages' docs
# go in the same layer (84 MB of package caches otherwise).
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz0b libharfbuzz-subset0 \
        libfontconfig1 fonts-dejavu-core \
    && apt-get clean \
    && rm -rf /var/lib/apt/lists/* /var/cache/apt/* /usr/share/doc/* /usr/share/man/*
RUN groupadd --system --gid 10001 quire \
    && useradd --system --uid 10001 --gid quire --home-dir /app --no-create-home quire
WORKDIR /app
COPY --from=builder /opt/venv /opt/venv
COPY --from=builder /app /app
USER 10001:10001
EXPOSE 8000
# Liveness on the address gunicorn binds (GUNICORN_BIND, else
# GUNICORN_HOST:PORT), with a Host from DJANGO_ALLOWED_HOSTS.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-m", "project.healthcheck"]
# gunicorn shuts down gracefully on SIGTERM (in-flight requests finish
# within GUNICORN_GRACEFUL_TIMEOUT, below ECS's stopTimeout).
STOPSIGNAL SIGTERM
# The exact command CI starts (project/tests/test_server.py) and `make run` ends with.
CMD ["gunicorn", "-c", "gunicorn.conf.py"]
