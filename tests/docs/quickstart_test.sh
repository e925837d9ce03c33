#!/usr/bin/env bash
# docs/quickstart.md's YAML works, offline: every yaml block parses; the overlay renders with the
# testenv's kubectl over manifests/ and sets the operator's image it promises; every field of the
# Pipeline, Release and RollbackPolicy exists in its CRD's schema (crds/), with every required
# field, enum value and type right. (The server-side dry run against a testenv was done by hand:
# docs/quickstart.md says so.) Real jq and kubectl (make deps); a missing program is a failure.
# Registered with ctest (label unit).
# shellcheck source=tests/support/script_common.sh
. "$(dirname "${BASH_SOURCE[0]}")/../support/script_common.sh"
doc=docs/quickstart.md
require jq "$kubectl"

echo "== the yaml blocks of $doc"
awk -v dir="$tmp" '/^```yaml$/ { n++; f = dir "/block" n ".yaml"; next } /^```$/ { f = ""; next }
  f { print > f }' "$doc"
blocks=("$tmp"/block*.yaml)
[ -e "${blocks[0]}" ] || { echo "FAIL: no yaml block in $doc" >&2; exit 1; }
: >"$tmp/objects.json"
for b in "${blocks[@]}"; do
  to_json "$b" >>"$tmp/objects.json" || fail "$doc: a yaml block does not parse: $(head -3 "$b")"
done
echo "$(wc -l <"$tmp/objects.json") objects"

echo "== the overlay renders over manifests/ with the image it names"
overlay=$(jq -c 'select(.kind == "Kustomization")' "$tmp/objects.json")
[ -n "$overlay" ] || fail "$doc: no Kustomization overlay"
mkdir -p "$tmp/work/flywheel-install"
ln -s "$root" "$tmp/work/flywheel"  # the overlay's ../flywheel/manifests
echo "$overlay" >"$tmp/work/flywheel-install/kustomization.yaml"  # JSON is YAML
want=$(echo "$overlay" | jq -r '.images[0] | "\(.newName):\(.newTag)"')
if "$kubectl" kustomize "$tmp/work/flywheel-install" >"$tmp/rendered.yaml"; then
  got=$(to_json "$tmp/rendered.yaml" | jq -r 'select(.kind == "Deployment") | .spec.template.spec.containers[0].image')
  [ "$got" = "$want" ] || fail "the overlay renders the operator's image as '$got', not '$want'"
else
  fail "kubectl kustomize of the overlay failed"
fi

echo "== the Flywheel objects match their CRD schemas"
for crd in crds/*.yaml; do to_json "$crd"; done | jq -s 'map({key: .spec.names.kind, value: .}) | from_entries' >"$tmp/crds.json"
# shellcheck disable=SC2016 # jq program
jq -r --slurpfile crds "$tmp/crds.json" '
  def check($s; $p):
    if $s["x-kubernetes-preserve-unknown-fields"] and ($s.properties | not) then empty
    elif type == "object" then
      (if $s.type != "object" then "\($p): an object where the schema has \($s.type)" else empty end),
      (($s.required // [])[] as $r | select(has($r) | not) | "\($p): required field \($r) is missing"),
      (to_entries[] | .key as $k
        | if $p == "" and ($k == "apiVersion" or $k == "kind" or $k == "metadata") then empty
          elif $s.properties[$k] then .value | check($s.properties[$k]; "\($p).\($k)")
          elif ($s.additionalProperties | type) == "object" then .value | check($s.additionalProperties; "\($p).\($k)")
          else "\($p).\($k): no such field" end)
    elif type == "array" then
      (if $s.type != "array" then "\($p): a list where the schema has \($s.type)" else empty end),
      (to_entries[] | .key as $i | .value | check($s.items; "\($p)[\($i)]"))
    else
      (if $s.enum and ((. as $v | $s.enum | index([$v])) | not) then "\($p): \(tojson) is not one of \($s.enum)" else empty end),
      (if ($s.type == "string" and type != "string") or ($s.type == "boolean" and type != "boolean")
          or (($s.type == "integer" or $s.type == "number") and type != "number")
        then "\($p): \(tojson) is not a \($s.type)" else empty end)
    end;
  select(.apiVersion | startswith("flywheel.dev/"))
  | . as $o
  | ($crds[0][$o.kind] // null) as $crd
  | if $crd == null then "\($o.kind): no CRD in crds/"
    else ($crd.spec.versions[] | select("flywheel.dev/\(.name)" == $o.apiVersion) | .schema.openAPIV3Schema) as $s
      | $o | check($s; "") | "\($o.kind)/\($o.metadata.name) " + .
    end' "$tmp/objects.json" >"$tmp/problems"
kinds=$(jq -r 'select(.apiVersion | startswith("flywheel.dev/")) | .kind' "$tmp/objects.json" | sort | tr '\n' ' ')
[ "$kinds" = "Pipeline Release RollbackPolicy " ] || fail "$doc: expected a Pipeline, a Release and a RollbackPolicy, found: $kinds"
[ ! -s "$tmp/problems" ] || fail "$doc: objects that do not match their CRD: $(cat "$tmp/problems")"

finish
