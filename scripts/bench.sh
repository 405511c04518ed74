#!/usr/bin/env bash
# Reproduces the figures of BENCHMARKS.md: the API under load on both backends (100k and 1M
# tickets on PostgreSQL, with the pgbench ceiling), the SLA sweep over 1M open tickets, and the
# status change -> Firestore latency. Takes about 30 minutes on 2 cores after the build.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/cgs-ticketing/target}"
# Without TLS, as the compose deployment reaches its PostgreSQL (which offers none): a server that
# offers TLS (Debian's, even on loopback) is otherwise taken up on it by sqlx and libpq alike.
PG="${PG:-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}"
cargo build -q --release --bin cgs-api --bin cgs-bench
(cd tools/firestore-emulator && [ -d node_modules ] || npm ci --no-audit --no-fund --loglevel=error)
bench="$CARGO_TARGET_DIR/release/cgs-bench"
# The PostgreSQL benchmark databases are named like test databases; each run's is dropped before
# the next, so no 1M-ticket database is left for the server to vacuum under the next figures.
drop_bench_databases() {
  psql "$PG" -Atqc "SELECT datname FROM pg_database WHERE datname LIKE 'cgs\_test\_bench\_%'" |
    while read -r db; do psql "$PG" -qc "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)"; done
}
drop_bench_databases
"$bench" load --tickets 100000 --postgres "$PG"; drop_bench_databases
"$bench" load --tickets 100000
"$bench" load --tickets 1000000 --postgres "$PG"; drop_bench_databases
"$bench" sla-sweep --tickets 1000000 --postgres "$PG"; drop_bench_databases
"$bench" sla-sweep --tickets 1000000
"$bench" firestore-latency --changes 200 --postgres "$PG"; drop_bench_databases
"$bench" firestore-latency --changes 200
"$bench" hostile --postgres "$PG"; drop_bench_databases
"$bench" hostile
"$bench" outage-burst --postgres "$PG"; drop_bench_databases
"$bench" outage-burst
