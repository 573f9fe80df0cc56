# One image for the three apps (base, main, stream) and the migration command; the Kubernetes
# manifests choose which one runs (`command: ["node", "apps/<app>/dist/main.js"]`).
#
#   docker build -t kubescaler:dev .
#   docker run --rm -p 3002:3002 -e BASE_URL=... -e REDIS_URL=... kubescaler:dev              # stream
#   docker run --rm -p 3000:3000 ... kubescaler:dev node apps/main/dist/main.js               # main
#
# Runtime: Debian slim Node, production dependencies only, compiled JavaScript only, files owned
# by root and read-only to the non-root user 1000 (`node`), nothing written at run time (so the
# pods run with readOnlyRootFilesystem). No BuildKit-only syntax: minikube's builder is enough.
ARG NODE_IMAGE=node:20.20.2-bookworm-slim

# Only the workspace manifests (libs/*/package.json): npm ci needs them, and copying just these
# keeps the dependency layers cached while sources change.
FROM ${NODE_IMAGE} AS manifests
WORKDIR /src
COPY libs ./libs
RUN mkdir /manifests \
 && for manifest in libs/*/package.json; do \
      mkdir -p "/manifests/$(dirname "$manifest")" && cp "$manifest" "/manifests/$manifest"; \
    done

# Compile every app and the libs they reference (tsc -b with project references). These projects
# hold no test support: integration specs and libs/testing are built only by the tsconfig.spec.json
# projects that npm test builds.
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
COPY --from=manifests /manifests/ ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.base.json ./
COPY libs ./libs
COPY apps ./apps
RUN npx tsc -b apps/base/tsconfig.app.json apps/main/tsconfig.app.json apps/stream/tsconfig.app.json
# Keep each project's compiled output and package.json; drop tests, declarations, build info.
RUN mkdir /out \
 && for project in apps/* libs/*; do \
      if [ -d "$project/dist" ]; then \
        mkdir -p "/out/$project" && cp -R "$project/dist" "/out/$project/dist"; \
        if [ -f "$project/package.json" ]; then cp "$project/package.json" "/out/$project/"; fi; \
      fi; \
    done \
 && find /out -type f \( -name '*.spec.*' -o -name '*-spec.*' -o -name '*.d.ts' -o -name '*.d.ts.map' -o -name '.tsbuildinfo' \) -delete

# Production dependencies only; node_modules/@app/* are workspace links to ../../libs/*.
# The optional native addon sockopt (TCP_NOTSENT_LOWAT on every SSE socket) has no Linux prebuild
# and compiles at install: this stage gets a compiler, and the build fails if it did not build
# (elsewhere the stream app runs without it and says so in its log and a gauge).
FROM ${NODE_IMAGE} AS prod-deps
WORKDIR /app
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json .npmrc ./
COPY --from=manifests /manifests/ ./
RUN npm ci --omit=dev --no-audit --no-fund \
 && node -e "require('sockopt').getsockopt" \
 && rm -rf node_modules/sockopt/build/Release/obj.target node_modules/sockopt/build/Release/.deps

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app
# The apps never run npm or yarn: leave them out of the runtime image.
RUN rm -rf /usr/local/lib/node_modules/npm /usr/local/bin/npm /usr/local/bin/npx \
      /usr/local/lib/node_modules/corepack /usr/local/bin/corepack /opt/yarn-* /usr/local/bin/yarn /usr/local/bin/yarnpkg
# package.json: "type": "module" makes apps/*/dist/*.js ES modules.
COPY package.json ./
COPY --from=prod-deps /app/node_modules ./node_modules
COPY --from=build /out/ ./
# The web client that stream serves (apps/stream/dist/web -> ../../../../public).
COPY public ./public
USER 1000:1000
EXPOSE 3000 3001 3002
CMD ["node", "apps/stream/dist/main.js"]
