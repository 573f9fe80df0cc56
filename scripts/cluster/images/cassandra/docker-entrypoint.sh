#!/bin/bash
# Entrypoint of the Cassandra image, after the official image's: `cassandra -f` (the default
# command) first writes /etc/cassandra/cassandra.yaml and cassandra-rackdc.properties from the
# environment, then runs the node in the foreground. Any other command runs as given.
#   CASSANDRA_CLUSTER_NAME, CASSANDRA_SEEDS (default: this node), CASSANDRA_ENDPOINT_SNITCH,
#   CASSANDRA_DC, CASSANDRA_RACK, CASSANDRA_NUM_TOKENS, CASSANDRA_LISTEN_ADDRESS (default: the
#   address the host name resolves to, i.e. the pod IP), CASSANDRA_BROADCAST_ADDRESS,
#   CASSANDRA_RPC_ADDRESS (default 0.0.0.0), CASSANDRA_BROADCAST_RPC_ADDRESS,
#   CASSANDRA_STORAGE_PORT, CASSANDRA_NATIVE_TRANSPORT_PORT, and for the JVM MAX_HEAP_SIZE,
#   HEAP_NEWSIZE, JMX_PORT, JVM_EXTRA_OPTS (see /opt/cassandra/bin/cassandra).
set -euo pipefail

if [ "${1:0:1}" = '-' ]; then
  set -- cassandra -f "$@"
fi
if [ "$1" != cassandra ]; then
  exec "$@"
fi

own_address() {
  local address
  address=$(hostname -i 2>/dev/null | awk '{print $1}') || true
  if [ -z "$address" ]; then
    address=$(getent hosts "$(hostname)" | awk '{print $1; exit}')
  fi
  printf '%s' "$address"
}

listen=${CASSANDRA_LISTEN_ADDRESS:-auto}
if [ "$listen" = auto ]; then
  listen=$(own_address)
fi
if [ -z "$listen" ]; then
  echo "cassandra: cannot tell this host's address; set CASSANDRA_LISTEN_ADDRESS" >&2
  exit 1
fi
broadcast=${CASSANDRA_BROADCAST_ADDRESS:-$listen}
rpc=${CASSANDRA_RPC_ADDRESS:-0.0.0.0}
broadcast_rpc=${CASSANDRA_BROADCAST_RPC_ADDRESS:-$broadcast}
seeds=${CASSANDRA_SEEDS:-$broadcast}
storage_port=${CASSANDRA_STORAGE_PORT:-7000}
data=/var/lib/cassandra

conf=${CASSANDRA_CONF:-/etc/cassandra}
cat > "$conf/cassandra.yaml" <<YAML
# Written by docker-entrypoint.sh at every start from the environment; edits are overwritten.
cluster_name: '${CASSANDRA_CLUSTER_NAME:-Test Cluster}'
num_tokens: ${CASSANDRA_NUM_TOKENS:-16}
allocate_tokens_for_local_replication_factor: 3
partitioner: org.apache.cassandra.dht.Murmur3Partitioner
endpoint_snitch: ${CASSANDRA_ENDPOINT_SNITCH:-SimpleSnitch}
seed_provider:
  - class_name: org.apache.cassandra.locator.SimpleSeedProvider
    parameters:
      - seeds: '${seeds}'
listen_address: ${listen}
broadcast_address: ${broadcast}
rpc_address: ${rpc}
broadcast_rpc_address: ${broadcast_rpc}
storage_port: ${storage_port}
native_transport_port: ${CASSANDRA_NATIVE_TRANSPORT_PORT:-9042}
start_native_transport: true

data_file_directories:
  - ${data}/data
commitlog_directory: ${data}/commitlog
hints_directory: ${data}/hints
saved_caches_directory: ${data}/saved_caches
cdc_raw_directory: ${data}/cdc_raw
commitlog_sync: periodic
commitlog_sync_period: 10000ms

authenticator: AllowAllAuthenticator
authorizer: AllowAllAuthorizer
# 5.0's own default (an upgraded cluster can still roll back); NONE turns on the 5.0-only formats.
storage_compatibility_mode: ${CASSANDRA_STORAGE_COMPATIBILITY_MODE:-CASSANDRA_4}
YAML

cat > "$conf/cassandra-rackdc.properties" <<PROPERTIES
# Written by docker-entrypoint.sh at every start; read by GossipingPropertyFileSnitch.
dc=${CASSANDRA_DC:-datacenter1}
rack=${CASSANDRA_RACK:-rack1}
prefer_local=true
PROPERTIES

exec "$@"
