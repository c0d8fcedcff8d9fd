//go:build !linux

package media

import "os"

func growPipe(*os.File, int) {}
