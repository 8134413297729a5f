#!/bin/sh
# The image's entrypoint. Commands:
#   serve        (default) apply migrations, then exec gunicorn under service/gunicorn_conf.py
#   seed         apply migrations, then load the seed data (compose's one-shot service)
#   deliver      apply migrations, then run the deliverer (webhooks, and JetStream when
#                NATS_URL is set); any number may run beside the web service
#   healthcheck  exit 0 when the service answers GET /healthz on its port (HEALTHCHECK)
#   anything else is run as given (e.g. `flask --app service keys create ...`)
# Every setting comes from the environment (docs/operations.md, "Configuration").
set -eu

command="${1:-serve}"
case "$command" in
  serve)
    # Cursors signed with a development key would be forgeable: refuse to start without one.
    : "${SECRET_KEY:?set SECRET_KEY (the same on every instance), e.g. openssl rand -hex 32}"
    # Migrations take an advisory lock, so several instances may start at once.
    flask --app service migrate
    exec gunicorn --config python:service.gunicorn_conf 'service:create_app()'
    ;;
  deliver)
    flask --app service migrate
    exec flask --app service deliver
    ;;
  seed)
    flask --app service migrate
    exec flask --app service seed
    ;;
  healthcheck)
    port="${BIND##*:}"
    exec python -c "import sys, urllib.request
try:
    urllib.request.urlopen('http://127.0.0.1:${port}/healthz', timeout=3)
except Exception as error:
    sys.exit(f'unhealthy: {error}')"
    ;;
  *)
    exec "$@"
    ;;
esac
