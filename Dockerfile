# One image for the API, the worker and the sandbox; the compose file picks the command.
FROM node:20.20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json .npmrc ./
# `npm install`, not `npm ci`: the lock file lists only the optional native binaries of the platform
# it was made on (see .ci/run), which `npm ci` calls out of sync. It installs exactly the locked versions.
RUN npm install --omit=dev --no-audit --no-fund && npm cache clean --force
COPY tsconfig.json ./
COPY src ./src
# The sandbox keeps its state (ledger, envelopes) in /data, a volume the unprivileged user must own.
RUN mkdir -p /data && chown node:node /data
USER node
# API, sandbox, worker metrics.
EXPOSE 3000 4010 9464
CMD ["npm", "run", "api"]
