#!/usr/bin/env bash
# Builds the binaries of a self-hosted Temporal cluster from their Go modules, once per version:
#   temporal-server and temporal-sql-tool   go.temporal.io/server (cmd/server, cmd/tools/sql)
#   ui-server                               github.com/temporalio/ui-server/v2 (cmd/server)
# The versions are pinned here and in docker-compose.yml's image tags (test/unit/docker-compose.test.ts
# checks they agree). A build lands in a cache outside the work tree, $CAR_LOANS_CACHE (default
# ~/.cache/car-loans), so another clone on the same machine (CI's clean checkout) reuses it; the
# binaries are linked into the git-ignored .tools/temporal-cluster/bin. Binaries whose --version
# does not say the pinned version are rebuilt. Go's own build and module caches stay in their
# default places, so a rebuild after a version bump is incremental. Needs `go` on PATH: the Go
# toolchain of the pinned release comes through the Go module proxy (GOTOOLCHAIN).
#
#   scripts/temporal-cluster-build.sh          build if needed; the last line printed is the bin folder
set -euo pipefail
cd "$(dirname "$0")/.."

TEMPORAL_SERVER_VERSION=1.32.2
TEMPORAL_UI_VERSION=2.49.1
GO_TOOLCHAIN=go1.26.10

CACHE=${CAR_LOANS_CACHE:-$HOME/.cache/car-loans}/temporal-cluster-$TEMPORAL_SERVER_VERSION-ui-$TEMPORAL_UI_VERSION
BIN=.tools/temporal-cluster/bin

say() { printf '%s\n' "$*" >&2; }

has_version() { # binary, expected version string
  [ -x "$1" ] && "$1" --version 2>/dev/null | grep -qF "version $2"
}

built() { # folder
  has_version "$1/temporal-server" "$TEMPORAL_SERVER_VERSION" &&
    has_version "$1/temporal-sql-tool" "$TEMPORAL_SERVER_VERSION" &&
    has_version "$1/ui-server" "$TEMPORAL_UI_VERSION"
}

if built "$BIN"; then
  echo "$(pwd)/$BIN"
  exit 0
fi

if ! built "$CACHE"; then
  # Go's own install location, for shells (and CI) whose PATH lacks it.
  command -v go >/dev/null || PATH="$PATH:/usr/local/go/bin"
  command -v go >/dev/null || { say "go is not on PATH: install Go (https://go.dev/doc/install) to build the Temporal server"; exit 1; }
  started=$(date +%s)
  say "Building Temporal server $TEMPORAL_SERVER_VERSION and UI server $TEMPORAL_UI_VERSION from the Go module proxy into $CACHE (first time only; minutes)..."
  stage=$(mktemp -d "${TMPDIR:-/tmp}/temporal-cluster-build.XXXXXX")
  trap 'rm -rf "$stage"' EXIT
  export GOTOOLCHAIN=$GO_TOOLCHAIN
  GOBIN="$stage/server" go install "go.temporal.io/server/cmd/server@v$TEMPORAL_SERVER_VERSION" "go.temporal.io/server/cmd/tools/sql@v$TEMPORAL_SERVER_VERSION"
  GOBIN="$stage/ui" go install "github.com/temporalio/ui-server/v2/cmd/server@v$TEMPORAL_UI_VERSION"
  mkdir -p "$(dirname "$CACHE")"
  # Into place in one rename, so another clone building at the same time never sees half a folder.
  fresh=$(mktemp -d "$CACHE.tmp.XXXXXX")
  mv "$stage/server/server" "$fresh/temporal-server"
  mv "$stage/server/sql" "$fresh/temporal-sql-tool"
  mv "$stage/ui/server" "$fresh/ui-server"
  chmod 755 "$fresh"
  built "$fresh" || { say "the binaries built in $fresh do not report the pinned versions"; exit 1; }
  if ! built "$CACHE"; then
    rm -rf "$CACHE"
    mv -T "$fresh" "$CACHE" 2>/dev/null || true
  fi
  rm -rf "$fresh"
  built "$CACHE" || { say "$CACHE does not hold the pinned versions"; exit 1; }
  say "Built in $(( $(date +%s) - started )) s."
fi

rm -rf "$BIN"
mkdir -p "$BIN"
for b in temporal-server temporal-sql-tool ui-server; do
  # A hard link when the cache is on the same file system (the UI server is large), else a copy.
  ln -f "$CACHE/$b" "$BIN/$b" 2>/dev/null || cp "$CACHE/$b" "$BIN/$b"
done
echo "$(pwd)/$BIN"
