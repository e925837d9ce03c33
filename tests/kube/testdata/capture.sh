#!/usr/bin/env bash
# Re-captures the real kube-apiserver responses in this directory from the local control plane
# (`make testenv-up`): error bodies into api_errors/<name>.json (with the status line and headers
# in api_errors/<name>.headers, for reference) and a watch stream into watch/configmaps.jsonl.
# Requests go through curl with the testenv's admin client certificate so the bytes are exactly
# what the server sent. Everything is done in a scratch namespace that is deleted at the end.
# Fixtures the server cannot be made to produce on demand stay hand-written (see README.md).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../../.." && pwd)
env_dir=${FLYWHEEL_TESTENV_DIR:-$root/.testenv}
kubectl=("$env_dir/bin/kubectl" --kubeconfig "$env_dir/kubeconfig")
view() { "${kubectl[@]}" config view --raw --minify -o jsonpath="$1"; }
server=$(view '{.clusters[0].cluster.server}')
tls=(--cacert "$(view '{.clusters[0].cluster.certificate-authority}')"
  --cert "$(view '{.users[0].user.client-certificate}')"
  --key "$(view '{.users[0].user.client-key}')")
ns=flywheel-capture-$$
# A client's User-Agent: for curl's own the API server pretty-prints JSON bodies.
ua=(-A 'flywheel-capture/v0 (linux/amd64)')
out=$here/api_errors
scratch=$(mktemp -d)
cleanup() {
  "${kubectl[@]}" delete namespace "$ns" --wait=false --ignore-not-found >/dev/null 2>&1 || true
  "${kubectl[@]}" delete flowschema,prioritylevelconfiguration flywheel-capture-reject \
    --ignore-not-found >/dev/null 2>&1 || true
  "${kubectl[@]}" delete apiservice v1.capture.flywheel.dev --ignore-not-found >/dev/null 2>&1 ||
    true
  rm -rf "$scratch"
}
trap cleanup EXIT

# api METHOD PATH [curl args...]: prints the HTTP status; body in $scratch/body, headers in
# $scratch/headers.
api() {
  local method=$1 path=$2
  shift 2
  rm -f "$scratch/body" "$scratch/headers"
  : >"$scratch/body" # curl does not create the -o file for an empty body
  curl -sS "${tls[@]}" "${ua[@]}" -X "$method" -o "$scratch/body" -D "$scratch/headers" -w '%{http_code}' \
    "$server$path" "$@"
}
# keep NAME WANT_STATUS GOT_STATUS [EXT]: saves the last response as fixture NAME.EXT (default
# json) if it has the wanted status.
keep() {
  local name=$1 want=$2 got=$3 ext=${4:-json}
  if [ "$got" != "$want" ]; then
    echo "capture: $name: wanted HTTP $want, got $got: $(head -c 300 "$scratch/body")" >&2
    return 0
  fi
  cp "$scratch/body" "$out/$name.$ext"
  tr -d '\r' <"$scratch/headers" | grep -viE '^(date|audit-id|x-kubernetes-pf-[a-z]*-uid):' \
    >"$out/$name.headers"
  echo "capture: $name: HTTP $got"
}
json=(-H 'Content-Type: application/json')
cm() { printf '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"%s"%s},"data":%s}' \
  "$1" "${3:-}" "$2"; }

"${kubectl[@]}" create namespace "$ns" >/dev/null
base=/api/v1/namespaces/$ns/configmaps

keep not_found 404 "$(api GET "$base/missing")"

api POST "$base" "${json[@]}" -d "$(cm dup '{"k":"v"}')" >/dev/null
keep already_exists 409 "$(api POST "$base" "${json[@]}" -d "$(cm dup '{"k":"v"}')")"

# Conflict: an update that carries a resourceVersion someone else's write has superseded.
stale=$("${kubectl[@]}" get configmap -n "$ns" dup -o jsonpath='{.metadata.resourceVersion}')
"${kubectl[@]}" patch configmap -n "$ns" dup -p '{"data":{"k":"v2"}}' >/dev/null
keep conflict 409 "$(api PUT "$base/dup" "${json[@]}" \
  -d "$(cm dup '{"k":"v3"}' ",\"resourceVersion\":\"$stale\"")")"

# Server-side apply conflict: another field manager owns the field.
apply=(-H 'Content-Type: application/apply-patch+yaml')
api PATCH "$base/owned?fieldManager=first" "${apply[@]}" -d "$(cm owned '{"k":"a"}')" >/dev/null
keep apply_conflict 409 "$(api PATCH "$base/owned?fieldManager=second" "${apply[@]}" \
  -d "$(cm owned '{"k":"b"}')")"

