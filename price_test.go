package paimeng

import "testing"

func TestPricesDefaults(t *testing.T) {
	p := NewPrices(10)
	cases := []struct {
		engine  string
		mode    Mode
		seconds int
		lane    Lane
		want    int64
	}{
		{"camera", "", 0, "", 10},
		{"camera", ModeStd, 5, LaneFast, 10},
		{"camera", ModeStd, 10, LaneFast, 20},   // 10 s costs 2×
		{"camera", ModePro, 5, LaneFast, 18},    // pro 1.75×, rounded
		{"camera", ModePro, 10, LaneFast, 35},   // both
		{"camera", ModeStd, 5, LaneRelax, 5},    // relax half
		{"learned", ModePro, 10, LaneRelax, 18}, // 17.5 rounded
	}
	for _, c := range cases {
		got, err := p.Price(c.engine, c.mode, c.seconds, c.lane)
		if err != nil || got != c.want {
			t.Errorf("Price(%s, %s, %d, %s) = %d, %v; want %d", c.engine, c.mode, c.seconds, c.lane, got, err, c.want)
		}
	}
	for _, bad := range []struct {
		mode    Mode
		seconds int
		lane    Lane
	}{{"ultra", 5, LaneFast}, {ModeStd, 7, LaneFast}, {ModeStd, 5, "slow"}} {
		if _, err := p.Price("camera", bad.mode, bad.seconds, bad.lane); ErrorCode(err) != EBadOption {
			t.Errorf("Price(%v) error %v, want %s", bad, err, EBadOption)
		}
	}
}

func TestParsePrices(t *testing.T) {
	p, err := ParsePrices(`
# community prices
camera=8, learned=40   # per engine
pro=2 10s=1.5
relax=0
camera/pro/10=30
`, 10)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		engine  string
		mode    Mode
		seconds int
		lane    Lane
		want    int64
	}{
		{"camera", ModeStd, 5, LaneFast, 8},
		{"camera", ModeStd, 10, LaneFast, 12},
		{"camera", ModePro, 5, LaneFast, 16},
		{"camera", ModePro, 10, LaneFast, 30}, // exact cell wins
		{"camera", ModePro, 10, LaneRelax, 0}, // relax free
		{"learned", ModeStd, 5, LaneFast, 40},
		{"other", ModeStd, 5, LaneFast, 10}, // "*" keeps the base
	} {
		got, err := p.Price(c.engine, c.mode, c.seconds, c.lane)
		if err != nil || got != c.want {
			t.Errorf("Price(%s, %s, %d, %s) = %d, %v; want %d", c.engine, c.mode, c.seconds, c.lane, got, err, c.want)
		}
	}
	rows := p.Rows([]string{"camera"})
	if len(rows) != 4 || rows[3].Mode != ModePro || rows[3].Seconds != 10 || rows[3].Fast != 30 || rows[3].Relax != 0 {
		t.Fatalf("rows %+v", rows)
	}
	for _, bad := range []string{"camera", "camera=-1", "pro=x", "camera/ultra/5=3", "camera/pro/7=3", "a/b=1", "relax=-0.5"} {
		if _, err := ParsePrices(bad, 10); ErrorCode(err) != EINVALID {
			t.Errorf("ParsePrices(%q) error %v, want %s", bad, err, EINVALID)
		}
	}
}
