package media

import (
	"os"
	"syscall"
)

// growPipe raises a pipe's kernel buffer towards one frame so a frame is
// handed to ffmpeg in few wake-ups; failure only costs speed.
func growPipe(f *os.File, size int) {
	const fSetPipeSz = 1031 // F_SETPIPE_SZ
	for size > 64<<10 {
		if _, _, e := syscall.Syscall(syscall.SYS_FCNTL, f.Fd(), fSetPipeSz, uintptr(size)); e == 0 {
			return
		}
		size /= 2
	}
}
