# One image for the API, the worker and the sandbox; the compose file picks the command.
FROM node:20.20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json .npmrc ./
RUN npm ci --omit=dev --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
USER node
EXPOSE 3000 4010 9464
CMD ["npm", "run", "api"]
