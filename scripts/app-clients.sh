#!/usr/bin/env bash
# The OpenAPI document as app developers meet it, with the tools they use (pinned in tools/):
# Redocly's recommended lint (no error), openapi-python-client generating every schema and
# response without a warning, and the generated client driving a real cgs-api on SQLite and,
# when CGS_TEST_POSTGRES_URL is set, on PostgreSQL (tools/app-clients/drive_api.py).
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/cgs-ticketing/target}"
venv="${CGS_APP_CLIENTS_VENV:-$HOME/.cache/cgs-ticketing/app-clients}"
. scripts/venv.sh
venv_for tools/app-clients "$venv"
if [ ! -d tools/openapi-check/node_modules ] || [ tools/openapi-check/package-lock.json -nt tools/openapi-check/node_modules ]; then
  (cd tools/openapi-check && npm ci --no-audit --no-fund --loglevel=error)
fi

echo "-- Redocly lint (recommended, redocly.yaml)"
tools/openapi-check/node_modules/.bin/redocly lint openapi/openapi.json --format=summary 2>&1 | grep -v '[║╔╚]'

work="$(mktemp -d)"
api=""
pgdb=""
cleanup() {
  if [ -n "$api" ]; then kill "$api" 2>/dev/null || true; wait "$api" 2>/dev/null || true; fi
  if [ -n "$pgdb" ]; then psql "$CGS_TEST_POSTGRES_URL" -qc "DROP DATABASE IF EXISTS $pgdb" >/dev/null 2>&1 || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

echo "-- openapi-python-client (no warning allowed)"
(cd "$work" && "$venv/bin/openapi-python-client" generate --path "$OLDPWD/openapi/openapi.json" --meta none \
  --config "$OLDPWD/tools/app-clients/generator.yaml" --fail-on-warning)

cargo build -q --bin cgs-api
password="generated-client-password"
drive() {
  local name="$1" url="$2"
  local port
  port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  DATABASE_URL="$url" CGS_MEDIA_DIR="$work/media-$name" CGS_LISTEN="127.0.0.1:$port" CGS_RUN_WORKER=true \
    CGS_ADMIN_EMAIL=admin@cgs.test CGS_ADMIN_PASSWORD="$password" \
    RUST_LOG=warn "$CARGO_TARGET_DIR/debug/cgs-api" 2>"$work/api-$name.log" &
  api=$!
  for _ in $(seq 1 100); do
    curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
    sleep 0.1
  done
  echo "-- the generated client against cgs-api on $name"
  PYTHONPATH="$work" "$venv/bin/python" tools/app-clients/drive_api.py "http://127.0.0.1:$port" admin@cgs.test "$password"
  kill "$api"; wait "$api" 2>/dev/null || true; api=""
  if grep -q "panicked\|request failed" "$work/api-$name.log"; then
    echo "cgs-api logged failures on $name:" >&2
    grep "panicked\|request failed" "$work/api-$name.log" | head -20 >&2
    return 1
  fi
}
drive SQLite "sqlite://$work/cgs.db?mode=rwc"
if [ -n "${CGS_TEST_POSTGRES_URL:-}" ]; then
  pgdb="cgs_clients_$(python3 -c 'import uuid; print(uuid.uuid4().hex[:12])')"
  psql "$CGS_TEST_POSTGRES_URL" -qc "CREATE DATABASE $pgdb" >/dev/null
  drive PostgreSQL "${CGS_TEST_POSTGRES_URL%/*}/$pgdb"
else
  echo "note: CGS_TEST_POSTGRES_URL is not set: the generated client ran on SQLite only" >&2
fi
