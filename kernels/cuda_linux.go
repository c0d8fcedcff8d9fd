//go:build linux

package kernels

import (
	"fmt"

	"github.com/ebitengine/purego"
)

// dlopen loads a shared library by file name (searched as dlopen does) or
// path; loaded libraries stay loaded.
func dlopen(name string) (uintptr, error) {
	return purego.Dlopen(name, purego.RTLD_NOW|purego.RTLD_GLOBAL)
}

// symbol is a C function to bind to a Go function variable.
type symbol struct {
	ptr  any
	name string
}

// bind resolves every symbol in h, or none: on failure the library is
// closed and the error names the missing symbol.
func bind(h uintptr, library string, syms []symbol) error {
	addrs := make([]uintptr, len(syms))
	for i, s := range syms {
		a, err := purego.Dlsym(h, s.name)
		if err != nil {
			purego.Dlclose(h)
			return fmt.Errorf("%s: %s missing (%v)", library, s.name, err)
		}
		addrs[i] = a
	}
	for i, s := range syms {
		purego.RegisterFunc(s.ptr, addrs[i])
	}
	return nil
}
