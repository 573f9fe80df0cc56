#!/bin/sh
# mmdebstrap customize hook of the Cassandra image ($1: the new root file system): the project's
# Cassandra jars (Maven Central) on Debian's JRE 17, cqlsh from PyPI, and the files beside this
# script, laid out as the official image does (/opt/cassandra, /etc/cassandra writable by the
# node's user since the entrypoint rewrites it at start, data in /var/lib/cassandra), run as
# `cassandra` (999:999). Inputs from the environment: CASSANDRA_LIB (the jars), CQLSH_DIR (the
# PyPI packages installed with --target).
set -eu
root=$1
here=$(dirname "$0")/cassandra
mkdir -p "$root/opt/cassandra/bin" "$root/opt/cassandra/lib" "$root/etc/cassandra" "$root/opt/cqlsh"
cp "$CASSANDRA_LIB"/*.jar "$root/opt/cassandra/lib/"
cp -R "$CQLSH_DIR"/. "$root/opt/cqlsh/"
rm -rf "$root/opt/cqlsh/bin"
install -m 0755 "$here/cassandra" "$here/nodetool" "$here/cqlsh" "$root/opt/cassandra/bin/"
install -m 0755 "$here/docker-entrypoint.sh" "$root/usr/local/bin/docker-entrypoint.sh"
install -m 0644 "$here/logback.xml" "$here/logback-tools.xml" "$here/jvm17-server.options" "$root/etc/cassandra/"
chown -R 0:0 "$root/opt"
chroot "$root" groupadd --system --gid 999 cassandra
chroot "$root" useradd --system --uid 999 --gid cassandra --home-dir /home/cassandra --create-home \
  --shell /bin/bash cassandra
mkdir -p "$root/var/lib/cassandra" "$root/var/log/cassandra"
chown 999:999 "$root/var/lib/cassandra" "$root/var/log/cassandra"
chmod 0777 "$root/etc/cassandra" "$root/var/lib/cassandra" "$root/var/log/cassandra"
