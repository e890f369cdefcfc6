# One image for the web (ASGI), worker and beat services of docker-compose.yml.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_SETTINGS_MODULE=bytchat.settings \
    STATIC_ROOT=/app/staticfiles \
    MEDIA_ROOT=/app/media

RUN groupadd --system --gid 10001 bytchat \
    && useradd --system --uid 10001 --gid bytchat --home-dir /app --shell /usr/sbin/nologin bytchat

WORKDIR /app

# Requirements before the code, so that this layer is rebuilt only when they change.
# Every requirement ships a wheel for Python 3.11, so the slim image needs no compiler.
COPY requirements.txt .
RUN pip install -r requirements.txt

# The code stays owned by root (the app cannot rewrite itself); the app user owns only
# the directories it writes: static files, uploaded documents, beat's schedule.
COPY . .
# Settings refuse to load with DEBUG off and no SECRET_KEY; collectstatic needs neither a
# database nor a real key, so this step alone gets a throwaway one that is not kept.
RUN SECRET_KEY=collectstatic-at-build-time-only-not-a-secret DEBUG=false \
        python manage.py collectstatic --no-input --verbosity 0 \
    && mkdir -p /app/media /app/celerybeat \
    && chown -R bytchat:bytchat /app/staticfiles /app/media /app/celerybeat

USER bytchat
EXPOSE 8000

ENTRYPOINT ["/bin/sh", "/app/docker/entrypoint.sh"]
CMD ["uvicorn", "bytchat.asgi:application", "--host", "0.0.0.0", "--port", "8000", "--lifespan", "off", "--no-proxy-headers"]
