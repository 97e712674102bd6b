# syntax=docker/dockerfile:1
# slotrelay: built from this repository (workspaces, npm ci, turbo), run as the published packages
# with production dependencies only. Not built on the machines this repository is developed on
# (no container daemon there): keep it minimal and standard. See README, "Kubernetes".
#
#   docker build -t slotrelay:0.1.0 .
#   docker run --rm -v "$PWD/slotrelay.yaml:/etc/slotrelay/slotrelay.yaml:ro" -p 6379:6379 slotrelay:0.1.0

ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /src
ENV TURBO_TELEMETRY_DISABLED=1
# The whole workspace (see .dockerignore): npm ci checks every workspace against the lockfile.
COPY . .
RUN npm ci --no-audit --no-fund
RUN npx turbo run build \
      --filter=@slotrelay/core --filter=@slotrelay/host --filter=@slotrelay/transport-tls \
      --filter=@slotrelay/middleware-redirect --filter=@slotrelay/middleware-cluster-cmds \
      --filter=@slotrelay/middleware-admin
# The packages as published (dist, no tests, no .tsbuildinfo): what test/pack installs and runs.
RUN mkdir /packs && npm pack --pack-destination /packs \
      -w @slotrelay/core -w @slotrelay/host -w @slotrelay/transport-tls \
      -w @slotrelay/middleware-redirect -w @slotrelay/middleware-cluster-cmds -w @slotrelay/middleware-admin

FROM ${NODE_IMAGE}
ENV NODE_ENV=production
WORKDIR /opt/slotrelay
COPY --from=build /packs /tmp/packs
RUN echo '{"name":"slotrelay-image","private":true}' > package.json \
 && npm install --omit=dev --no-audit --no-fund /tmp/packs/*.tgz \
 && rm -rf /tmp/packs /root/.npm
# The official image's unprivileged user (uid 1000).
USER node
EXPOSE 6379 9121
# Node itself is PID 1 (exec-form ENTRYPOINT, no shell): the CLI's SIGTERM handler stops accepting,
# delivers the replies due and exits 0.
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "/opt/slotrelay/node_modules/@slotrelay/host/dist/cli.js"]
CMD ["--config", "/etc/slotrelay/slotrelay.yaml"]
