package media

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strconv"
)

// ProbeInfo is what ffprobe reports about a video file's first video stream.
type ProbeInfo struct {
	Codec    string // "h264"
	Profile  string // "High"
	PixFmt   string // "yuv420p"
	Width    int
	Height   int
	FPS      float64 // average frame rate
	Frames   int     // nb_frames, 0 when unknown
	Duration float64 // seconds
	Bytes    int64
}

// Probe runs ffprobe from PATH on path.
func Probe(path string) (ProbeInfo, error) {
	return ProbeContext(context.Background(), "ffprobe", path)
}

// ProbeContext runs the given ffprobe binary on path.
func ProbeContext(ctx context.Context, ffprobe, path string) (ProbeInfo, error) {
	if ffprobe == "" {
		ffprobe = "ffprobe"
	}
	var out, errb bytes.Buffer
	cmd := exec.CommandContext(ctx, ffprobe, "-v", "error", "-print_format", "json",
		"-show_format", "-show_streams", "-select_streams", "v:0", path)
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return ProbeInfo{}, fmt.Errorf("media: ffprobe %s: %w: %s", path, err, bytes.TrimSpace(errb.Bytes()))
	}
	var r struct {
		Streams []struct {
			CodecName    string `json:"codec_name"`
			Profile      string `json:"profile"`
			PixFmt       string `json:"pix_fmt"`
			Width        int    `json:"width"`
			Height       int    `json:"height"`
			AvgFrameRate string `json:"avg_frame_rate"`
			NbFrames     string `json:"nb_frames"`
			Duration     string `json:"duration"`
		} `json:"streams"`
		Format struct {
			Duration string `json:"duration"`
			Size     string `json:"size"`
		} `json:"format"`
	}
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		return ProbeInfo{}, fmt.Errorf("media: ffprobe %s: %w", path, err)
	}
	if len(r.Streams) == 0 {
		return ProbeInfo{}, fmt.Errorf("media: ffprobe %s: no video stream", path)
	}
	s := r.Streams[0]
	p := ProbeInfo{Codec: s.CodecName, Profile: s.Profile, PixFmt: s.PixFmt, Width: s.Width, Height: s.Height}
	p.Frames, _ = strconv.Atoi(s.NbFrames)
	p.Duration, _ = strconv.ParseFloat(s.Duration, 64)
	if p.Duration == 0 {
		p.Duration, _ = strconv.ParseFloat(r.Format.Duration, 64)
	}
	p.Bytes, _ = strconv.ParseInt(r.Format.Size, 10, 64)
	var num, den float64
	if _, err := fmt.Sscanf(s.AvgFrameRate, "%g/%g", &num, &den); err == nil && den != 0 {
		p.FPS = num / den
	}
	return p, nil
}
