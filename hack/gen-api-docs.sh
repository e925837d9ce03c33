#!/usr/bin/env bash
# Writes the API reference from the CRD schemas: one page per kind, docs/reference/<kind>.md
# (every field of spec and status with its type, whether it is required, its default, its
# validation and its description, one table per object), and docs/reference/README.md (the
# index). `hack/gen-api-docs.sh [outdir]` writes into outdir instead (tests/docs/ compares).
#
# Tools: jq (make deps installs it) and the testenv's kubectl (make deps builds it), which turns
# YAML into JSON offline: `kubectl annotate --local -o json` reads a file without a cluster. No
# yq or Python. KUBECTL=<path> uses another kubectl. Every field must have a description (but the
# root metadata, whose schema may hold nothing but its type): fields without one are listed on
# stderr and the script exits 1 (after writing the pages).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=${1:-$root/docs/reference}

# shellcheck source=hack/testenv/versions.sh
. "$root/hack/testenv/versions.sh"
kubectl=${KUBECTL:-$TESTENV_BIN_K8S/kubectl}
for tool in jq "$kubectl"; do
  command -v "$tool" >/dev/null || { echo "gen-api-docs: $tool not found (make deps installs it)" >&2; exit 1; }
done

# The markdown of one CRD (the JSON on stdin); $file is its path for the header.
# shellcheck disable=SC2016 # jq program, not shell
render='
def cell: tostring | gsub("\r?\n"; " ") | gsub("\\|"; "\\|");
def code: tostring | if test("`") then "`` " + . + " ``" else "`" + . + "`" end;
# Description text: outside `code` spans, < > and * would be read as HTML or emphasis.
def prose: tostring | [splits("`")] | to_entries
  | map(if .key % 2 == 0 then .value | gsub("<"; "&lt;") | gsub(">"; "&gt;") | gsub("\\*"; "\\*")
        else .value end)
  | join("`");
