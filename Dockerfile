# Quire: one image for both ECS services (QUIRE_SERVE=api|ai), see README
# "Deploying to AWS". Build: docker build -t quire .

# --- builder: dependencies from the pinned requirements into a venv ---------
FROM python:3.11-slim-bookworm AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
COPY requirements.txt /tmp/requirements.txt
RUN /opt/venv/bin/pip install --no-cache-dir -r /tmp/requirements.txt

# --- runtime -----------------------------------------------------------------
FROM python:3.11-slim-bookworm AS runtime
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    DJANGO_SETTINGS_MODULE=project.settings.production \
    QUIRE_VAR_DIR=/tmp/quire \
    PORT=8000 \
    GUNICORN_BIND=0.0.0.0:8000 \
    FORWARDED_ALLOW_IPS=* \
    METRICS_ENABLED=true
RUN groupadd --system --gid 10001 quire \
    && useradd --system --uid 10001 --gid quire --home-dir /app --no-create-home quire
WORKDIR /app
COPY --from=builder /opt/venv /opt/venv
COPY manage.py gunicorn.conf.py ./
COPY project ./project
COPY accounts ./accounts
COPY documents ./documents
COPY attachments ./attachments
COPY aiproxy ./aiproxy
# Hashed, compressed static files for whitenoise, made once at build time.
# The key only satisfies the settings; collectstatic signs nothing with it.
RUN DJANGO_SECRET_KEY=collectstatic-only-not-used-at-run-time-0123456789abcdef \
    python manage.py collectstatic --noinput --verbosity 0
USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]
# gunicorn shuts down gracefully on SIGTERM (in-flight requests finish
# within GUNICORN_GRACEFUL_TIMEOUT, below ECS's stopTimeout).
STOPSIGNAL SIGTERM
# The exact command CI starts (project/tests/test_server.py) and `make run` ends with.
CMD ["gunicorn", "-c", "gunicorn.conf.py"]
