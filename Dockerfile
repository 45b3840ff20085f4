# syntax=docker/dockerfile:1
# NeoSC backend: build with the Swift toolchain (6.3, as tested; dependencies need tools 6.2+),
# run on a slim Debian with only the runtime libraries.

FROM swift:6.3-bookworm AS build
# novnc: Debian's noVNC, whose client the viewer draws streamed desktops with (docs/streaming.md).
# Installed here, where its dependencies (nodejs, websockify) cost nothing, and only the files
# NeoSC serves copied into the runtime image, where Debian put them (NEOSC_NOVNC_DIR's default).
RUN apt-get update \
 && apt-get install -y --no-install-recommends libmongoc-dev pkg-config novnc \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Dependencies first, so source edits do not refetch them; exactly the pinned versions.
COPY Package.swift Package.resolved ./
RUN swift package resolve
COPY Sources ./Sources
COPY Tests ./Tests
# Stripped (install -s): the symbol tables are most of an unstripped binary's size.
RUN swift build -c release --product neosc --static-swift-stdlib \
 && install -D -s .build/release/neosc /out/neosc

FROM debian:bookworm-slim AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends libmongoc-1.0-0 libbson-1.0-0 libcurl4 ca-certificates tzdata \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /var/lib/neosc --create-home neosc
COPY --from=build /out/neosc /usr/local/bin/neosc
COPY --from=build /usr/share/novnc/core /usr/share/novnc/core
COPY --from=build /usr/share/novnc/vendor /usr/share/novnc/vendor
# The data directory exists, owned by neosc, so a volume mounted on it (the compose stack's, for
# stream recordings) starts out NeoSC's.
RUN install -d -o neosc -g neosc -m 700 /var/lib/neosc/data
USER neosc
WORKDIR /var/lib/neosc
# libmongoc initialises itself when the binary loads and keeps performance counters in shared
# memory for its `mongoc-stat` tool, which nothing here reads; where /dev/shm refuses it (a busy or
# small /dev/shm), it writes a warning to stderr before NeoSC runs. Off.
ENV HOST=0.0.0.0 PORT=8001 NEOSC_DATA_DIR=/var/lib/neosc/data LOG_FORMAT=json MONGOC_DISABLE_SHM=1
EXPOSE 8001
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 CMD ["neosc", "healthcheck"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["neosc"]
CMD ["serve"]
