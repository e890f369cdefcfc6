#!/bin/sh
# Entrypoint of the Bytchat image, shared by the web, worker and beat services.
#
# BYTCHAT_ROLE=web (docker-compose.yml sets it on the web service) applies migrations and
# refreshes the static volume before the server starts. Every other role, and any one-off
# command (`docker compose run --rm web python manage.py ...`), just runs its command.
set -eu

if [ "${BYTCHAT_ROLE:-}" = "web" ]; then
    python manage.py migrate --no-input
    # The static volume outlives the image: copy in what a newer build added or changed.
    python manage.py collectstatic --no-input --verbosity 0
fi

exec "$@"
