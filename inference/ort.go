// Package inference holds the video engines and the ONNX Runtime plumbing
// they share: the process-wide runtime environment, a small builder for ONNX
// graphs, and the camera-motion engine.
package inference

import (
	"errors"
	"fmt"
	"sync"

	ort "github.com/yalue/onnxruntime_go"
)

// The ONNX Runtime environment is process-wide; this guard is the package's
// only global state.
var ortEnv struct {
	mu   sync.Mutex
	lib  string
	refs int
}

// ErrORTNotInitialized is returned by constructors that need the runtime
// before InitORT succeeded.
var ErrORTNotInitialized = errors.New("inference: ONNX Runtime not initialized (call InitORT)")

// InitORT loads the ONNX Runtime shared library at libPath and creates the
// process-wide environment. It is idempotent and safe for concurrent callers;
// calling it again with a different path is an error.
func InitORT(libPath string) error {
	if libPath == "" {
		return errors.New("inference: ONNX Runtime library path is empty")
	}
	ortEnv.mu.Lock()
	defer ortEnv.mu.Unlock()
	if ortEnv.refs > 0 || ort.IsInitialized() {
		if ortEnv.lib != "" && ortEnv.lib != libPath {
			return fmt.Errorf("inference: ONNX Runtime already loaded from %s", ortEnv.lib)
		}
		ortEnv.refs++
		return nil
	}
	ort.SetSharedLibraryPath(libPath)
	if err := ort.InitializeEnvironment(ort.WithLogLevelError()); err != nil {
		return fmt.Errorf("inference: init ONNX Runtime from %s: %w", libPath, err)
	}
	ortEnv.lib = libPath
	ortEnv.refs = 1
	return nil
}

// DestroyORT releases one InitORT; the environment is torn down when the last
// caller releases it. Sessions must be closed first.
func DestroyORT() error {
	ortEnv.mu.Lock()
	defer ortEnv.mu.Unlock()
	if ortEnv.refs == 0 {
		return nil
	}
	ortEnv.refs--
	if ortEnv.refs > 0 {
		return nil
	}
	ortEnv.lib = ""
	if err := ort.DestroyEnvironment(); err != nil {
		return fmt.Errorf("inference: destroy ONNX Runtime: %w", err)
	}
	return nil
}

// ORTVersion reports the loaded ONNX Runtime version, or "" before InitORT.
func ORTVersion() string {
	if !ort.IsInitialized() {
		return ""
	}
	return ort.GetVersion()
}