keep invalid 422 "$(api POST "$base" "${json[@]}" -d "$(cm Bad_Name '{"bad key":"v"}')")"

keep forbidden 403 "$(api GET /api/v1/namespaces/default/configmaps \
  -H 'Impersonate-User: system:serviceaccount:default:nobody')"

keep unauthorized 401 "$(curl -sS --cacert "${tls[1]}" "${ua[@]}" -o "$scratch/body" -D "$scratch/headers" \
  -w '%{http_code}' -H 'Authorization: Bearer not-a-token' "$server/api/v1/namespaces")"

keep bad_request 400 "$(api GET '/api/v1/pods?fieldSelector=no.such.field%3Dx')"

# Expired: a well-formed continue token whose resourceVersion etcd has compacted away (the API
# server compacts every 5 minutes, so this needs a control plane that has run that long).
token=$(printf '{"v":"meta.k8s.io/v1","rv":2,"start":"a\\u0000"}' | base64 -w0 | tr '+/' '-_' |
  tr -d '=')
keep expired 410 "$(api GET "/api/v1/configmaps?limit=1&continue=$token")"

keep method_not_allowed 405 "$(api PUT "$base" "${json[@]}" -d "$(cm x '{}')")"
keep unsupported_media_type 415 "$(api POST "$base" -H 'Content-Type: text/plain' -d 'hello')"
keep not_acceptable 406 "$(api GET "$base" -H 'Accept: application/xml')"
# One byte over the 3 MiB limit: with more, the server answers before reading the whole upload
# and the connection breaks before its body arrives.
head -c $((3 * 1024 * 1024 + 1)) /dev/zero | tr '\0' 'a' >"$scratch/big"
keep request_entity_too_large 413 "$(api POST "$base" "${json[@]}" --data-binary @"$scratch/big")"

# TooManyRequests: API Priority and Fairness with a priority level that has no seats and rejects
# instead of queuing, for one (impersonated) user.
"${kubectl[@]}" apply -f - >/dev/null <<'EOF'
apiVersion: flowcontrol.apiserver.k8s.io/v1
kind: PriorityLevelConfiguration
metadata: {name: flywheel-capture-reject}
spec:
  type: Limited
  limited:
    nominalConcurrencyShares: 0
    lendablePercent: 0
    borrowingLimitPercent: 0
    limitResponse: {type: Reject}
---
apiVersion: flowcontrol.apiserver.k8s.io/v1
kind: FlowSchema
metadata: {name: flywheel-capture-reject}
spec:
  priorityLevelConfiguration: {name: flywheel-capture-reject}
  matchingPrecedence: 100
  rules:
  - subjects: [{kind: User, user: {name: flywheel-capture-throttled}}]
    resourceRules: [{verbs: ["*"], apiGroups: ["*"], resources: ["*"], namespaces: ["*"],
      clusterScope: true}]
EOF
# APF still admits a request when none is executing, so send bursts multiplexed over one HTTP/2
# connection until one is rejected. Its answer is plain text, not a Status.
mkdir "$scratch/burst"
burst=()
for i in $(seq 1 300); do burst+=(-o "$scratch/burst/$i" "$server$base?burst=$i"); done
code=none
for _ in $(seq 1 10); do
  sleep 2
  curl -sS -Z --parallel-max 300 "${tls[@]}" "${ua[@]}" \
    -H 'Impersonate-User: flywheel-capture-throttled' \
    -w '%{http_code} %{filename_effective} %header{retry-after} %header{content-type}\n' \
    "${burst[@]}" >"$scratch/burst.out" 2>/dev/null || true
  read -r code file retry_after content_type < <(grep '^429 ' "$scratch/burst.out" | head -1) ||
    continue
  cp "$file" "$scratch/body"
  printf 'HTTP/2 429\ncontent-type: %s\nretry-after: %s\n' "$content_type" "$retry_after" \
    >"$scratch/headers"
  break
done
keep too_many_requests_apf 429 "$code" txt

# TooManyRequests as a Status: an eviction that a PodDisruptionBudget forbids (kwok runs the
# pod on a fake node and marks it ready).
"${kubectl[@]}" apply -n "$ns" -f - >/dev/null <<'EOF'
apiVersion: v1
kind: Pod
metadata: {name: guarded, labels: {app: guarded}}
spec:
  containers: [{name: main, image: registry.invalid/none}]
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: guarded}
spec:
  minAvailable: 1
  selector: {matchLabels: {app: guarded}}
