#!/usr/bin/env bash
# Fuzzes the operations API from its own OpenAPI document with schemathesis (issue 8): the whole
# system (`npm start`) on free ports of 127.0.0.1 in a temporary DATA_DIR, then one `st run` per
# staff role with that role's development token. Checks: no 5xx (not_a_server_error) and every
# answer matching the document (status code, content type, headers, body schema). Bounded by
# FUZZ_MAX_EXAMPLES per operation and FUZZ_MAX_TIME seconds per role; everything it started is
# stopped on exit. Uses DATABASE_URL when set (CI), else the embedded PGlite.
#
#   scripts/fuzz-api.sh                  # every role, two at a time
#   FUZZ_ROLES=officer scripts/fuzz-api.sh
#   FUZZ_LANES=1 scripts/fuzz-api.sh     # one role at a time
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

ST_VERSION=4.32.5
VENV=.tools/schemathesis
ROLES=${FUZZ_ROLES:-officer verifier approver supervisor finance collections admin}
MAX_EXAMPLES=${FUZZ_MAX_EXAMPLES:-30}
MAX_TIME=${FUZZ_MAX_TIME:-45}
SEED=${FUZZ_SEED:-20261122}

# Every package pinned (scripts/fuzz-requirements.txt): a new release of hypothesis under schemathesis
# must not change what CI runs between two submissions. The venv is rebuilt when the pins change.
REQS=scripts/fuzz-requirements.txt
if ! cmp -s "$REQS" "$VENV/.requirements" || ! "$VENV/bin/st" --version 2>/dev/null | grep -q "$ST_VERSION"; then
  echo "installing schemathesis==$ST_VERSION and its pinned dependencies into $VENV"
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check --progress-bar off -r "$REQS"
  cp "$REQS" "$VENV/.requirements"
fi

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
WORK=$(mktemp -d /tmp/car-loans-fuzz.XXXXXX)
export DATA_DIR="$WORK/data" PORT=$(free_port) TEMPORAL_DEV_PORT=$(free_port) TEMPORAL_UI_PORT=$(free_port) SANDBOX_PORT=$(free_port)
export WORKER_METRICS_PORT=0 LOG_LEVEL=${FUZZ_LOG_LEVEL:-warn} HOST=127.0.0.1
API="http://127.0.0.1:$PORT"

# The system in its own process group, so one kill stops npm, tsx, node and the Temporal dev server.
setsid npm start >"$WORK/system.log" 2>&1 &
SYSTEM=$!
stop() {
  kill -TERM -- "-$SYSTEM" 2>/dev/null || true
  for _ in $(seq 1 40); do kill -0 "$SYSTEM" 2>/dev/null || break; sleep 0.5; done
  kill -KILL -- "-$SYSTEM" 2>/dev/null || true
  rm -rf "$WORK"
}
trap stop EXIT

for i in $(seq 1 240); do
  if curl -fsS "$API/readyz" >/dev/null 2>&1; then break; fi
  if ! kill -0 "$SYSTEM" 2>/dev/null; then echo "the system did not start:"; tail -50 "$WORK/system.log"; exit 1; fi
  if [ "$i" = 240 ]; then echo "the system was not ready in 120 s:"; tail -50 "$WORK/system.log"; exit 1; fi
  sleep 0.5
done
echo "system ready at $API"

# One `st run` per role, in FUZZ_LANES lanes side by side (default 2: the roles share nothing but the
# system under test, and one schemathesis worker leaves a core idle while it waits on the API). Each
# role's output is kept in its own file and printed whole, in role order, once every lane is done.
fuzz_role() {
  local role=$1 token
  # Called as an `if` condition, where set -e does not apply: every failure returns explicitly.
  token=$(npx --no-install tsx src/cli/token.ts --sub "fuzz-$role" --roles "$role") || return 1
  mkdir -p "$WORK/st-$role" || return 1
  # The e-signature webhook is authenticated by an HMAC the fuzzer cannot make: only its refusals are fuzzed.
  # No "examples" phase: schemathesis 4.32.5 cannot complete the documents example into a request
  # (a schema error of its own); the coverage, fuzzing and stateful phases generate from the schemas.
  # Run from a temporary folder of the role's own: schemathesis keeps its example database in the
  # working directory.
  # One worker per run: with two threads, hypothesis describing its lambdas hits a CPython 3.11 race in
  # the ast module ("AST constructor recursion depth mismatch"), reported as an error of the operation
  # under test (a CI run failed on POST /loans/{id}/refunds that way). Lanes are separate processes.
  (cd "$WORK/st-$role" && "$ROOT/$VENV/bin/st" run "$API/openapi.json" \
    --header "Authorization: Bearer $token" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance \
    --phases coverage,fuzzing,stateful \
    --max-examples "$MAX_EXAMPLES" --max-time "$MAX_TIME" --seed "$SEED" \
    --request-timeout 30 --workers 1 --warnings off \
    --suppress-health-check all)
}

LANES=${FUZZ_LANES:-2}
case "$LANES" in ''|*[!0-9]*|0) echo "FUZZ_LANES must be a whole number of at least 1" >&2; exit 2 ;; esac
read -r -a role_list <<<"$ROLES"
lane_pids=()
for ((lane = 0; lane < LANES; lane++)); do
  (
    for ((i = lane; i < ${#role_list[@]}; i += LANES)); do
      role=${role_list[$i]}
      if fuzz_role "$role" >"$WORK/st-$role.log" 2>&1; then echo 0 >"$WORK/st-$role.status"; else echo 1 >"$WORK/st-$role.status"; fi
      echo "schemathesis as $role: $( [ "$(cat "$WORK/st-$role.status")" = 0 ] && echo passed || echo FAILED )"
    done
  ) &
  lane_pids+=($!)
done
for pid in "${lane_pids[@]}"; do wait "$pid" || true; done

status=0
for role in "${role_list[@]}"; do
  echo "== schemathesis as $role"
  cat "$WORK/st-$role.log" 2>/dev/null || true
  [ "$(cat "$WORK/st-$role.status" 2>/dev/null || echo 1)" = 0 ] || status=1
done
if [ "$status" != 0 ]; then
  echo "schemathesis found failures; the system's log (warnings and errors):"
  grep -E '"level":(40|50|60)' "$WORK/system.log" | tail -40 || true
fi
exit "$status"
