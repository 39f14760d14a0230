#!/usr/bin/env bash
# Roll an environment back to its last stable release (when the endpoint no
# longer serves it; otherwise nothing changes), or to a named
# release or model version. A thin wrapper around `go run mage.go rollback`,
# which owns all the logic: it reads the release journal in the workspace
# (so it works from a fresh checkout), shows what will change and asks,
# takes the deploy lock, backs the endpoint up, restores the target, waits
# until the endpoint is READY, runs the smoke tests, records the rollback
# and notifies.
#
# Usage:
#   scripts/rollback.sh --env production                      last stable release, if needed
#   scripts/rollback.sh --env production --to-version v1.0.0  a release tag
#   scripts/rollback.sh --env production --to-version 3       a model version number
#   scripts/rollback.sh --env production --to-version v1.0.0 --yes   no question asked
#
# --env takes dev, staging, prod (or development, production); --dry-run
# prints the mage command instead of running it.
# Credentials come from the environment, as for every deploy target
# (DATABRICKS_TOKEN, or OAuth / OIDC; see magefiles/cd/doc.go).
set -euo pipefail

usage() {
  sed -n '10,15p' "$0" | sed 's/^# \{0,1\}//'
}

fail() {
  echo "error: $*" >&2
  usage >&2
  exit 2
}

env=""
to=""
yes=""
dry=""
while [ $# -gt 0 ]; do
  case "$1" in
    --env) [ $# -ge 2 ] || fail "--env needs a value"; env="$2"; shift 2 ;;
    --env=*) env="${1#--env=}"; shift ;;
    --to-version) [ $# -ge 2 ] || fail "--to-version needs a value"; to="$2"; shift 2 ;;
    --to-version=*) to="${1#--to-version=}"; shift ;;
    --yes|-y) yes="-yes"; shift ;;
    --dry-run) dry=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) fail "unknown argument: $1" ;;
  esac
done

case "$env" in
  "") fail "--env is required" ;;
  production|prod) env="prod" ;;
  staging|stage) env="staging" ;;
  development|dev) env="dev" ;;
  *) fail "unknown environment: $env (want dev, staging or prod)" ;;
esac

args=(rollback "$env")
case "$to" in
  "") ;;
  v[0-9]*.[0-9]*.[0-9]*) args+=("-to=$to") ;;
  [1-9]|[1-9][0-9]*)
    [[ "$to" =~ ^[1-9][0-9]*$ ]] || fail "--to-version $to: want a release tag (v1.0.0) or a model version number (3)"
    args+=("-version=$to") ;;
  *) fail "--to-version $to: want a release tag (v1.0.0) or a model version number (3)" ;;
esac
[ -n "$yes" ] && args+=("$yes")

if [ -n "$dry" ]; then
  echo "go run mage.go ${args[*]}"
  exit 0
fi
cd "$(dirname "$0")/.."
# go.mod needs Go 1.27.3; a machine whose own Go is older ignores go.mod's
# version unless the toolchain is named (the go command then fetches it).
export GOTOOLCHAIN="${GOTOOLCHAIN:-go1.27.3}"
exec go run mage.go "${args[@]}"