EOF
"${kubectl[@]}" wait -n "$ns" --for=condition=Ready pod/guarded --timeout=60s >/dev/null
for _ in $(seq 1 30); do
  healthy=$("${kubectl[@]}" get pdb -n "$ns" guarded -o jsonpath='{.status.currentHealthy}')
  [ "$healthy" = 1 ] && break
  sleep 1
done
keep too_many_requests 429 "$(api POST "/api/v1/namespaces/$ns/pods/guarded/eviction" \
  "${json[@]}" -d '{"apiVersion":"policy/v1","kind":"Eviction","metadata":{"name":"guarded"}}')"

# ServiceUnavailable: an aggregated API whose backing service does not exist. The aggregator
# answers in plain text.
"${kubectl[@]}" apply -f - >/dev/null <<EOF
apiVersion: apiregistration.k8s.io/v1
kind: APIService
metadata: {name: v1.capture.flywheel.dev}
spec:
  group: capture.flywheel.dev
  version: v1
  groupPriorityMinimum: 1000
  versionPriority: 15
  insecureSkipTLSVerify: true
  service: {namespace: $ns, name: nowhere}
EOF
for _ in $(seq 1 20); do
  code=$(api GET /apis/capture.flywheel.dev/v1/things)
  [ "$code" = 503 ] && break
  sleep 1
done
keep service_unavailable_aggregator 503 "$code" txt

# The watch stream: two ConfigMaps with awkward data exist when the watch starts (ADDED events
# and the initial-events-end BOOKMARK), then one is modified and the other deleted; then the
# ERROR event of a watch from a compacted resourceVersion is appended.
tricky='{"braces":"{not} {a [doc]] }}","quotes":"say \"hi\" {\"k\": 1}","backslash":"C:\\path\\","utf8":"héllo 日本 🚀","escapes":"tab\there\nnewline \u0001"}'
api POST "$base" "${json[@]}" -d "$(cm tricky "$tricky")" >/dev/null
api POST "$base" "${json[@]}" -d "$(cm plain '{"k":"v"}')" >/dev/null
watch="$base?watch=1&allowWatchBookmarks=true&sendInitialEvents=true"
# Only the two ConfigMaps: not the others made above, nor the namespace's kube-root-ca.crt.
watch+="&resourceVersionMatch=NotOlderThan&fieldSelector=metadata.name%21%3Ddup"
watch+="%2Cmetadata.name%21%3Downed%2Cmetadata.name%21%3Dkube-root-ca.crt"
curl -sS -N "${tls[@]}" "${ua[@]}" -o "$scratch/watch" "$server$watch&timeoutSeconds=4" &
watcher=$!
sleep 1.5
"${kubectl[@]}" patch configmap -n "$ns" plain -p '{"data":{"k":"v2 \\\"}"}}' >/dev/null
"${kubectl[@]}" delete configmap -n "$ns" tricky >/dev/null
wait "$watcher"
# The ERROR event: a watch from a resourceVersion older than the API server's watch cache holds.
# The cache keeps every event while its oldest is younger than 75 s (it grows instead of
# evicting), so update a PodTemplate in two bursts 80 s apart: the second burst fills the cache
# and evicts the first, and a watch from resourceVersion 1 is then too old.
api POST "/api/v1/namespaces/$ns/podtemplates" "${json[@]}" -d '{"apiVersion":"v1",
  "kind":"PodTemplate","metadata":{"name":"churn"},
  "template":{"spec":{"containers":[{"name":"c","image":"x"}]}}}' >/dev/null
churn() {
  seq 1 "$1" | xargs -P 16 -I{} curl -sS "${tls[@]}" "${ua[@]}" -o /dev/null -X PATCH \
    -H 'Content-Type: application/merge-patch+json' \
    -d "{\"metadata\":{\"labels\":{\"n\":\"$2-{}\"}}}" \
    "$server/api/v1/namespaces/$ns/podtemplates/churn"
}
churn 120 first
sleep 80
churn 300 second
curl -sS -N "${tls[@]}" "${ua[@]}" -o "$scratch/stale" \
  "$server/api/v1/namespaces/$ns/podtemplates?watch=1&resourceVersion=1&timeoutSeconds=2" || true
if grep -q '"type":"ERROR"' "$scratch/stale"; then
  cat "$scratch/stale" >>"$scratch/watch"
  cp "$scratch/watch" "$here/watch/configmaps.jsonl"
  echo "capture: watch: $(wc -l <"$here/watch/configmaps.jsonl") events"
else
  echo "capture: watch: no ERROR event from a stale resourceVersion: $(head -c 300 \
    "$scratch/stale")" >&2
fi
