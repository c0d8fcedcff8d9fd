package tokenize

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// tokenizersDir is where scripts/tokenizers.sh (run by make test) keeps real
// tokenizer files.
func tokenizersDir(t *testing.T) string {
	t.Helper()
	d := os.Getenv("PAIMENG_TOKENIZERS_DIR")
	if d == "" {
		d = filepath.Join("..", "..", ".cache", "tokenizers")
	}
	return d
}

// GPT-2's real tokenizer.json (byte-level BPE, 50,257 entries) gives the
// encodings published in the Hugging Face documentation for GPT-2.
func TestGPT2PublishedEncodings(t *testing.T) {
	path := filepath.Join(tokenizersDir(t), "gpt2", "tokenizer.json")
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("GPT-2 tokenizer missing (%v): run scripts/tokenizers.sh (make test does)", err)
	}
	tk, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if n := tk.VocabSize(); n != 50257 {
		t.Errorf("vocabulary %d, want 50257", n)
	}
	for _, c := range []struct {
		text string
		ids  []int32
	}{
		{"Hello world", []int32{15496, 995}},
		{"Hello, my dog is cute", []int32{15496, 11, 616, 3290, 318, 13779}},
		{"<|endoftext|>", []int32{50256}},
	} {
		if got := tk.EncodeRaw(c.text); !reflect.DeepEqual(got, c.ids) {
			t.Errorf("%q: %v, want %v", c.text, got, c.ids)
		}
	}
}
