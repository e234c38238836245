#!/usr/bin/env bash
# After a merge: fetch the plan the pull request's plan workflow saved for one environment.
# Prints the path of plan.json and sets saved=true, or sets saved=false (then the caller plans
# again). Needs GH_TOKEN with actions:read and pull-requests:read.
# Usage: fetch-saved-plan.sh ENVIRONMENT OUTDIR
set -uo pipefail
env_name="${1:?usage: fetch-saved-plan.sh ENVIRONMENT OUTDIR}"
outdir="${2:?usage: fetch-saved-plan.sh ENVIRONMENT OUTDIR}"
repo="${GITHUB_REPOSITORY:?}"
sha="${GITHUB_SHA:?}"

none() {
  echo "No saved plan for $env_name: $1; planning again." >&2
  echo "saved=false" >>"${GITHUB_OUTPUT:-/dev/null}"
  exit 0
}

head_sha=$(gh api "repos/$repo/commits/$sha/pulls" --jq '.[0].head.sha // empty' 2>/dev/null) || none "no pull request found"
[ -n "$head_sha" ] || none "commit $sha came from no pull request"
run_id=$(gh run list --repo "$repo" --workflow provisioner-plan.yml --commit "$head_sha" --status success \
  --limit 1 --json databaseId --jq '.[0].databaseId // empty' 2>/dev/null) || none "could not list plan runs"
[ -n "$run_id" ] || none "no successful plan run for $head_sha"
mkdir -p "$outdir"
gh run download "$run_id" --repo "$repo" --name "provisioner-plan-$env_name" --dir "$outdir" >/dev/null 2>&1 \
  || none "run $run_id has no artifact provisioner-plan-$env_name"
[ -s "$outdir/plan.json" ] || none "the artifact of run $run_id holds no plan.json"
echo "Saved plan of run $run_id (pull request head $head_sha) for $env_name." >&2
echo "saved=true" >>"${GITHUB_OUTPUT:-/dev/null}"
echo "$outdir/plan.json"
