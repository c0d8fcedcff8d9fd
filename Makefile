# paimeng — make run | make test | make build
GO ?= go
export CGO_ENABLED := 1

.PHONY: build run test bench setup clean torch-check

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

# Re-exports the PyTorch test packages (apt installs python3-torch when
# missing) and fails if they differ from the committed ones.
torch-check:
	scripts/torch-export.sh
	git diff --exit-code --stat -- inference/testdata
	test -z "$$(git status --porcelain -- inference/testdata)"

clean:
	rm -rf bin
