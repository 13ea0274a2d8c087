# Sourced by .ci/run (and usable by hand): a throwaway PostgreSQL cluster on 127.0.0.1 on a free
# port, owned by the postgres user, in a temporary folder. Exports DATABASE_URL.
# fsync is off (a test cluster thrown away at the end) unless PG_FSYNC=on, as the benchmarks set it.
pg_ephemeral_start() {
  PG_BIN=${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)}
  PG_DIR=$(mktemp -d /tmp/car-loans-pg.XXXXXX)
  PG_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
  local run=()
  if [ "$(id -u)" = "0" ]; then
    chown postgres "$PG_DIR"
    run=(runuser -u postgres --)
  fi
  "${run[@]}" "$PG_BIN/initdb" -D "$PG_DIR/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >/dev/null
  "${run[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w \
    -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $PG_DIR -c max_connections=300 -c fsync=${PG_FSYNC:-off}" start >/dev/null
  "${run[@]}" "$PG_BIN/createdb" -h 127.0.0.1 -p "$PG_PORT" -U postgres car_loans
  export PG_BIN PG_DIR PG_PORT
  export DATABASE_URL="postgres://postgres@127.0.0.1:$PG_PORT/car_loans"
}

pg_ephemeral_stop() {
  [ -n "${PG_DIR:-}" ] || return 0
  local run=()
  [ "$(id -u)" = "0" ] && run=(runuser -u postgres --)
  "${run[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast stop >/dev/null 2>&1 || true
  rm -rf "$PG_DIR"
}
