#!/usr/bin/env bash
# The API reference (docs/reference/, written by hack/gen-api-docs.sh from crds/) never drifts:
# it is generated again into a temporary folder and must equal what is committed; the generator
# fails when a CRD field has no description (it lists them). Every link of the pages points at a
# heading of the same page or a file of the repository, and no two headings of a page share an
# anchor. Real jq and the testenv's kubectl (make deps); a missing program is a failure.
# Registered with ctest (label unit).
# shellcheck source=tests/support/script_common.sh
. "$(dirname "${BASH_SOURCE[0]}")/../support/script_common.sh"
ref=docs/reference
require jq "$kubectl"

echo "== hack/gen-api-docs.sh into a temporary folder"
if ! hack/gen-api-docs.sh "$tmp/reference"; then
  fail "hack/gen-api-docs.sh failed (above: the fields without a description, or the cause)"
fi

echo "== $ref is what the generator writes"
if ! diff -ru "$ref" "$tmp/reference" >"$tmp/diff"; then
  head -n 60 "$tmp/diff" >&2
  fail "$ref differs from the CRDs in crds/: run hack/gen-api-docs.sh and commit the result"
fi

echo "== one page per CRD, and every page in the index"
for crd in crds/*.yaml; do
  kind=$(grep -m1 -E '^    kind: ' "$crd" | awk '{print $2}')
  page=$(echo "$kind" | tr '[:upper:]' '[:lower:]').md
  [ -f "$ref/$page" ] || fail "$crd ($kind): no $ref/$page"
  grep -qF "]($page)" "$ref/README.md" || fail "$ref/README.md does not link $page"
done

echo "== links and anchors"
for page in "$ref"/*.md; do
  # GitHub's anchor of a heading: lower case, punctuation but - and _ dropped, spaces to -.
  grep -E '^#{1,6} ' "$page" | sed -E 's/^#+ //' | tr '[:upper:]' '[:lower:]' |
    sed -E 's/[^a-z0-9 _-]//g; s/ /-/g' | sort >"$tmp/anchors"
  dups=$(uniq -d "$tmp/anchors")
  [ -z "$dups" ] || fail "$page: headings with the same anchor: $dups"
  while read -r link; do
    case "$link" in
      http://* | https://* | //*) fail "$page links outside the repository: $link" ;;
      '#'*) grep -qxF "${link#\#}" "$tmp/anchors" || fail "$page: no heading for the link $link" ;;
      *) [ -e "$(dirname "$page")/${link%%#*}" ] || fail "$page links to a missing file: $link" ;;
    esac
  done < <(sed -E 's/`[^`]*`//g' "$page" | grep -oE '\]\([^)]+\)' | sed -E 's/^\]\((.*)\)$/\1/' | sort -u)
done

echo "== README.md and docs/ link only within the repository, never up out of their folder"
# Users read these files from the repository alone: no web address, no "../" (a page that
# needs another one names it in code instead).
while read -r hit; do
  fail "a link leaves the repository or its folder: $hit"
done < <(find README.md docs -name '*.md' -print0 | xargs -0 grep -nE '\]\((\.\./|https?:|//)' || true)

echo "== every field of every CRD is in its page"
# The JSON of each CRD as the generator reads it; every dotted path of spec and status must be
# a row (a check of the generator itself, independent of its table layout).
for crd in crds/*.yaml; do
  to_json "$crd" >"$tmp/crd.json"
  page=$ref/$(jq -r '.spec.names.kind | ascii_downcase' "$tmp/crd.json").md
  # shellcheck disable=SC2016 # jq program
  jq -r 'def fields($p): (.properties // {}) | to_entries[] | ($p + .key) as $q
           | $q, (.value | fields($q + ".")), (.value.items // {} | fields($q + "[]."));
         .spec.versions[].schema.openAPIV3Schema | fields("")' "$tmp/crd.json" >"$tmp/fields"
  # The field of each row: "| `path` |" or "| [`path`](#anchor) |".
  grep -oE '^\| \[?`[^`]+`' "$page" | sed -E 's/^\| \[?`//; s/`$//' | sort -u >"$tmp/rows"
  sort -u "$tmp/fields" | comm -23 - "$tmp/rows" >"$tmp/missing"
  [ ! -s "$tmp/missing" ] || fail "$page has no row for: $(tr '\n' ' ' <"$tmp/missing")"
  echo "$crd: $(wc -l <"$tmp/fields") fields"
done

finish
