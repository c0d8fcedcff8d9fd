package inference

import (
	"errors"
	"sync"
)

// SessionSet loads each model file once and hands the same Session to every
// caller for the life of the process, so jobs share loaded weights. Loads of
// different models proceed in parallel; concurrent callers asking for the
// same model wait for one load. A failed load is not cached.
type SessionSet struct {
	cfg    SessionConfig
	mu     sync.Mutex
	m      map[string]*setEntry
	closed bool
}

type setEntry struct {
	done chan struct{}
	s    *Session
	err  error
}

// NewSessionSet makes an empty set whose sessions use cfg (Name is set to
// each model's path).
func NewSessionSet(cfg SessionConfig) *SessionSet {
	return &SessionSet{cfg: cfg, m: map[string]*setEntry{}}
}

// Get returns the session for the model at path, loading it on first use.
// The set owns the session: do not Close it.
func (ss *SessionSet) Get(path string) (*Session, error) {
	ss.mu.Lock()
	if ss.closed {
		ss.mu.Unlock()
		return nil, ErrClosed
	}
	e, ok := ss.m[path]
	if !ok {
		e = &setEntry{done: make(chan struct{})}
		ss.m[path] = e
	}
	ss.mu.Unlock()
	if ok {
		<-e.done
		return e.s, e.err
	}
	cfg := ss.cfg
	cfg.Name = path
	e.s, e.err = NewSessionFromFile(path, cfg)
	if e.err != nil {
		ss.mu.Lock()
		delete(ss.m, path)
		ss.mu.Unlock()
	}
	close(e.done)
	return e.s, e.err
}

// Close closes every loaded session; later Gets fail with ErrClosed. Call it
// once no job is running.
func (ss *SessionSet) Close() error {
	ss.mu.Lock()
	ss.closed = true
	m := ss.m
	ss.m = map[string]*setEntry{}
	ss.mu.Unlock()
	var errs []error
	for _, e := range m {
		<-e.done
		if e.s != nil {
			errs = append(errs, e.s.Close())
		}
	}
	return errors.Join(errs...)
}
