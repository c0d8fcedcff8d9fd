package paimeng

import (
	"bufio"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Prices is the price table: credits per clip keyed by engine, mode and
// duration, with a factor for the relax lane.
//
// The written form (PAIMENG_PRICES, or a file of it) is a list of entries
// separated by commas, spaces or new lines; '#' starts a comment:
//
//	camera=10          std, 5 s price of an engine ("*" for any engine)
//	camera/pro/10=40   one exact cell, overriding the factors
//	pro=1.75           pro costs 1.75× std
//	10s=2              10 s costs 2× 5 s
//	relax=0.5          the relax lane costs half (0 makes it free)
//
// Derived prices are rounded to the nearest credit.
type Prices struct {
	base  map[string]int64 // engine → std 5 s
	exact map[priceKey]int64
	pro   float64
	ten   float64
	relax float64
}

type priceKey struct {
	engine  string
	mode    Mode
	seconds int
}

// PriceRow is one cell of the table, for display.
type PriceRow struct {
	Engine  string
	Mode    Mode
	Seconds int
	Fast    int64
	Relax   int64
}

// Default price factors.
const (
	DefaultProFactor   = 1.75
	DefaultTenFactor   = 2
	DefaultRelaxFactor = 0.5
)

// NewPrices returns a table where every engine's std 5 s clip costs base.
func NewPrices(base int64) *Prices {
	return &Prices{
		base:  map[string]int64{"*": base},
		exact: map[priceKey]int64{},
		pro:   DefaultProFactor,
		ten:   DefaultTenFactor,
		relax: DefaultRelaxFactor,
	}
}

// ParsePrices reads the written form on top of NewPrices(base).
func ParsePrices(spec string, base int64) (*Prices, error) {
	p := NewPrices(base)
	sc := bufio.NewScanner(strings.NewReader(spec))
	for line := 1; sc.Scan(); line++ {
		text, _, _ := strings.Cut(sc.Text(), "#")
		for _, f := range strings.FieldsFunc(text, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == ';' }) {
			if err := p.set(f); err != nil {
				return nil, Errorf(EINVALID, "prices, line %d: %v", line, err)
			}
		}
	}
	return p, nil
}

func (p *Prices) set(entry string) error {
	key, val, ok := strings.Cut(entry, "=")
	key, val = strings.ToLower(strings.TrimSpace(key)), strings.TrimSpace(val)
	if !ok || key == "" || val == "" {
		return fmt.Errorf("%q is not name=value", entry)
	}
	factor := func(dst *float64, min float64) error {
		f, err := strconv.ParseFloat(val, 64)
		if err != nil || math.IsNaN(f) || f < min || f > 1000 {
			return fmt.Errorf("%s: %q is not a factor ≥ %g", key, val, min)
		}
		*dst = f
		return nil
	}
	switch key {
	case "pro":
		return factor(&p.pro, 0)
	case "10s", "10":
		return factor(&p.ten, 0)
	case "relax":
		return factor(&p.relax, 0)
	}
	n, err := strconv.ParseInt(val, 10, 64)
	if err != nil || n < 0 {
		return fmt.Errorf("%s: %q is not a price ≥ 0", key, val)
	}
	parts := strings.Split(key, "/")
	switch len(parts) {
	case 1:
		p.base[parts[0]] = n
		return nil
	case 3:
		mode := Mode(parts[1])
		if mode != ModeStd && mode != ModePro {
			return fmt.Errorf("%s: mode must be std or pro", key)
		}
		sec, err := strconv.Atoi(strings.TrimSuffix(parts[2], "s"))
		if err != nil || (sec != 5 && sec != 10) {
			return fmt.Errorf("%s: duration must be 5 or 10", key)
		}
		p.exact[priceKey{parts[0], mode, sec}] = n
		return nil
	}
	return fmt.Errorf("%q: write engine=N or engine/mode/seconds=N", key)
}

// Price returns what a clip costs. Zero mode, seconds and lane mean std, 5
// and fast.
func (p *Prices) Price(engine string, mode Mode, seconds int, lane Lane) (int64, error) {
	if mode == "" {
		mode = ModeStd
	}
	if seconds == 0 {
		seconds = 5
	}
	if lane == "" {
		lane = LaneFast
	}
	if mode != ModeStd && mode != ModePro {
		return 0, Errorf(EBadOption, "mode must be std or pro, not %q", mode)
	}
	if seconds != 5 && seconds != 10 {
		return 0, Errorf(EBadOption, "seconds must be 5 or 10, not %d", seconds)
	}
	if lane != LaneFast && lane != LaneRelax {
		return 0, Errorf(EBadOption, "lane must be fast or relax, not %q", lane)
	}
	price, ok := p.exact[priceKey{engine, mode, seconds}]
	if !ok {
		price, ok = p.exact[priceKey{"*", mode, seconds}]
	}
	if !ok {
		base, found := p.base[engine]
		if !found {
			base = p.base["*"]
		}
		f := 1.0
		if mode == ModePro {
			f *= p.pro
		}
		if seconds == 10 {
			f *= p.ten
		}
		price = int64(math.Round(float64(base) * f))
	}
	if lane == LaneRelax {
		price = int64(math.Round(float64(price) * p.relax))
	}
	return price, nil
}

// Rows lists every cell for the given engines, in a stable order.
func (p *Prices) Rows(engines []string) []PriceRow {
	engines = slices.Clone(engines)
	var out []PriceRow
	for _, e := range engines {
		for _, m := range []Mode{ModeStd, ModePro} {
			for _, s := range []int{5, 10} {
				fast, _ := p.Price(e, m, s, LaneFast)
				relax, _ := p.Price(e, m, s, LaneRelax)
				out = append(out, PriceRow{Engine: e, Mode: m, Seconds: s, Fast: fast, Relax: relax})
			}
		}
	}
	return out
}
