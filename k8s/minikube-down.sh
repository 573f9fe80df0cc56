#!/usr/bin/env bash
# Removes kubescaler from minikube. `--stop` also stops the minikube VM/container; `--delete`
# deletes the whole minikube profile (every volume with it).
#
# Environment: MINIKUBE_PROFILE (minikube).
set -euo pipefail

PROFILE="${MINIKUBE_PROFILE:-minikube}"
NAMESPACE="kubescaler"

log() { printf '[minikube-down] %s\n' "$*"; }

mode="${1:-}"
case "$mode" in
  "" | --stop | --delete) ;;
  *)
    printf 'usage: %s [--stop | --delete]\n' "$0" >&2
    exit 2
    ;;
esac

if [[ "$mode" == "--delete" ]]; then
  log "deleting minikube profile '$PROFILE'…"
  minikube -p "$PROFILE" delete
  exit 0
fi

kube() { kubectl --context "$PROFILE" "$@"; }

if minikube -p "$PROFILE" status >/dev/null 2>&1; then
  # The APIService first: a registered API whose backend is gone stalls discovery (and with it
  # the namespace deletion).
  kube delete apiservice v1beta1.custom.metrics.k8s.io --ignore-not-found
  kube -n kube-system delete rolebinding -l app.kubernetes.io/part-of=kubescaler --ignore-not-found
  kube delete clusterrolebinding,clusterrole -l app.kubernetes.io/part-of=kubescaler --ignore-not-found
  log "deleting namespace $NAMESPACE (volumes included)…"
  kube delete namespace "$NAMESPACE" --ignore-not-found --wait=true
else
  log "minikube profile '$PROFILE' is not running: nothing to remove"
fi

if [[ "$mode" == "--stop" ]]; then
  minikube -p "$PROFILE" stop
fi
