//go:build !linux

package kernels

import (
	"errors"
	"runtime"
)

type symbol struct {
	ptr  any
	name string
}

func dlopen(name string) (uintptr, error) {
	return 0, errors.New(name + ": CUDA libraries are only loaded on Linux, not " + runtime.GOOS)
}

func bind(uintptr, string, []symbol) error { return errors.New("unreachable") }
