#!/usr/bin/env bash
# Regenerate the expected outputs of the data-driven patch cases with the reference tool.
#
#   tests/regen.sh            rewrite expected.yaml / expected-error.txt of every case
#   tests/regen.sh --check    only report cases whose stored result differs (exit 1 if any)
#   tests/regen.sh [--check] KIND/NAME...   restrict to the named cases (e.g. smp/env-merge-by-name)
#
# Case layout: tests/cases/<kind>/<name>/{target.yaml,patch.yaml[,schema.json]} where <kind> is
#   smp       strategic merge patch: `kubectl kustomize` with `patches: [{path: patch.yaml}]`
#             (plus a `target:` naming the target's kind and name when the patch has no
#             apiVersion, as kustomize cannot match it by id then), and
#             `openapi: {path: schema.json}` when the case has a schema.json
#   json6902  JSON patch: `kubectl kustomize` with a `patches:` entry whose `target:` names the
#             target's kind and name
#   merge     JSON merge patch (RFC 7386): `kubectl patch --local --type merge` (compared
#             semantically by the test, since kubectl's YAML style is not kustomize's)
#   server-smp  strategic merge patch as the API server applies it:
#             `kubectl patch --local --type strategic` (compared semantically too)
# On success stdout goes to expected.yaml (empty when the resource was deleted); on failure
# stderr goes to expected-error.txt, for information only.
set -u
cd "$(dirname "$0")/cases"
CHECK=0
if [ "${1:-}" = "--check" ]; then CHECK=1; shift; fi
KUBECTL="${KUBECTL:-kubectl}"

top_field() { # top-level scalar field of the first document
  awk -v f="$1" '$0 ~ "^"f": " { sub("^"f": *", ""); print; exit }' "$2"
}
metadata_name() {
  awk '/^metadata:/ { m = 1; next } m && /^[^ ]/ { m = 0 } m && /^  name: / { sub(/^  name: */, ""); print; exit }' "$1"
}

run_case() {
  local dir=$1 kind=${1%%/*} work out err rc
  work=$(mktemp -d) out=$(mktemp) err=$(mktemp)
  cp "$dir/target.yaml" "$work/target.yaml"
  cp "$dir/patch.yaml" "$work/patch.yaml"
  case "$kind" in
    smp)
      {
        echo "resources:"; echo "- target.yaml"
        echo "patches:"; echo "- path: patch.yaml"
        if [ -z "$(top_field apiVersion "$dir/patch.yaml")" ]; then
          # A patch without apiVersion cannot be matched by its id: select the target.
          echo "  target:"
          echo "    kind: $(top_field kind "$dir/target.yaml")"
          echo "    name: $(metadata_name "$dir/target.yaml")"
        fi
        if [ -f "$dir/schema.json" ]; then
          cp "$dir/schema.json" "$work/schema.json"
          echo "openapi:"; echo "  path: schema.json"
        fi
      } >"$work/kustomization.yaml"
      (cd "$work" && $KUBECTL kustomize . >"$out" 2>"$err"); rc=$? ;;
    json6902)
      {
        echo "resources:"; echo "- target.yaml"
        echo "patches:"; echo "- path: patch.yaml"
        echo "  target:"
        echo "    kind: $(top_field kind "$dir/target.yaml")"
        echo "    name: $(metadata_name "$dir/target.yaml")"
      } >"$work/kustomization.yaml"
      (cd "$work" && $KUBECTL kustomize . >"$out" 2>"$err"); rc=$? ;;
    merge)
      (cd "$work" && $KUBECTL patch --local -f target.yaml --type merge \
        --patch-file patch.yaml -o yaml >"$out" 2>"$err"); rc=$? ;;
    server-smp)
      (cd "$work" && $KUBECTL patch --local -f target.yaml --type strategic \
        --patch-file patch.yaml -o yaml >"$out" 2>"$err"); rc=$? ;;
    *) echo "unknown case kind in $dir" >&2; rc=2 ;;
  esac
  sed -i -e "s#$work#<WORK>#g" -e 's/^\([EWIF]\)[0-9]\{4\} [0-9:.]* *[0-9]* /\1MMDD hh:mm:ss.uuuuuu PID /' "$err"
  if [ "$CHECK" = 1 ]; then
    if [ $rc -eq 0 ]; then
      cmp -s "$out" "$dir/expected.yaml" || { echo "CHANGED $dir (output)"; changed=1; }
    else
      [ -f "$dir/expected-error.txt" ] && [ ! -f "$dir/expected.yaml" ] || { echo "CHANGED $dir (now fails)"; changed=1; }
    fi
  elif [ $rc -eq 0 ]; then
    cp "$out" "$dir/expected.yaml"; rm -f "$dir/expected-error.txt"
  else
    cp "$err" "$dir/expected-error.txt"; rm -f "$dir/expected.yaml"
  fi
  rm -rf "$work" "$out" "$err"
}

changed=0
if [ $# -gt 0 ]; then cases=("$@"); else cases=(*/*); fi
for c in "${cases[@]}"; do
  [ -f "$c/target.yaml" ] || continue
  run_case "$c"
done
exit $changed
