package testenv

import (
	"sync"
	"testing"
	"time"
)

// Changes lets the local API servers of the tests wake waiters whenever
// their state changes. The zero value is ready to use.
type Changes struct {
	mu sync.Mutex
	ch chan struct{}
}

// C returns a channel that is closed at the next Notify.
func (c *Changes) C() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ch == nil {
		c.ch = make(chan struct{})
	}
	return c.ch
}

// Notify wakes everyone waiting on C.
func (c *Changes) Notify() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ch != nil {
		close(c.ch)
	}
	c.ch = make(chan struct{})
}

// WaitFor waits up to a minute for cond to hold (work runs under -race on
// busy machines), checking again at every change and every 50 ms; the
// test fails otherwise, its message starting with who.
func (c *Changes) WaitFor(t testing.TB, who string, cond func() bool, what string, args ...any) {
	t.Helper()
	deadline := time.After(time.Minute)
	for {
		ch := c.C()
		if cond() {
			return
		}
		select {
		case <-ch:
		case <-time.After(50 * time.Millisecond):
		case <-deadline:
			t.Fatalf(who+": timed out waiting for "+what, args...)
			return
		}
	}
}
