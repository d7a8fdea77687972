# syntax=docker/dockerfile:1
# Build stage: the Go version is the one go.mod names (a test keeps them equal).
# It runs on the builder's own platform and cross-compiles, so a multi-arch build needs no emulation.
FROM --platform=$BUILDPLATFORM golang:1.26.8-bookworm AS build
ARG TARGETOS TARGETARCH
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH} go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/ ./cmd/zoomtoken ./cmd/zoomemu
RUN mkdir /out/data

# The Zoom emulator, for demos and tests only: docker build --target emulator.
FROM gcr.io/distroless/static-debian12:nonroot AS emulator
COPY --from=build /out/zoomemu /
USER nonroot:nonroot
EXPOSE 9900
ENTRYPOINT ["/zoomemu"]

# The production image (the default target, last): zoomtoken alone, static, on distroless
# (CA certificates, no shell), as a non-root user.
FROM gcr.io/distroless/static-debian12:nonroot AS service
COPY --from=build /out/zoomtoken /
# The working directory holds the default SQLite file of connected accounts (zoomtoken.db):
# writable by the service's user; mount a persistent volume here to keep connections.
COPY --from=build --chown=65532:65532 /out/data /data
WORKDIR /data
USER nonroot:nonroot
ENV PORT=4000
EXPOSE 4000
HEALTHCHECK --interval=15s --timeout=5s --start-period=5s --retries=3 CMD ["/zoomtoken", "healthcheck"]
ENTRYPOINT ["/zoomtoken"]
