package media

import (
	"context"
	"fmt"
	"math"
	"os/exec"
	"strings"
)

// ContactSheet writes a PNG of every every-th frame of the video at in
// (frame 0, every, 2·every…), scaled to cellWidth pixels wide and laid out
// in rows of up to six, so a person can see the motion without a player.
func ContactSheet(ctx context.Context, opt EncodeOptions, in, out string, every, cellWidth int) error {
	opt = opt.withDefaults()
	if every < 1 || cellWidth < 16 {
		return fmt.Errorf("media: contact sheet: every %d, cell width %d", every, cellWidth)
	}
	info, err := ProbeContext(ctx, opt.ffprobe(), in)
	if err != nil {
		return fmt.Errorf("media: contact sheet: %w", err)
	}
	frames := info.Frames
	if frames <= 0 {
		return fmt.Errorf("media: contact sheet %s: no frame count", in)
	}
	cells := SheetCells(frames, every)
	cols := min(cells, 6)
	rows := int(math.Ceil(float64(cells) / float64(cols)))
	filter := fmt.Sprintf("select='not(mod(n\\,%d))',scale=%d:-2,tile=%dx%d:padding=4:margin=4:color=white",
		every, cellWidth, cols, rows)
	cmd := exec.CommandContext(ctx, opt.FFmpeg, "-nostdin", "-y", "-v", "error", "-i", in,
		"-vf", filter, "-fps_mode", "passthrough", "-frames:v", "1", "-update", "1", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("media: contact sheet %s: %w: %s", in, err, strings.TrimSpace(string(b)))
	}
	return nil
}

// SheetCells is how many cells ContactSheet draws for frames frames.
func SheetCells(frames, every int) int {
	if every < 1 {
		return 0
	}
	return (frames + every - 1) / every
}
