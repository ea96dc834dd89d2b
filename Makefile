# Build, test and run targets. The Dockerfile compiles with the same
# command as `build`, so the image and CI produce the same binary.

BIN      := bin/s3-batching-agent
PKG      := ./cmd/s3-batching-agent
IMAGE    ?= s3-batching-agent
TAG      ?= latest
DEMO_DIR ?= deploy/demo-store

# Static build: CGO_ENABLED=0 so the binary runs on distroless/static,
# -trimpath and -s -w so it holds no build paths or symbol tables.
GO_BUILD := CGO_ENABLED=0 go build -trimpath -ldflags "-s -w"

.PHONY: build test image run-local clean

build:
	$(GO_BUILD) -o $(BIN) $(PKG)

# test/run.sh installs what the integration tests need (versitygw, the AWS
# CLI, boto3, requests, the Node.js SDK), then runs both Go modules.
test:
	test/run.sh

image:
	docker build -t $(IMAGE):$(TAG) .

# The embedded store serves DEMO_DIR on 127.0.0.1 only; it needs no
# credentials and opens no connection beyond this machine.
run-local: build
	$(BIN) --bind 127.0.0.1 --local-store $(DEMO_DIR) --log-format text

clean:
	rm -rf bin
