# The Tessera hub: serves the store under /app/models (mount a volume there).

# The native decode kernels, compiled in a throwaway stage so the image carries no compiler.
FROM denoland/deno:2.9.5 AS native
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev \
  && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY native/ native/
# build.ts hashes the sources with the loader's own code, which it compiles into the library.
COPY src/codec_native/source_digest.ts src/codec_native/source_digest.ts
RUN deno run --allow-read --allow-write --allow-run --allow-env --allow-ffi native/build.ts \
  && test -f native/build/libtsr_kernel.so

FROM denoland/deno:2.9.5
WORKDIR /app
COPY . .
COPY --from=native /app/native/build/ native/build/
# The CLI imports each command through a computed specifier (so a command loads only its own
# modules), which deno cache does not follow: the command modules are named here.
RUN deno cache src/server_main.ts src/cli/*.ts
VOLUME ["/app/models"]
EXPOSE 8080
# The server itself is the container's process (not `deno task`), so `docker stop`'s SIGTERM
# reaches it: writes are refused, the listener closes, responses in flight get --timeout-s to
# finish, and a publish is either committed or not visible (the next start removes its scratch).
STOPSIGNAL SIGTERM
CMD ["run", "-A", "src/server_main.ts", "--models", "/app/models", "--host", "0.0.0.0", "--port", "8080"]
