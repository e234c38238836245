#!/usr/bin/env bash
# Plan for one environment in a pull request: plan.json (the saved plan) and plan.md (the comment).
# Exit 0 when the plan was made (changes or not), 1 when it could not be made.
# Usage: run-plan.sh OUTDIR   (the environment comes from PROVISIONER_ENV)
set -uo pipefail
outdir="${1:?usage: run-plan.sh OUTDIR}"
mkdir -p "$outdir"
env_name="${PROVISIONER_ENV:-}"
title="provisioner plan${env_name:+ ($env_name)}"

provisioner --log-format json plan --format markdown --out "$outdir/plan.json" --detailed-exitcode \
  >"$outdir/plan.md"
code=$?
case "$code" in
  0) status=no-changes ;;
  2) status=changes ;;
  *)
    status=error
    {
      echo "### $title failed"
      echo
      echo "The plan could not be made (exit $code); the job's log says why."
    } >"$outdir/plan.md"
    ;;
esac
echo "status=$status" >>"${GITHUB_OUTPUT:-/dev/null}"
echo "plan ${env_name:-(top level)}: $status (exit $code)" >&2
[ "$status" != error ]
