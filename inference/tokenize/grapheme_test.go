package tokenize

import (
	"bufio"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

func graphemes(s string) []string {
	var out []string
	for s != "" {
		n := nextGrapheme(s)
		out = append(out, s[:n])
		s = s[n:]
	}
	return out
}

func TestGraphemes(t *testing.T) {
	for _, c := range []struct {
		s    string
		want []string
	}{
		{"", nil},
		{"abc", []string{"a", "b", "c"}},
		{"e\u0301x", []string{"e\u0301", "x"}},
		{"\r\n\n", []string{"\r\n", "\n"}},
		{"👨\u200d👩\u200d👧!", []string{"👨\u200d👩\u200d👧", "!"}},
		{"👍🏽❤️", []string{"👍🏽", "❤️"}},
		{"🇯🇵🇨🇳🇺", []string{"🇯🇵", "🇨🇳", "🇺"}},
		{"각\u1100\u1161\u11a8", []string{"각", "\u1100\u1161\u11a8"}},
		{"नमस्ते", []string{"न", "म", "स्", "ते"}},
		{"a\u200db", []string{"a\u200d", "b"}},
	} {
		if got := graphemes(c.s); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%q: %q, want %q", c.s, got, c.want)
		}
	}
}

// TestGraphemeBreakTest runs Unicode's conformance cases
// (testdata/GraphemeBreakTest.txt, the Unicode 15.0 file from Debian's
// unicode-data package, from which the table is generated).
func TestGraphemeBreakTest(t *testing.T) {
	f, err := os.Open("testdata/GraphemeBreakTest.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	cases, failed := 0, 0
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "#")
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		var want []string
		var cur strings.Builder
		for _, f := range fields[1:] {
			switch f {
			case "÷":
				want = append(want, cur.String())
				cur.Reset()
			case "×":
			default:
				cp, err := strconv.ParseUint(f, 16, 32)
				if err != nil {
					t.Fatalf("bad line %q", sc.Text())
				}
				cur.WriteRune(rune(cp))
			}
		}
		s := strings.Join(want, "")
		cases++
		// Surrogates cannot be represented in a Go string.
		if strings.ContainsRune(s, '\uFFFD') && !strings.Contains(sc.Text(), "FFFD") {
			continue
		}
		if got := graphemes(s); !reflect.DeepEqual(got, want) {
			failed++
			if failed <= 10 {
				t.Errorf("%s: %q, want %q", strings.TrimSpace(sc.Text()), got, want)
			}
		}
	}
	if cases < 500 {
		t.Fatalf("only %d cases read", cases)
	}
	if failed > 0 {
		t.Errorf("%d of %d cases failed", failed, cases)
	}
}
