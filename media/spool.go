package media

import (
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/paimeng/paimeng"
)

// DefaultSpoolMemory is how many bytes of frames a job keeps in memory
// ahead of its encoder before further frames go to a file.
const DefaultSpoolMemory = 64 << 20

// errSpoolAborted stops the frame feeder when a render is abandoned.
var errSpoolAborted = errors.New("media: frame buffer aborted")

// frameSpool decouples an engine from its encoder: WriteFrame copies the
// frame into memory (up to memMax bytes) or appends it to a raw file in
// dir, and never waits for the encoder; a feeder goroutine hands the frames
// in order to the destination sink as fast as it takes them.
type frameSpool struct {
	dst    paimeng.FrameSink
	size   int // bytes per frame
	memMax int
	dir    string

	mu       sync.Mutex
	cond     *sync.Cond
	mem      [][]byte // frames waiting in memory; they precede those in the file
	free     [][]byte // spent frame buffers for reuse
	file     *os.File // spill file; frames [read, written) wait in it
	read     int64
	written  int64
	done     bool  // no more frames will come
	aborted  bool  // stop feeding
	err      error // the feeder's failure
	fed      int   // frames handed to dst
	finished chan struct{}
}

// newFrameSpool starts feeding dst with frames of size bytes written to
// the returned spool.
func newFrameSpool(dst paimeng.FrameSink, size, memMax int, dir string) *frameSpool {
	if memMax <= 0 {
		memMax = DefaultSpoolMemory
	}
	s := &frameSpool{dst: dst, size: size, memMax: memMax, dir: dir, finished: make(chan struct{})}
	s.cond = sync.NewCond(&s.mu)
	go s.feed()
	return s
}

// WriteFrame implements paimeng.FrameSink. It fails only if the feeder has
// failed or the spill file cannot be written.
func (s *frameSpool) WriteFrame(f []byte) error {
	if len(f) != s.size {
		return fmt.Errorf("media: frame is %d bytes, want %d", len(f), s.size)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	if s.done || s.aborted {
		return errors.New("media: frame buffer closed")
	}
	if s.read == s.written {
		// The file is drained: start it over.
		s.read, s.written = 0, 0
	}
	if s.written == 0 && (len(s.mem)+1)*s.size <= s.memMax {
		var b []byte
		if n := len(s.free); n > 0 {
			b, s.free = s.free[n-1], s.free[:n-1]
		} else {
			b = make([]byte, s.size)
		}
		copy(b, f)
		s.mem = append(s.mem, b)
		s.cond.Signal()
		return nil
	}
	if s.file == nil {
		file, err := os.CreateTemp(s.dir, ".frames-*.raw")
		if err != nil {
			return fmt.Errorf("media: frame spill file: %w", err)
		}
		s.file = file
	}
	// The feeder reads only frames below written, so this write does not
	// race with its reads.
	off := s.written * int64(s.size)
	s.mu.Unlock()
	_, err := s.file.WriteAt(f, off)
	s.mu.Lock()
	if err != nil {
		return fmt.Errorf("media: frame spill file: %w", err)
	}
	s.written++
	s.cond.Signal()
	return nil
}

// feed hands frames to dst until the spool is closed and empty, aborted,
// or dst fails.
func (s *frameSpool) feed() {
	defer close(s.finished)
	var buf []byte
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		for !s.aborted && len(s.mem) == 0 && s.read == s.written && !s.done {
			s.cond.Wait()
		}
		if s.aborted {
			if s.err == nil {
				s.err = errSpoolAborted
			}
			return
		}
		var frame []byte
		fromMem := len(s.mem) > 0
		switch {
		case fromMem:
			frame = s.mem[0]
			s.mem[0] = nil
			s.mem = s.mem[1:]
		case s.read < s.written:
			if buf == nil {
				buf = make([]byte, s.size)
			}
			off := s.read * int64(s.size)
			s.mu.Unlock()
			_, err := s.file.ReadAt(buf, off)
			s.mu.Lock()
			if err != nil {
				s.err = fmt.Errorf("media: frame spill file: %w", err)
				return
			}
			frame = buf
		default: // done and empty
			return
		}
		s.mu.Unlock()
		err := s.dst.WriteFrame(frame)
		s.mu.Lock()
		if err != nil {
			s.err = err
			return
		}
		s.fed++
		if fromMem {
			s.free = append(s.free, frame)
		} else {
			// Only now may the producer start the file over.
			s.read++
		}
	}
}

// Finish marks the end of the frames, waits until the feeder has handed
// all of them to dst, and removes the spill file. It returns the feeder's
// error and the number of frames fed.
func (s *frameSpool) Finish() (int, error) {
	s.mu.Lock()
	s.done = true
	s.cond.Signal()
	s.mu.Unlock()
	<-s.finished
	s.cleanup()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fed, s.err
}

// Abort stops the feeder, drops the waiting frames and removes the spill
// file. A feeder blocked in dst.WriteFrame is released only when dst fails
// (as an encoder does once ffmpeg is killed), so callers kill it first.
func (s *frameSpool) Abort() {
	s.mu.Lock()
	s.aborted = true
	s.cond.Signal()
	s.mu.Unlock()
	<-s.finished
	s.cleanup()
}

func (s *frameSpool) cleanup() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mem, s.free = nil, nil
	if s.file != nil {
		s.file.Close()
		os.Remove(s.file.Name())
		s.file = nil
	}
}
