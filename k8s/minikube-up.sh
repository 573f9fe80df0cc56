#!/usr/bin/env bash
# Runs kubescaler on minikube: starts the cluster (ingress + metrics-server addons), builds the
# app image inside it, creates the admin token and the user-token secret, applies
# k8s/overlays/minikube, waits for every rollout and prints the URL and the HPAs. Safe to run again (rebuilds and restarts the apps).
#
# Environment: MINIKUBE_PROFILE (minikube), MINIKUBE_CPUS (4), MINIKUBE_MEMORY (8g),
# MINIKUBE_DRIVER (minikube's default).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

PROFILE="${MINIKUBE_PROFILE:-minikube}"
NAMESPACE="kubescaler"
IMAGE="kubescaler:dev"
OVERLAY="k8s/overlays/minikube"
TOKEN_FILE="$OVERLAY/admin-token.env"
AUTH_FILE="$OVERLAY/auth-secret.env"
INTERNAL_FILE="$OVERLAY/internal-token.env"

log() { printf '[minikube-up] %s\n' "$*"; }
die() { printf '[minikube-up] %s\n' "$*" >&2; exit 1; }

for tool in minikube kubectl; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool is not on the PATH (see docs/kubernetes.md)"
done

kube() { kubectl --context "$PROFILE" "$@"; }

if minikube -p "$PROFILE" status >/dev/null 2>&1; then
  log "minikube profile '$PROFILE' is running"
else
  log "starting minikube profile '$PROFILE'…"
  start_args=(--cpus="${MINIKUBE_CPUS:-4}" --memory="${MINIKUBE_MEMORY:-8g}")
  if [[ -n "${MINIKUBE_DRIVER:-}" ]]; then start_args+=(--driver="$MINIKUBE_DRIVER"); fi
  minikube -p "$PROFILE" start "${start_args[@]}"
fi
# ingress: the nginx controller for the Ingresses; metrics-server: CPU usage for main's HPA.
minikube -p "$PROFILE" addons enable ingress
minikube -p "$PROFILE" addons enable metrics-server

# The build context: what the Dockerfile copies (the same allowlist as .dockerignore), so
# neither node_modules nor .cache travel into the minikube node.
CONTEXT_PATHS=(Dockerfile .dockerignore package.json package-lock.json .npmrc tsconfig.base.json apps libs public)
context="$(mktemp -d)"
trap 'rm -rf "$context"' EXIT
tar -cf - --exclude=node_modules --exclude=dist --exclude='*.tsbuildinfo' "${CONTEXT_PATHS[@]}" | tar -xf - -C "$context"
log "building $IMAGE inside minikube…"
minikube -p "$PROFILE" image build -t "$IMAGE" "$context"

if [[ ! -s "$TOKEN_FILE" ]]; then
  log "generating the admin token in $TOKEN_FILE (git-ignored)"
  token="$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')"
  (umask 077 && printf 'ADMIN_TOKEN=%s\n' "$token" >"$TOKEN_FILE")
fi
if [[ ! -s "$AUTH_FILE" ]]; then
  log "generating the user-token secret in $AUTH_FILE (git-ignored)"
  secret="$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')"
  (umask 077 && printf 'AUTH_JWT_SECRET=%s\n' "$secret" >"$AUTH_FILE")
fi
if [[ ! -s "$INTERNAL_FILE" ]]; then
  log "generating the internal service credential in $INTERNAL_FILE (git-ignored)"
  internal="$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')"
  (umask 077 && printf 'INTERNAL_TOKEN=%s\n' "$internal" >"$INTERNAL_FILE")
fi

apps_existed="$(kube -n "$NAMESPACE" get deployment stream --ignore-not-found -o name)"

# A Job's pod template is immutable: the migration Job runs anew on every rollout.
kube -n "$NAMESPACE" delete job migrate --ignore-not-found --wait=true
kube apply -k "$OVERLAY"

if [[ -n "$apps_existed" ]]; then
  # Same tag, new image: restart so the pods pick up what was just built.
  kube -n "$NAMESPACE" rollout restart deployment/base deployment/main deployment/stream
fi

log "waiting for Cassandra, Redis and the migration…"
kube -n "$NAMESPACE" rollout status statefulset/cassandra --timeout=15m
kube -n "$NAMESPACE" rollout status statefulset/redis-a --timeout=5m
kube -n "$NAMESPACE" wait --for=condition=complete job/migrate --timeout=15m
for deployment in base main stream prometheus prometheus-adapter grafana; do
  kube -n "$NAMESPACE" rollout status "deployment/$deployment" --timeout=10m
done

log "waiting for the custom metrics API (prometheus-adapter)…"
for _ in $(seq 1 60); do
  if kube get --raw /apis/custom.metrics.k8s.io/v1beta1 >/dev/null 2>&1; then break; fi
  sleep 5
done

ip="$(minikube -p "$PROFILE" ip)"
log "kubescaler is up:"
log "  web client:  http://$ip/   (with the docker driver on macOS or Windows: run 'minikube tunnel' and use http://127.0.0.1/)"
log "  REST:        http://$ip/main/users"
log "  admin token: $(cut -d= -f2- "$TOKEN_FILE")"
log "  sign in:     \"sign in as\" on the web client (development sign-in is on in minikube)"
log "  Grafana:     kubectl --context $PROFILE -n $NAMESPACE port-forward svc/grafana 3000:3000  ->  http://localhost:3000/"
log "  dashboard:   minikube -p $PROFILE dashboard"
kube -n "$NAMESPACE" get hpa
