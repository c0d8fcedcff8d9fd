# paimeng — make run | make test | make build
GO ?= go
export CGO_ENABLED := 1

.PHONY: build run test bench setup clean

build:
	$(GO) build -o bin/paimeng ./cmd/paimeng

setup:
	scripts/setup.sh run

run: setup build
	PAIMENG_ORT_LIBRARY=$${PAIMENG_ORT_LIBRARY:-$(CURDIR)/.cache/ort/libonnxruntime.so.1} ./bin/paimeng dev

test:
	scripts/test.sh

bench: setup
	bench/motion.sh
	bench/submit.sh
	bench/denoiser.sh

clean:
	rm -rf bin
