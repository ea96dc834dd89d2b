# syntax=docker/dockerfile:1

# The golang images set GOTOOLCHAIN=local, so GO_VERSION must be at least
# the go line of go.mod or the build stops instead of fetching a toolchain.
ARG GO_VERSION=1.26.8

# Build stage: `make build`, the same command CI runs.
FROM golang:${GO_VERSION} AS build
WORKDIR /src

# Module downloads get their own layer, so a source change does not fetch
# them again.
COPY go.mod go.sum ./
RUN go mod download

COPY . .
RUN make build

# Final stage: the static binary on distroless/static, which has CA
# certificates and tzdata, runs as the nonroot user (UID 65532) and has no
# shell or package manager.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /src/bin/s3-batching-agent /s3-batching-agent
USER 65532:65532

# 8080: helper API with /health, /ready and /metrics. 9000: S3 listener.
EXPOSE 8080 9000
ENTRYPOINT ["/s3-batching-agent"]
