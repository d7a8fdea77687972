# syntax=docker/dockerfile:1
# Build stage: the Go version is the one go.mod names (a test keeps them equal).
FROM golang:1.26.8-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/ ./cmd/zoomtoken ./cmd/zoomemu
RUN mkdir /out/data

# Final stage: static binaries on distroless (CA certificates, no shell), as a non-root user.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/zoomtoken /out/zoomemu /
# The working directory holds the default SQLite file of connected accounts (zoomtoken.db):
# writable by the service's user; mount a persistent volume here to keep connections.
COPY --from=build --chown=65532:65532 /out/data /data
WORKDIR /data
USER nonroot:nonroot
ENV PORT=4000
EXPOSE 4000
HEALTHCHECK --interval=15s --timeout=5s --start-period=5s --retries=3 CMD ["/zoomtoken", "healthcheck"]
ENTRYPOINT ["/zoomtoken"]
