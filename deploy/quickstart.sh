#!/bin/sh
# NamoID production quickstart: the README's "Production quickstart" runs exactly these commands
# (tests/e2e/test_quickstart.py replays them against a scratch database).
#
#   deploy/quickstart.sh setup       once: PostgreSQL roles and database, settings file, migrate,
#                                    keyring, certificate check
#   deploy/quickstart.sh serve       on each node (or systemd: deploy/namoid-node.service)
#   deploy/quickstart.sh worker      on one or two machines (or deploy/namoid-worker.service)
#   deploy/quickstart.sh check       /healthz and /readyz of BASE_URL
#   deploy/quickstart.sh first-org   the first organization, its client and first user
#                                    (the user's password on standard input)
#
# Every variable below may be set in the environment instead of edited here.
set -eu

: "${NAMOID:=namoid}"                                      # the namoid command
: "${PG_ADMIN_URL:=postgresql://postgres@127.0.0.1:5432/postgres}"  # a PostgreSQL superuser (setup only)
: "${PG_HOST:=127.0.0.1}"                                  # PostgreSQL as the nodes reach it
: "${PG_PORT:=5432}"
: "${DB_NAME:=namoid}"
: "${OWNER_ROLE:=namoid_owner}"                            # owns the schema, runs migrations
: "${APP_ROLE:=namoid_app}"                                # what the nodes connect as (RLS applies)
: "${OWNER_PASSWORD:=}"                                    # setup: required
: "${APP_PASSWORD:=}"                                      # setup: required
: "${REDIS_URL:=redis://127.0.0.1:6379/0}"
: "${BASE_URL:=https://id.example.com:8443}"               # the public origin; nodes listen on its port
: "${CONFIG_DIR:=/etc/namoid}"                             # settings, keyring, TLS (root-only)
: "${TLS_CERT:=$CONFIG_DIR/tls/cert.pem}"                  # certificate chain for BASE_URL's host
: "${TLS_KEY:=$CONFIG_DIR/tls/key.pem}"
: "${SELF_SIGNED:=0}"                                      # 1: make a self-signed certificate (trials only)
: "${ORG:=acme}"                                           # first-org: organization slug
: "${CLIENT_REDIRECT_URI:=https://app.example.com/callback}"
: "${FIRST_USER_EMAIL:=admin@example.com}"

ENV_FILE="$CONFIG_DIR/namoid.env"
HOST=$(printf '%s\n' "$BASE_URL" | sed -e 's#^https://##' -e 's#[:/].*$##')

load_settings() {
    set -a
    . "$ENV_FILE"
    set +a
}

setup() {
    [ -n "$OWNER_PASSWORD" ] && [ -n "$APP_PASSWORD" ] || { echo "set OWNER_PASSWORD and APP_PASSWORD" >&2; exit 2; }
    umask 077
    mkdir -p "$CONFIG_DIR/tls"

    # 1. PostgreSQL: the owner role (migrations, retention, backups: BYPASSRLS, since row-level
    #    security is forced on the owner too and pg_dump must read every organization), and the
    #    nodes' login role (no superuser, no BYPASSRLS: NamoID refuses to start otherwise).
    psql "$PG_ADMIN_URL" -v ON_ERROR_STOP=1 -q \
        -v owner="$OWNER_ROLE" -v owner_password="$OWNER_PASSWORD" \
        -v app="$APP_ROLE" -v app_password="$APP_PASSWORD" -v db="$DB_NAME" <<'SQL'
CREATE ROLE :"owner" LOGIN PASSWORD :'owner_password' BYPASSRLS;
CREATE ROLE :"app" LOGIN PASSWORD :'app_password' NOSUPERUSER NOBYPASSRLS;
CREATE DATABASE :"db" OWNER :"owner";
SQL

    # 2. The settings every node and worker reads (mode 0600: it holds the database passwords).
    cat > "$ENV_FILE" <<ENV
NAMOID_BASE_URL=$BASE_URL
NAMOID_DATABASE_URL=postgresql+asyncpg://$APP_ROLE:$APP_PASSWORD@$PG_HOST:$PG_PORT/$DB_NAME
NAMOID_MIGRATION_DATABASE_URL=postgresql+asyncpg://$OWNER_ROLE:$OWNER_PASSWORD@$PG_HOST:$PG_PORT/$DB_NAME
NAMOID_DATABASE_APP_ROLE=$APP_ROLE
NAMOID_REDIS_URL=$REDIS_URL
NAMOID_KEYRING_FILE=$CONFIG_DIR/keyring.json
NAMOID_TLS_CERT_FILE=$TLS_CERT
NAMOID_TLS_KEY_FILE=$TLS_KEY
ENV
    load_settings

    # 3. The schema (as the owner), then the keyring (prints what to back up).
    "$NAMOID" migrate
    "$NAMOID" keys init

    # 4. The certificate for BASE_URL's host: your CA's (or ACME client's), or a trial one.
    if [ "$SELF_SIGNED" = 1 ] && [ ! -f "$TLS_CERT" ]; then
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 90 \
            -subj "/CN=$HOST" -addext "subjectAltName=DNS:$HOST" \
            -keyout "$TLS_KEY" -out "$TLS_CERT" 2>/dev/null
    fi
    [ -f "$TLS_CERT" ] && [ -f "$TLS_KEY" ] || { echo "put the certificate at $TLS_CERT and its key at $TLS_KEY" >&2; exit 2; }
    echo "setup done: copy $CONFIG_DIR to every node and worker (root-only), then start them"
}

curl_tls() {
    if [ "$SELF_SIGNED" = 1 ]; then curl -fsS --cacert "$TLS_CERT" "$@"; else curl -fsS "$@"; fi
}

case "${1:-}" in
    setup) setup ;;
    serve) load_settings; exec "$NAMOID" serve ;;
    worker) load_settings; exec "$NAMOID" worker ;;
    check)
        curl_tls "$BASE_URL/healthz"; echo
        curl_tls "$BASE_URL/readyz"; echo ;;
    first-org)
        load_settings
        "$NAMOID" org create "$ORG"
        "$NAMOID" client create --org "$ORG" --name "$ORG app" --type confidential \
            --redirect-uri "$CLIENT_REDIRECT_URI" --scope openid --scope profile --scope email --json
        "$NAMOID" user create --org "$ORG" --email "$FIRST_USER_EMAIL" --password-stdin ;;
    *) echo "usage: $0 setup|serve|worker|check|first-org" >&2; exit 2 ;;
esac
