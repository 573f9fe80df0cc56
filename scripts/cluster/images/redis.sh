#!/bin/sh
# mmdebstrap customize hook of the Redis image ($1: the new root file system): Debian's
# redis-server and redis-cli, run as `redis` with the ids of the upstream alpine image (uid 999,
# gid 1000) that the manifests' securityContext names; data in /data (a volume); nothing else is
# written, so the root file system can be read-only.
set -eu
root=$1
chroot "$root" groupmod --gid 1000 redis
chroot "$root" usermod --uid 999 --gid 1000 --home /data redis
mkdir -p "$root/data"
chown 999:1000 "$root/data"
chown -R 999:1000 "$root/var/lib/redis" "$root/var/log/redis"
# Debian's config file is not used (the manifests give every setting on the command line); the
# init script and logrotate job have no use in a container.
rm -rf "$root/etc/init.d/redis-server" "$root/etc/logrotate.d/redis-server"
