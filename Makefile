# qdrant-auth-proxy. `make run` for the demo, `make test` for every test.
.PHONY: all install build certs run test bench clean

# Everything runs on the one supported Node (.node-version): the installed one when it is that
# version, else that version fetched once from the npm registry (scripts/node-bin.sh).
NODE_BIN := $(shell bash scripts/node-bin.sh)
ifeq ($(NODE_BIN),)
$(error could not find or fetch Node.js $(shell cat .node-version): see scripts/node-bin.sh)
endif
export PATH := $(NODE_BIN):$(PATH)

all: build

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund

install: node_modules/.package-lock.json

build: install
	npm run build

certs: certs/out/ca.pem

certs/out/ca.pem:
	bash certs/gen-certs.sh certs/out

run: build certs
	bash scripts/demo.sh

# Lint and format check (Biome, import cycles included), type-check of src and test, then every test
# (the rate-limit tests start a redis-server of their own: scripts/ensure-redis.sh installs it).
test: build
	bash scripts/ensure-redis.sh
	npm run lint
	npm run typecheck
	npx vitest run

# The official Qdrant clients (Go, Java, Rust, Python, JS) through the proxy over TLS; a client
# whose toolchain is missing is skipped. See test/interop/run.sh.
.PHONY: interop
interop: build certs
	bash test/interop/run.sh

bench: build certs
	bash scripts/ensure-redis.sh
	bash bench/run.sh

clean:
	rm -rf dist proto/*.binpb certs/out bench/results .test-results
