#!/usr/bin/env bash
# docs/troubleshooting.md keeps up with the controllers: every condition, step and Event reason
# the controllers in src/ set must have a row (a line starting "| `<Reason>` |") there, and every
# such row must name a reason that exists in src/ (no stale entries). Reasons are found in the
# source where they are written: SetCondition({type, status, REASON, ...}); the helpers that pass a
# reason on (ready, fail, succeeded_unknown, stop: the first argument after the status; Blocked:
# second; Finish: third; SetFailed: fourth); Events, Emit(object, type, REASON, ...); assignments
# `reason = ...` and `["reason"] = ...`; and the bodies of functions named *Reason*. Perl (part of
# every Debian) reads the C++; a missing program is a failure. Registered with ctest (label unit).
# shellcheck source=tests/support/script_common.sh
. "$(dirname "${BASH_SOURCE[0]}")/../support/script_common.sh"
doc=docs/troubleshooting.md
controllers=(src/pipeline src/release src/rollback)
require perl
[ -f "$doc" ] || { echo "FAIL: $doc is missing" >&2; exit 1; }

echo "== conditions and Events are set only in ${controllers[*]}"
# Anywhere else, this test would not look: add the folder to controllers.
others=$(grep -rlE '(SetCondition|\.Emit)\(' src --include='*.cpp' --include='*.h' |
  grep -vE "^($(IFS='|'; echo "${controllers[*]}")|src/kube)/" || true)
[ -z "$others" ] || fail "conditions or Events set outside ${controllers[*]}: $others"

echo "== reasons in the source"
# shellcheck disable=SC2016 # a perl program
reasons=$(find "${controllers[@]}" -name '*.cpp' -o -name '*.h' | sort | xargs perl -0777 -ne '
  s/\s+/ /g;                                  # one line: calls span several
  my $lit = sub { my @l = ($_[0] =~ /"([A-Z][A-Za-z0-9]+)"/g); @l };
  my @found;
  push @found, $lit->($1) while /\bSetCondition\([^;{]*\{ ?"\w+", ?[^,]+, ?([^,]+),/g;
  push @found, $lit->($1) while /\b(?:ready|fail)\( ?(?:kube::ConditionStatus::k\w+, ?)?([^,;]+)[,)]/g;
  push @found, $lit->($1) while /\bBlocked\([^,;]+, ?([^,;]+),/g;
  push @found, $lit->($1) while /\b(?:succeeded_unknown|stop)\( ?([^,;]+),/g;
  push @found, $lit->($1) while /\bSetFailed\((?:[^,;]+, ?){3}([^,;]+),/g;
  push @found, $lit->($1) while /\bFinish\([^,;]+, ?[^,;]+, ?([^,;]+),/g;
  push @found, $lit->($1) while /\bEmit\([^,;]+, ?[^,;]+, ?([^,;]+),/g;
  push @found, $lit->($1) while /(?:\breason|\["reason"\]) = ([^;]+);/g;
  push @found, $lit->($1) while /\b\w*Reason\w*\([^()]*\) (?:const )?\{((?:[^{}]|\{[^{}]*\})*)\}/g;
  print "$_\n" for @found;
' | sort -u)
count=$(echo "$reasons" | grep -c . || true)
echo "$count reasons:" $reasons
# The extraction itself: a reason of each form must be found, or the patterns no longer match
# the code (and this test would pass on nothing).
for known in Synced Healthy Restored CoolingDown StepFailed CloneFailed InvalidSecret \
  SourceNotFound PodEvicted Queued Pushed Evicted ErrImagePull FetchFailed; do
  grep -qx "$known" <<<"$reasons" || fail "the extraction no longer finds $known: update this test"
done

echo "== every reason has a row in $doc"
missing=()
while read -r reason; do
  grep -qF "| \`$reason\` |" "$doc" || missing+=("$reason")
done <<<"$reasons"
[ ${#missing[@]} -eq 0 ] || fail "reasons without a row in $doc: ${missing[*]}"

echo "== every row names a reason of the source"
stale=()
while read -r reason; do
  grep -rqF "\"$reason\"" "${controllers[@]}" src/manifest || stale+=("$reason")
done < <(grep -oE '^\| `[A-Za-z0-9]+` \|' "$doc" | sed -E 's/^\| `([A-Za-z0-9]+)` \|/\1/' | sort -u)
[ ${#stale[@]} -eq 0 ] || fail "rows in $doc for reasons no controller sets: ${stale[*]}"

echo "== links stay inside the repository and point at files that exist"
while read -r link; do
  case "$link" in
    http://* | https://* | //*) fail "$doc links outside the repository: $link" ;;
    '#'*) ;;
    *) [ -e "docs/${link%%#*}" ] || fail "$doc links to a missing file: $link" ;;
  esac
done < <(grep -oE '\]\([^)]+\)' "$doc" | sed -E 's/^\]\((.*)\)$/\1/')

finish
