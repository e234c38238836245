#!/usr/bin/env bash
# The nightly drift check for one environment. Writes drift.md (the issue body) and drift.json
# (for alerting), and sets the step output status=clean|drift|error. Exits 1 only when the check
# failed: an unreachable portal or a rejected token is never "no drift".
# Usage: run-drift.sh OUTDIR   (the environment comes from PROVISIONER_ENV)
set -uo pipefail
outdir="${1:?usage: run-drift.sh OUTDIR}"
mkdir -p "$outdir"

provisioner --log-format json drift --format markdown >"$outdir/drift.md"
code=$?
case "$code" in
  0) status=clean ;;
  2) status=drift ;;
  *) status=error ;;
esac
if [ "$status" != error ]; then
  # The same report as JSON, for whatever alerting reads the artifact; its exit code changes nothing.
  provisioner --quiet drift --format json >"$outdir/drift.json" || true
fi
echo "status=$status" >>"${GITHUB_OUTPUT:-/dev/null}"
if [ "$status" = error ]; then
  echo "::error title=Drift check failed::provisioner drift exited $code; nothing is known about drift until it runs again"
  exit 1
fi
echo "drift ${PROVISIONER_ENV:-(top level)}: $status" >&2
