package moderation

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/paimeng/paimeng"
)

func TestNormalize(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"Ban", "ban"},
		{"b a n", "ban"},
		{"B.A-N_!", "ban"},
		{"ｂａｎ", "ban"},                   // full-width letters
		{"ＢＡＮ", "ban"},                   // full-width capitals
		{"b\u200ban", "ban"},             // zero width space
		{"b\u200c\u200da\u2060n", "ban"}, // joiners, word joiner
		{"\ufeffban\u00ad", "ban"},       // BOM, soft hyphen
		{"b\u180ean", "ban"},             // Mongolian vowel separator
		{"\u202enab\u202c", "nab"},       // bidi override shows "ban", is "nab"
		{"b\u2066a\u2069n\u061c", "ban"},
		{"Ⓑⓐⓝ", "ban"},  // circled letters
		{"𝐛𝐚𝐧", "ban"},  // mathematical bold
		{"ﬁre", "fire"}, // ligature
		{"暴 力", "暴力"},
		{"暴，力。", "暴力"},
		{"１２３", "123"},
		{"e\u0301", "é"}, // composes
		{"  \t\n", ""},
		{"", ""},
	}
	for _, tt := range tests {
		if got := Normalize(tt.in); got != tt.want {
			t.Errorf("Normalize(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestCheck(t *testing.T) {
	f := New([]string{"ban", "暴力", "  ", "!!!", "Bad Word", "ban"})
	if f.Len() != 3 {
		t.Fatalf("Len = %d, want 3 (blank, punctuation-only and duplicate terms ignored)", f.Len())
	}
	tests := []struct {
		prompt string
		term   string // "" means allowed
	}{
		{"a slow push in over the lake", ""},
		{"镜头缓慢推近，湖面波光粼粼", ""},
		{"", ""},
		{"please BAN this", "ban"},
		{"b a n", "ban"},
		{"b\u200ban", "ban"},
		{"\u202enab\u202c", ""}, // displays as "ban" but is "nab"
		{"x\u202eban\u202cx", "ban"},
		{"ｂａｎ", "ban"},
		{"b.a.n.", "ban"},
		{"一段暴力的画面", "暴力"},
		{"暴 力", "暴力"},
		{"暴\u200b力", "暴力"},
		{"暴　力", "暴力"}, // ideographic space
		{"a badword here", "Bad Word"},
		{"B-A-D w.o.r.d", "Bad Word"},
	}
	for _, tt := range tests {
		err := f.Check(tt.prompt)
		if tt.term == "" {
			if err != nil {
				t.Errorf("Check(%q) = %v, want allowed", tt.prompt, err)
			}
			continue
		}
		if paimeng.ErrorCode(err) != paimeng.EPromptBlocked {
			t.Errorf("Check(%q) = %v, want %s", tt.prompt, err, paimeng.EPromptBlocked)
			continue
		}
		if msg := paimeng.ErrorMessage(err); !strings.Contains(msg, tt.term) {
			t.Errorf("Check(%q) message %q does not name %q", tt.prompt, msg, tt.term)
		}
	}
}

func TestCheckAllowsWithoutTerms(t *testing.T) {
	var nilFilter *Filter
	for _, f := range []*Filter{nilFilter, New(nil), New([]string{"", " ", "…"})} {
		if err := f.Check("anything at all, ban 暴力"); err != nil {
			t.Errorf("filter with %d terms: %v", f.Len(), err)
		}
	}
}

func TestCheckConcurrent(t *testing.T) {
	f := New([]string{"ban"})
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 200; j++ {
				if f.Check("b a n") == nil || f.Check("fine") != nil {
					t.Error("inconsistent result")
					return
				}
			}
		}()
	}
	wg.Wait()
}

func TestLoadTerms(t *testing.T) {
	path := filepath.Join(t.TempDir(), "terms.txt")
	data := "\ufeff# blocked terms\r\nban\r\n\r\n  暴力  \n   # indented comment\nC# sharp\nlast"
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := LoadTerms(path)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"ban", "暴力", "C# sharp", "last"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("LoadTerms = %q, want %q", got, want)
	}
	if err := New(got).Check("c sharp code"); paimeng.ErrorCode(err) != paimeng.EPromptBlocked {
		t.Errorf("loaded term not enforced: %v", err)
	}
	if _, err := LoadTerms(filepath.Join(t.TempDir(), "missing.txt")); err == nil || !strings.HasPrefix(err.Error(), "moderation: ") {
		t.Errorf("missing file: %v", err)
	}
}
