package media

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
)

// Shrink re-encodes the MP4 at in into out so that out is at most maxBytes,
// for platforms with an upload limit (WeChat video messages take 10 MB).
// Size, frame rate and colour tags are kept; the bitrate is set from the
// clip's length to fill about nine tenths of the budget, and lowered and
// tried again, up to three times, when the file still comes out too big.
func Shrink(ctx context.Context, opt EncodeOptions, in, out string, maxBytes int64) error {
	opt = opt.withDefaults()
	if maxBytes < 64<<10 {
		return fmt.Errorf("media: shrink: a budget of %d bytes is too small for a video", maxBytes)
	}
	info, err := ProbeContext(ctx, opt.ffprobe(), in)
	if err != nil {
		return fmt.Errorf("media: shrink: %w", err)
	}
	if info.Duration <= 0 {
		return fmt.Errorf("media: shrink %s: unknown duration", in)
	}
	// bits per second for 90% of the budget, less the container's share.
	kbps := int(float64(maxBytes)*8*0.9/info.Duration/1000) - 16
	for attempt := 0; attempt < 3; attempt++ {
		if kbps < 100 {
			return fmt.Errorf("media: shrink %s: %d bytes cannot hold %.1f s", in, maxBytes, info.Duration)
		}
		rate := strconv.Itoa(kbps) + "k"
		args := []string{"-nostdin", "-y", "-v", "error", "-i", in,
			"-map", "0:v:0", "-an",
			"-c:v", "libx264", "-preset", opt.Preset, "-profile:v", "high", "-pix_fmt", "yuv420p",
			"-b:v", rate, "-maxrate", rate, "-bufsize", strconv.Itoa(kbps) + "k",
			"-colorspace", "bt709", "-color_primaries", "bt709", "-color_trc", "bt709",
			"-movflags", "+faststart", out}
		cmd := exec.CommandContext(ctx, opt.FFmpeg, args...)
		if b, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("media: shrink %s: %w: %s", in, err, strings.TrimSpace(string(b)))
		}
		fi, err := os.Stat(out)
		if err != nil {
			return fmt.Errorf("media: shrink: %w", err)
		}
		if fi.Size() <= maxBytes {
			return nil
		}
		kbps = int(float64(kbps) * float64(maxBytes) / float64(fi.Size()) * 0.9)
	}
	return fmt.Errorf("media: shrink %s: still over %d bytes after three tries", in, maxBytes)
}

// ffprobe is the ffprobe beside the configured ffmpeg, or the one on PATH.
func (o EncodeOptions) ffprobe() string {
	i := strings.LastIndex(o.FFmpeg, "/")
	if o.FFmpeg[i+1:] == "ffmpeg" {
		return o.FFmpeg[:i+1] + "ffprobe"
	}
	return "ffprobe"
}
