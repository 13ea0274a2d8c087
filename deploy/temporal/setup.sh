#!/bin/sh
# Prepares this deployment's Temporal cluster with the tools of temporalio/admin-tools
# (temporal-sql-tool and the temporal CLI, found on PATH), from the variables server.yaml reads.
# docker compose runs it in that image; scripts/topology.sh runs it with the same release's tools
# built on the host. Both steps are idempotent: run them at every start.
#
#   setup.sh schema      create the databases DBNAME (temporal) and VISIBILITY_DBNAME
#                        (temporal_visibility) on POSTGRES_SEEDS:DB_PORT when missing, then bring
#                        both schemas to the tool's release (after a server upgrade, the same
#                        command upgrades them: run it with the new release's tool before the server)
#   setup.sh namespace   wait for the frontend at TEMPORAL_ADDRESS, then register TEMPORAL_NAMESPACE
#                        (default "default") with NAMESPACE_RETENTION when it is missing
#
# The loan search attributes are not registered here: the workers register them through the
# operator API at start (src/temporal/connection.ts), as they do on any cluster.
set -eu

sql_tool() {
  temporal-sql-tool --plugin postgres12 --ep "$POSTGRES_SEEDS" -p "${DB_PORT:-5432}" -u "$POSTGRES_USER" --pw "${POSTGRES_PWD:-}" "$@"
}

schema() {
  : "${POSTGRES_SEEDS:?set POSTGRES_SEEDS to the PostgreSQL host}"
  : "${POSTGRES_USER:?set POSTGRES_USER}"
  DBNAME=${DBNAME:-temporal}
  VISIBILITY_DBNAME=${VISIBILITY_DBNAME:-temporal_visibility}
  for pair in "$DBNAME:temporal" "$VISIBILITY_DBNAME:visibility"; do
    db=${pair%%:*}
    name=${pair#*:}
    # Fails when the database exists; a real failure to reach PostgreSQL fails the next command.
    sql_tool --db "$db" create-database >/dev/null 2>&1 || true
    sql_tool --db "$db" setup-schema -v 0.0
    sql_tool --db "$db" update-schema --schema-name "postgresql/v12/$name"
  done
}

namespace() {
  : "${TEMPORAL_ADDRESS:?set TEMPORAL_ADDRESS to the frontend (host:port)}"
  ns=${TEMPORAL_NAMESPACE:-default}
  tries=0
  until temporal operator cluster health --address "$TEMPORAL_ADDRESS" >/dev/null 2>&1; do
    tries=$((tries + 1))
    if [ "$tries" -ge 150 ]; then
      echo "the Temporal frontend at $TEMPORAL_ADDRESS did not answer within 5 minutes" >&2
      exit 1
    fi
    sleep 2
  done
  if temporal operator namespace describe --address "$TEMPORAL_ADDRESS" --namespace "$ns" >/dev/null 2>&1; then
    echo "namespace $ns is registered"
  # Closed runs are kept NAMESPACE_RETENTION (30 days) before the server deletes their history.
  elif ! temporal operator namespace create --address "$TEMPORAL_ADDRESS" --namespace "$ns" --retention "${NAMESPACE_RETENTION:-720h}"; then
    # Another setup may have created it meanwhile: only a namespace that still cannot be described fails.
    temporal operator namespace describe --address "$TEMPORAL_ADDRESS" --namespace "$ns" >/dev/null
  fi
  # A new namespace reaches the frontend's namespace cache seconds later: wait until it is served,
  # so that the workers started next find it.
  tries=0
  until temporal operator search-attribute list --address "$TEMPORAL_ADDRESS" --namespace "$ns" >/dev/null 2>&1; do
    tries=$((tries + 1))
    if [ "$tries" -ge 60 ]; then
      echo "namespace $ns was not served within 2 minutes" >&2
      exit 1
    fi
    sleep 2
  done
}

case "${1:-}" in
  schema) schema ;;
  namespace) namespace ;;
  *)
    echo "usage: $0 schema|namespace" >&2
    exit 2
    ;;
esac
