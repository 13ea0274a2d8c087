#!/usr/bin/env bash
# Keeps every core busy for a bounded time, to see the test suite pass on a loaded machine.
#
#   bash scripts/busy.sh [--seconds N] [--workers W]              load for N seconds, then stop
#   bash scripts/busy.sh [--seconds N] [--workers W] -- npm test  load while the command runs
#
# With a command, the load starts first, lasts until the command ends (or N seconds, whichever
# comes first) and the script exits with the command's status. Defaults: N = 3600, W = the number
# of cores. The load is `stress-ng --cpu W` (installed from Debian when missing and we are root),
# else one plain busy loop per worker. Every load process is stopped on exit, Ctrl-C included.
set -euo pipefail

seconds=3600
workers=$(nproc)
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds="$2"; shift 2 ;;
    --workers) workers="$2"; shift 2 ;;
    --) shift; break ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) echo "busy.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
case "$seconds$workers" in *[!0-9]*) echo "busy.sh: --seconds and --workers take whole numbers" >&2; exit 2 ;; esac

if ! command -v stress-ng >/dev/null && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "busy.sh: installing stress-ng from Debian" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq stress-ng >/dev/null 2>&1 ||
    { apt-get update -qq >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq stress-ng >/dev/null 2>&1; } || true
fi

load_pids=()
stop_load() {
  for pid in "${load_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${load_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  load_pids=()
}
trap stop_load EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if command -v stress-ng >/dev/null; then
  stress-ng --cpu "$workers" --cpu-method all --timeout "${seconds}s" --quiet &
  load_pids+=($!)
  echo "busy.sh: stress-ng --cpu $workers for at most ${seconds} s" >&2
else
  for _ in $(seq "$workers"); do
    timeout "${seconds}s" bash -c 'while :; do :; done' &
    load_pids+=($!)
  done
  echo "busy.sh: $workers busy loops for at most ${seconds} s (no stress-ng)" >&2
fi

if [ $# -eq 0 ]; then
  for pid in "${load_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  exit 0
fi

started=$(date +%s)
status=0
"$@" || status=$?
echo "busy.sh: '$*' exited $status after $(( $(date +%s) - started )) s under load" >&2
exit "$status"