def anchor: ascii_downcase | gsub("[^a-z0-9 _-]"; "") | gsub(" "; "-");
def typename:
  if .["x-kubernetes-int-or-string"] then "int-or-string"
  elif .type == "array" then "[]" + ((.items // {}) | typename)
  elif .type == "object" and (.additionalProperties | type) == "object"
    then "map[string]" + (.additionalProperties | typename)
  elif .type == "object" and .["x-kubernetes-preserve-unknown-fields"] and (.properties | not)
    then "object (free-form)"
  elif .format then "\(.type) (\(.format))"
  else .type // "any" end;
def bounds($lo; $hi; $what):
  if $lo != null and $hi != null then "\($what) \($lo) to \($hi)"
  elif $lo != null then "\($what) ≥ \($lo)"
  elif $hi != null then "\($what) ≤ \($hi)"
  else empty end;
# The validation of one schema node, as short phrases.
def own_constraints:
  (if .enum then "one of " + (.enum | map(tojson | code) | join(", ")) else empty end),
  bounds(.minLength; .maxLength; "length"),
  bounds(.minimum; .maximum; "value"),
  bounds(.minItems; .maxItems; "items"),
  bounds(.minProperties; .maxProperties; "entries"),
  (if .pattern then "pattern " + (.pattern | code) else empty end),
  (if .["x-kubernetes-list-type"] == "map"
     then "list keyed by " + (.["x-kubernetes-list-map-keys"] | map(code) | join(", "))
   elif .["x-kubernetes-list-type"] == "set" then "items unique"
   else empty end),
  ((.["x-kubernetes-validations"] // [])[] | "rule: " + ((.message // .rule) | prose));
def constraints:
  own_constraints,
  (if .type == "array" and (.items.properties | not) then (.items // {}) | own_constraints | "each item: " + .
   else empty end),
  (if (.additionalProperties | type) == "object" and (.additionalProperties.properties | not)
     then .additionalProperties | own_constraints | "each value: " + .
   else empty end);
# Every object with fields below (and including) this node, with its dotted path.
def sections($path):
  . as $s
  | (if $s.properties then {path: $path, schema: $s} else empty end),
    (($s.properties // {}) | keys[] as $k
      | $s.properties[$k] | sections(if $path == "" then $k else $path + "." + $k end)),
    (if $s.type == "array" and ($s.items | type) == "object" then $s.items | sections($path + "[]")
     else empty end),
    (if ($s.additionalProperties | type) == "object" then $s.additionalProperties | sections($path + ".<key>")
     else empty end);
# The section that documents the fields of this node, if any.
def target($path):
  if .properties then $path
  elif .type == "array" and .items.properties then $path + "[]"
  elif (.additionalProperties | type) == "object" and .additionalProperties.properties then $path + ".<key>"
  else null end;
def tr($cells): "| " + ($cells | map(cell) | join(" | ")) + " |";
def row($path; $required):
  (target($path)) as $t
  | tr([(if $t then "[" + ($path | code) + "](#" + ($t | anchor) + ")" else $path | code end),
        (typename | code),
        (if $required then "yes" else "" end),
        (if has("default") then .default | tojson | code else "" end),
        ([constraints] | join("<br>")),
        ((.description // (if $path == "metadata" then "Standard object metadata: name, namespace, labels, annotations, ... (`kubectl explain` documents it)." else "" end)) | prose)]);
def table($sec):
  $sec.schema as $s
  | ($s.required // []) as $req
  | ($s.properties | keys) as $ks
  | "| Field | Type | Required | Default | Validation | Description |",
    "|---|---|---|---|---|---|",
    ($ks[] as $k | $s.properties[$k]
      | row(if $sec.path == "" then $k else $sec.path + "." + $k end; ($req | index($k)) != null));

.spec as $crd
| $crd.names.kind as $kind
| "<!-- generated by hack/gen-api-docs.sh from crds/; do not edit -->",
  "# \($kind)",
  "",
  "Generated by `hack/gen-api-docs.sh` from `\($file)`; do not edit: change the CRD and run the script",
  "(`tests/docs/api_reference_test.sh` fails when this page and the CRD differ). How the kind",
  "behaves is in the guides linked from [the index](README.md).",
  "",
  "| | |",
  "|---|---|",
  "| API version | " + ([$crd.versions[] | "\($crd.group)/\(.name)" | code] | join(", ")) + " |",
  "| Scope | \($crd.scope) |",
  "| Plural, singular | `\($crd.names.plural)`, `\($crd.names.singular)` |",
  "| Short names | " + (($crd.names.shortNames // []) | map(code) | join(", ")) + " |",
  "| Categories | " + (($crd.names.categories // []) | map(code) | join(", ")) + " |",
  ($crd.versions[]
   | . as $v
   | .schema.openAPIV3Schema as $root
   | (if ($crd.versions | length) > 1 then "", "## Version `\($v.name)`" else empty end),
     "| Subresources (\($v.name)) | " + (($v.subresources // {}) | keys | map(code) | join(", ")) + " |",
     "",
     ($root.description | prose),
     (if $root["x-kubernetes-validations"] then
        "", "Rules on the whole object:", "",
        ($root["x-kubernetes-validations"][] | "- " + ((.message // .rule) | prose) + " (" + (.rule | code) + ")")
      else empty end),
     (if $v.additionalPrinterColumns then
        "", "## Columns of `kubectl get`", "",
        "`-o wide` adds the columns marked wide.", "",
        "| Column | Type | JSONPath | Shown | Description |",
        "|---|---|---|---|---|",
        ($v.additionalPrinterColumns[]
          | tr([.name, .type, (.jsonPath | code), (if (.priority // 0) > 0 then "wide" else "always" end),
                ((.description // "") | prose)]))
      else empty end),
     "",
     "## Fields",
     "",
     "One table per object, fields in alphabetical order; a field with fields of its own links to",
     "its table (`[]` marks the items of a list). Durations are Go durations (`90s`, `5m`, `1h30m`).",
     ($root | sections("") | . as $sec
       | "",
         "### " + (if $sec.path == "" then "Top level" else $sec.path | code end),
         "",
         (if $sec.path != "" and ($sec.schema.description // "") != "" then ($sec.schema.description | prose), "" else empty end),
         table($sec)))
'

# Fields without a description, one "<kind> <path>" a line (the JSON on stdin).
# shellcheck disable=SC2016
undocumented='
def walk_fields($path):
  . as $s
  | (($s.properties // {}) | keys[] as $k
      | ($s.properties[$k]) as $f
      | (if $path == "" then $k else $path + "." + $k end) as $p
      # The API server forbids anything but type in the root metadata schema, description included.
      | (if (($f.description // "") | length) == 0 and $p != "metadata" then $p else empty end),
        ($f | walk_fields($p))),
    (if ($s.items | type) == "object" then $s.items | walk_fields($path + "[]") else empty end),
    (if ($s.additionalProperties | type) == "object" then $s.additionalProperties | walk_fields($path + ".<key>")
     else empty end);
.spec.names.kind as $kind
| .spec.versions[].schema.openAPIV3Schema
| (if ((.description // "") | length) == 0 then "(the kind itself)" else empty end), walk_fields("")
| "\($kind) \(.)"
'

mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
index=()
: >"$tmp/missing"
shopt -s nullglob
crds=("$root"/crds/*.yaml)
[ ${#crds[@]} -gt 0 ] || { echo "gen-api-docs: no CRDs in $root/crds" >&2; exit 1; }
for crd in "${crds[@]}"; do
  rel=${crd#"$root"/}
  # annotate --local with a removal of an absent annotation changes nothing and needs no cluster.
  "$kubectl" annotate --local -f "$crd" -o json flywheel.dev/gen-api-docs- >"$tmp/crd.json" ||
    { echo "gen-api-docs: $rel: cannot read it as a Kubernetes object" >&2; exit 1; }
  jq -e '.kind == "CustomResourceDefinition"' "$tmp/crd.json" >/dev/null ||
    { echo "gen-api-docs: $rel: not one CustomResourceDefinition" >&2; exit 1; }
  kind=$(jq -r '.spec.names.kind' "$tmp/crd.json")
  page=$(echo "$kind" | tr '[:upper:]' '[:lower:]').md
  jq -r --arg file "$rel" "$render" "$tmp/crd.json" >"$out/$page"
  jq -r "$undocumented" "$tmp/crd.json" >>"$tmp/missing"
  summary=$(jq -r '.spec.versions[0].schema.openAPIV3Schema.description // "" | split(": ")[0] | split(". ")[0]' "$tmp/crd.json")
  index+=("$page | [$kind]($page) | \`$(jq -r '(.spec.names.shortNames // []) | join("`, `")' "$tmp/crd.json")\` | \`$rel\` | ${summary%.}. |")
done

{
  echo "<!-- generated by hack/gen-api-docs.sh from crds/; do not edit -->"
  echo "# API reference"
  echo
  echo "One page per kind, generated by \`hack/gen-api-docs.sh\` from the CRD schemas in \`crds/\`;"
  echo "do not edit: change the CRD's descriptions and run the script (\`tests/docs/api_reference_test.sh\`"
  echo "fails when a page and its CRD differ, or when a field has no description)."
  echo "\`docs/crds.md\` is the hand-written overview with the conventions shared by every"
  echo "kind; \`docs/troubleshooting.md\` explains every condition reason."
  echo
  echo "| Kind | Short names | CRD | What it is |"
  echo "|---|---|---|---|"
  printf '%s\n' "${index[@]}" | LC_ALL=C sort | cut -d' ' -f2-
} >"$out/README.md"

if [ -s "$tmp/missing" ]; then
  echo "gen-api-docs: fields without a description (add one in crds/):" >&2
  cat "$tmp/missing" >&2
  exit 1
fi
