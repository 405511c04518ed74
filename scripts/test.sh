#!/usr/bin/env bash
# Runs the whole test suite: unit tests, and the API tests on SQLite and, when
# CGS_TEST_POSTGRES_URL points at a PostgreSQL server, on PostgreSQL too (each test creates
# and uses its own database there; they are dropped afterwards).
set -euo pipefail
cd "$(dirname "$0")/.."

drop_test_databases() {
  [ -n "${CGS_TEST_POSTGRES_URL:-}" ] || return 0
  psql "$CGS_TEST_POSTGRES_URL" -Atqc \
    "SELECT datname FROM pg_database WHERE datname LIKE 'cgs\_test\_%'" 2>/dev/null |
    while read -r db; do psql "$CGS_TEST_POSTGRES_URL" -qc "DROP DATABASE IF EXISTS \"$db\"" >/dev/null 2>&1 || true; done
}

if [ -z "${CGS_TEST_POSTGRES_URL:-}" ]; then
  echo "note: CGS_TEST_POSTGRES_URL is not set: the PostgreSQL variants of the API tests are SKIPPED" >&2
fi
# The IMAP server the mail intake tests start (each its own Dovecot, on a port of its own).
if ! command -v dovecot >/dev/null && [ ! -x /usr/sbin/dovecot ]; then
  echo "installing Dovecot (dovecot-imapd) for the mail intake tests"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dovecot-imapd) >/dev/null
fi
# The headless browser the CORS test drives a web app on another origin with (Debian's chromium).
if ! command -v chromium >/dev/null; then
  echo "installing Chromium (chromium) for the web app test"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null
fi
# The local peers the tests start, from their lock files: the Firestore emulator
# (tools/firestore-emulator), the SMTP sink and the Telegram Bot API emulator (tools/channel-peers).
for tool in tools/firestore-emulator tools/channel-peers; do
  if [ ! -d "$tool/node_modules" ] || [ "$tool/package-lock.json" -nt "$tool/node_modules" ]; then
    (cd "$tool" && npm ci --no-audit --no-fund --loglevel=error)
  fi
done

# The apps' own clients (tools/app-clients): Google's Firestore client library, which the
# Firestore tests read the documents with.
. scripts/venv.sh
venv_for tools/app-clients "${CGS_APP_CLIENTS_VENV:-$HOME/.cache/cgs-ticketing/app-clients}"
export CGS_APP_CLIENTS_PYTHON="${CGS_APP_CLIENTS_VENV:-$HOME/.cache/cgs-ticketing/app-clients}/bin/python"
# The S3-compatible server the media store's bucket tests start (tools/s3-server: moto's server).
export CGS_S3_SERVER_VENV="${CGS_S3_SERVER_VENV:-$HOME/.cache/cgs-ticketing/s3-server}"
venv_for tools/s3-server "$CGS_S3_SERVER_VENV"

drop_test_databases
trap drop_test_databases EXIT
# nextest runs every test in a process of its own: the Firestore tests rely on it to give each
# its own emulator address.
cargo nextest run --workspace --no-fail-fast "$@"
