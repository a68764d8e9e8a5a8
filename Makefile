# Parley. `make run` starts the whole system locally; `make test` runs every test.
SHELL := /bin/bash
# One function per directory under functions/; internal/topology declares them, and its
# test fails when the directories and the declaration differ.
FUNCTIONS := $(notdir $(wildcard functions/*))
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
GOTESTSUM := gotest.tools/gotestsum@v1.13.0
GOFLAGS_LAMBDA := -tags lambda.norpc -trimpath -ldflags="-s -w"

.PHONY: all build run test fuzz lint deps node-deps browser-deps cassandra-deps rie clean bench sizes $(FUNCTIONS:%=build-%)

all: build

## build: every function as a linux/arm64 bootstrap (bin/NAME/bootstrap); the CDK stack zips
## bin/NAME/ itself when it uploads it
build: $(FUNCTIONS:%=build-%)

$(FUNCTIONS:%=build-%): build-%:
	@mkdir -p bin/$*
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 go build $(GOFLAGS_LAMBDA) -o bin/$*/bootstrap ./functions/$*

## sizes: the size of every bootstrap, and deflated (about the zip that CDK uploads)
sizes: build
	@for f in $(FUNCTIONS); do printf '%-14s %8d bytes bootstrap  %8d bytes deflated\n' $$f $$(stat -c %s bin/$$f/bootstrap) $$(gzip -9 -c bin/$$f/bootstrap | wc -c); done

## deps: what the tests and the local runtime need besides Go (dynalite, playwright-core,
## chromium, Cassandra's jars, the Lambda Runtime Interface Emulator)
deps: node-deps browser-deps cassandra-deps rie

## rie: the AWS Lambda Runtime Interface Emulator in .tools/bin/ (parley local --lambda-rie)
rie:
	scripts/install-rie.sh

cassandra-deps:
	scripts/cassandra/cassandra.sh fetch

node-deps: node_modules/.package-lock.json

node_modules/.package-lock.json: package.json $(wildcard package-lock.json)
	npm install --no-audit --no-fund
	@touch $@

browser-deps:
	@command -v chromium >/dev/null 2>&1 || ./scripts/install-chromium.sh

## run: the whole system on this machine at http://127.0.0.1:8080/
run: node-deps
	go run ./cmd/parley local $(ARGS)

## test: every test: Go (with one real Cassandra for the whole run), the browser test, the infra tests
test: deps
	@mkdir -p test-output
	scripts/cassandra/with-cassandra.sh go run $(GOTESTSUM) --format testname --format-hide-empty-pkg \
		--jsonfile test-output/go-test.json -- -count=1 -timeout 40m ./...
	@# gotestsum passes a run in which no test ran (a broken package pattern, say): refuse it.
	@grep -q '"Action":"pass","Package":"[^"]*","Test":' test-output/go-test.json || { echo "no Go test ran"; exit 1; }
	$(MAKE) fuzz FUZZTIME=5
	$(MAKE) infra-test localstack-check

## fuzz: every Go fuzz target for FUZZTIME seconds each (default 10; make test runs 5)
FUZZTIME ?= 10
fuzz:
	scripts/fuzz.sh $(FUZZTIME)

## lint: gofmt, go vet and staticcheck
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	go vet ./...
	go run $(STATICCHECK) ./...
	$(MAKE) infra-lint localstack-check
	shellcheck scripts/*.sh scripts/cassandra/*.sh .ci/run

## bench: the Go benchmarks of the hot paths
bench:
	go test -run '^$$' -bench . -benchmem ./internal/chat/ ./internal/awslambda/

clean:
	rm -rf bin cdk.out infra/cdk.out test-output

# synth, diff, deploy, destroy, infra-test and the localstack-* targets.
include infra/Makefile.inc
