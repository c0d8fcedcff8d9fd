package tokenize

import (
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// readLines splits a fixture file into lines, keeping every other byte
// (tabs, carriage returns, trailing spaces, invalid UTF-8) as it is.
func readLines(t testing.TB, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	if !strings.HasSuffix(s, "\n") {
		t.Fatalf("%s: no final newline", path)
	}
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}

func parseIDs(t testing.TB, line string) []int32 {
	t.Helper()
	var ids []int32
	for _, f := range strings.Fields(line) {
		n, err := strconv.ParseInt(f, 10, 32)
		if err != nil {
			t.Fatalf("bad id %q", f)
		}
		ids = append(ids, int32(n))
	}
	return ids
}

// spmCase is one line of testdata/spm_lines.txt with the ids spm_encode gave
// for it (no end-of-sequence id).
type spmCase struct {
	text string
	ids  []int32
}

func spmCases(t testing.TB, model string) []spmCase {
	t.Helper()
	lines := readLines(t, "testdata/spm_lines.txt")
	ids := readLines(t, "testdata/"+model+".ids")
	if len(lines) != len(ids) || len(lines) < 50 {
		t.Fatalf("%d lines, %d id lines", len(lines), len(ids))
	}
	out := make([]spmCase, len(lines))
	for i := range lines {
		out[i] = spmCase{lines[i], parseIDs(t, ids[i])}
	}
	return out
}

// The SentencePiece model files give the ids spm_encode gave (committed by
// scripts/spm-fixture.sh), plus the trailing </s>.
func TestSPMFixture(t *testing.T) {
	for _, model := range []string{"spm_t5", "spm_bytes"} {
		tk := load(t, model+".model")
		for _, c := range spmCases(t, model) {
			want := append(append([]int32{}, c.ids...), 1)
			if got := tk.Encode(c.text); !reflect.DeepEqual(got, want) {
				t.Errorf("%s: Encode(%q) = %v, want %v", model, c.text, got, want)
			}
		}
	}
}
