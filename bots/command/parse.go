// Package command holds the chat grammar shared by every front end: the
// /gen command and its options, and all member-facing text in Chinese and
// English.
package command

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/paimeng/paimeng"
)

// Command names understood by every front end.
const (
	Gen     = "gen"
	Balance = "balance"
	Help    = "help"
	Start   = "start"
)

// Command is one parsed chat command.
type Command struct {
	Name string // lower case, without the slash: "gen", "balance", …
	Bot  string // the name after '@' in "/gen@MyBot", "" when absent
	Args string // everything after the command word, trimmed

	// Set for /gen only.
	Prompt  string
	Seconds int   // 0 means the default
	Seed    int64 // 0 means pick one
}

// Known reports whether the command is one of Gen, Balance, Help or Start.
func (c Command) Known() bool {
	switch c.Name {
	case Gen, Balance, Help, Start:
		return true
	}
	return false
}

// Parse parses a chat message such as "/gen 镜头缓慢推近 --seconds 10 --seed 42"
// or "/gen@MyBot prompt". Text that is not a command yields an EINVALID
// error. For /gen, the options --seconds 5|10 and --seed N (also written
// --seconds=10, seconds:10, 时长:10, 种子:42; a leading "—" as phones type
// "--" also works) are taken out of the prompt; an unknown --option or a bad
// value yields EBadOption and an over-long prompt EPromptTooLong. On such
// errors the returned Command still carries Name, Bot and Args, so a front
// end can tell whom the command was for.
func Parse(text string) (Command, error) {
	text = strings.TrimSpace(text)
	if !strings.HasPrefix(text, "/") {
		return Command{}, paimeng.Errorf(paimeng.EINVALID, "not a command")
	}
	word, rest := text, ""
	if i := strings.IndexFunc(text, unicode.IsSpace); i >= 0 {
		word, rest = text[:i], text[i:]
	}
	name, bot, _ := strings.Cut(word[1:], "@")
	if name == "" {
		return Command{}, paimeng.Errorf(paimeng.EINVALID, "empty command")
	}
	c := Command{Name: strings.ToLower(name), Bot: bot, Args: strings.TrimSpace(rest)}
	if c.Name != Gen {
		return c, nil
	}
	if err := c.parseGen(); err != nil {
		return c, err
	}
	return c, nil
}

// parseGen splits c.Args into prompt and options.
func (c *Command) parseGen() error {
	fields := strings.Fields(c.Args)
	prompt := make([]string, 0, len(fields))
	for i := 0; i < len(fields); i++ {
		f := fields[i]
		if name, ok := dashOption(f); ok {
			key, val, hasVal := strings.Cut(name, "=")
			if !hasVal {
				if i+1 >= len(fields) {
					return paimeng.Errorf(paimeng.EBadOption, "option --%s needs a value", key)
				}
				i++
				val = fields[i]
			}
			if err := c.setOption(key, val); err != nil {
				return err
			}
			continue
		}
		if key, val, ok := colonOption(f); ok {
			if err := c.setOption(key, val); err != nil {
				return err
			}
			continue
		}
		prompt = append(prompt, f)
	}
	c.Prompt = strings.Join(prompt, " ")
	if n := utf8.RuneCountInString(c.Prompt); n > paimeng.MaxPromptRunes {
		return paimeng.Errorf(paimeng.EPromptTooLong, "prompt has %d runes, limit %d", n, paimeng.MaxPromptRunes)
	}
	return nil
}

// dashOption recognises "--name", "--name=value" and the dash forms phones
// substitute for "--" ("—name", "–name"). Text such as "——推近" is prose.
func dashOption(f string) (string, bool) {
	var rest string
	switch {
	case strings.HasPrefix(f, "--"):
		rest = f[2:]
	case strings.HasPrefix(f, "—"):
		rest = f[len("—"):]
	case strings.HasPrefix(f, "–"):
		rest = f[len("–"):]
	default:
		return "", false
	}
	if rest == "" || !isASCIILetter(rest[0]) {
		return "", false
	}
	return rest, true
}

func isASCIILetter(b byte) bool { return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' }

// colonOption recognises "seconds:10" and "seed:42" (ASCII or full-width
// colon) for known option names only, so ordinary prose with colons stays
// in the prompt.
func colonOption(f string) (key, val string, ok bool) {
	f = strings.Replace(f, "：", ":", 1)
	key, val, ok = strings.Cut(f, ":")
	if !ok || val == "" || optionName(key) == "" {
		return "", "", false
	}
	return key, val, true
}

// optionName maps the spellings of an option to its canonical name.
func optionName(key string) string {
	switch strings.ToLower(key) {
	case "seconds", "second", "secs", "duration", "时长", "秒数":
		return "seconds"
	case "seed", "种子":
		return "seed"
	}
	return ""
}

func (c *Command) setOption(key, val string) error {
	switch optionName(key) {
	case "seconds":
		v := strings.TrimSuffix(strings.TrimSuffix(strings.ToLower(val), "s"), "秒")
		n, err := strconv.Atoi(v)
		if err != nil || (n != 5 && n != 10) {
			return paimeng.Errorf(paimeng.EBadOption, "seconds must be 5 or 10, got %q", val)
		}
		c.Seconds = n
	case "seed":
		n, err := strconv.ParseInt(val, 10, 64)
		if err != nil || n < 0 {
			return paimeng.Errorf(paimeng.EBadOption, "seed must be a non-negative integer, got %q", val)
		}
		c.Seed = n
	default:
		return paimeng.Errorf(paimeng.EBadOption, "unknown option %q", key)
	}
	return nil
}
