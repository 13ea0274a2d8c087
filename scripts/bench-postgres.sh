#!/usr/bin/env bash
# npm run bench against a throwaway PostgreSQL from Debian's package (fsync on, as in production),
# started on 127.0.0.1 and removed at the end. Arguments go to bench/run.ts:
#   bash scripts/bench-postgres.sh --quick
#   bash scripts/bench-postgres.sh --only open --open 10000
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/postgres-ephemeral.sh
PG_FSYNC=on pg_ephemeral_start
trap pg_ephemeral_stop EXIT
npm run -s bench -- "$@"
