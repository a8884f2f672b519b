# gitops-connector container image: the single compiled binary on distroless, running as uid 65532 with a
# read-only root. test/deploy/image-rootfs.test.ts runs this final stage's ENTRYPOINT, CMD, ENV and USER in a
# root filesystem holding only the binary and the libraries it links, so what this file promises is checked
# even where no Docker engine runs.
#
#   docker build -t gitops-connector .
#   docker run --read-only --tmpfs /tmp -p 8080:8080 -v gitops-connector-data:/var/lib/gitops-connector \
#     -v "$PWD/config:/etc/gitops-connector:ro" gitops-connector      # config/config.yaml

# Build stage: the Bun the project pins (package.json "packageManager"; the test checks they agree). The plain
# version tag is the Debian variant: its bun links glibc, so the binary it compiles runs on distroless/cc (an
# Alpine bun would produce a musl binary that cannot). Release pipelines should pin this by digest too.
FROM oven/bun:1.4.5 AS build
WORKDIR /src
# Dependencies first, so editing src/ does not invalidate the install layer. Only runtime dependencies are
# needed to bundle; --ignore-scripts because no dependency needs an install script. No BuildKit-only syntax
# (RUN --mount, a # syntax= line), so the legacy builder, Podman and Kaniko build this file too.
COPY package.json bun.lock bunfig.toml ./
RUN bun install --frozen-lockfile --production --ignore-scripts
COPY tsconfig.json ./
COPY src ./src
# The same build as `bun run build` everywhere else; running the result proves it starts on this libc.
RUN bun run build && ./dist/gitops-connector version
# The data directory must already belong to 65532 in the image: Docker seeds a new named volume with the
# ownership of the directory it is mounted on. Copying /staging/var/lib/ (not the directory itself) makes
# gitops-connector/ a copied entry, which COPY --chown owns on every builder.
RUN mkdir -p /staging/var/lib/gitops-connector

# Final stage: glibc, libgcc and CA certificates, nothing else; no shell, no package manager.
FROM gcr.io/distroless/cc-debian12:nonroot
LABEL org.opencontainers.image.title="gitops-connector" \
      org.opencontainers.image.description="Closes the loop between Flux/Argo CD and CI/CD: commit statuses, subscriber posts and pipeline callbacks from GitOps webhooks." \
      org.opencontainers.image.licenses="MIT"
# Only the binary (its source map is embedded; dist/*.map is not needed).
COPY --from=build /src/dist/gitops-connector /usr/local/bin/gitops-connector
COPY --from=build --chown=65532:65532 /staging/var/lib/ /var/lib/

# No default config is baked in. The daemon has none of its own (a missing config is exit 2 with a message
# that says what to do), and config.example.yaml as a fallback would start a daemon posting for contoso's
# example repositories. The path is given through $GITOPS_CONNECTOR_CONFIG rather than --config so that
# check-config and outbox commands run in the container find it too, and one -e overrides it. Setting it
# empty (-e GITOPS_CONNECTOR_CONFIG=) selects the original connector's environment variables (legacy mode).
# TMPDIR is the default made explicit: the daemon writes nothing there (SQLite keeps its temporary data in
# memory); a small tmpfs or emptyDir at /tmp is still good practice with a read-only root.
ENV GITOPS_CONNECTOR_CONFIG=/etc/gitops-connector/config.yaml \
    TMPDIR=/tmp
# The build turns off Bun's autoloading of .env and bunfig.toml from the working directory; / is read-only
# anyway, so nothing there could change the daemon's environment.
WORKDIR /
# Numeric, so Kubernetes' runAsNonRoot can verify it (it cannot resolve distroless's "nonroot" name).
USER 65532:65532
EXPOSE 8080
# The outbox (outbox.db, WAL mode): the only place the daemon writes. Keep it on a volume: jobs accepted with
# 202 live there until delivered.
VOLUME ["/var/lib/gitops-connector"]
# No HEALTHCHECK: distroless has no shell or curl and the binary has no probe command. Kubernetes probes
# GET /healthz (liveness) and GET /readyz (readiness: 503 while shutting down or when the queue is full).
ENTRYPOINT ["/usr/local/bin/gitops-connector"]
# Arguments after the image name replace this whole line: repeat --data-dir with them
# (docker run … gitops-connector serve --data-dir /var/lib/gitops-connector --dry-run).
CMD ["serve", "--data-dir", "/var/lib/gitops-connector"]
