# The Tessera hub: serves every container under /app/models (mount a volume there).
FROM denoland/deno:2.9.5
WORKDIR /app
COPY . .
RUN deno cache src/server_main.ts src/cli/main.ts
VOLUME ["/app/models"]
EXPOSE 8080
CMD ["task", "serve", "--host", "0.0.0.0", "--port", "8080"]
