# flaky-detector worker for RunPod Serverless (CPU endpoint) or a Redis queue. From the repo root:
#   docker build --platform linux/amd64 -f deploy/worker.Dockerfile -t you/flaky-detector-worker:1 .
#   docker push you/flaky-detector-worker:1
# Toolchains of the projects the workers test come by build argument (Debian package names):
#   --build-arg EXTRA_PACKAGES="python3 python3-pytest python3-venv golang-go"
# RunPod starts it with its RUNPOD_* variables and the worker takes jobs; without them it serves
# the job API on port 8000 (RunPod's local test mode). For Redis: CMD ["worker", "redis"] with
# FLAKY_DETECTOR_REDIS_URL (and REDIS_PASSWORD) set.
FROM --platform=linux/amd64 node:20-bookworm-slim AS build
WORKDIR /src
# better-sqlite3 compiles when no prebuilt binary matches.
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci
COPY tsconfig*.json ./
COPY scripts ./scripts
COPY src ./src
RUN npm run build && npm prune --omit=dev && rm -rf dist/dashboard

FROM --platform=linux/amd64 node:20-bookworm-slim
ARG EXTRA_PACKAGES=""
RUN apt-get update \
 && apt-get install -y --no-install-recommends git ca-certificates tini ${EXTRA_PACKAGES} \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --create-home --home-dir /home/fd --uid 10001 fd
WORKDIR /app
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
USER fd
# Workspaces, clones and installs go to the container's own disk, removed after every job.
ENV NODE_ENV=production TMPDIR=/home/fd/tmp
RUN mkdir -p /home/fd/tmp
EXPOSE 8000
# tini reaps attempts' orphaned grandchildren and forwards SIGTERM (the running job finishes).
ENTRYPOINT ["/usr/bin/tini", "--", "node", "/app/dist/cli/bin.js"]
CMD ["worker", "runpod", "--host", "0.0.0.0"]
