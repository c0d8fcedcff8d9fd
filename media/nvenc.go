package media

import (
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"strings"
	"time"
)

// CodecAuto asks ChooseCodec to pick h264_nvenc when it works, else libx264.
const CodecAuto = "auto"

// nvencTimeout bounds DetectNVENC's test encode; a working encoder needs
// well under a second.
const nvencTimeout = 10 * time.Second

// DetectNVENC reports whether ffmpeg (default "ffmpeg") can encode with
// h264_nvenc on this machine, by running a real encode of a tenth of a
// second of black 256×256 video to nowhere. Having the encoder compiled in
// is not enough: it needs an NVIDIA driver and a GPU with an NVENC unit
// (the H100, for one, has none). When it cannot, reason says why, from
// ffmpeg's own error ("h264_nvenc test encode failed: h264_nvenc: Cannot
// load libcuda.so.1"); it always mentions h264_nvenc. The encode is given
// ten seconds at most, less if ctx ends sooner.
func DetectNVENC(ctx context.Context, ffmpeg string) (ok bool, reason string) {
	if ffmpeg == "" {
		ffmpeg = "ffmpeg"
	}
	tctx, cancel := context.WithTimeout(ctx, nvencTimeout)
	defer cancel()
	cmd := exec.CommandContext(tctx, ffmpeg, "-hide_banner", "-nostdin", "-loglevel", "error",
		"-f", "lavfi", "-i", "color=black:s=256x256:d=0.1", "-c:v", CodecNVENC, "-f", "null", "-")
	cmd.WaitDelay = time.Second
	out, err := cmd.CombinedOutput()
	switch {
	case err == nil:
		return true, ""
	case ctx.Err() != nil:
		return false, fmt.Sprintf("%s test encode stopped: %v", CodecNVENC, ctx.Err())
	case tctx.Err() != nil:
		return false, fmt.Sprintf("%s test encode did not finish within %v", CodecNVENC, nvencTimeout)
	case cmd.ProcessState == nil:
		// ffmpeg did not start: not found, not executable.
		return false, fmt.Sprintf("%s not tried: %v", CodecNVENC, err)
	}
	msg := ffmpegError(string(out))
	if msg == "" {
		msg = err.Error()
	}
	return false, fmt.Sprintf("%s test encode failed: %s", CodecNVENC, msg)
}

// ffmpegTag matches the "[h264_nvenc @ 0x55d0c0a1b2c0] " prefix of an
// ffmpeg log line.
var ffmpegTag = regexp.MustCompile(`^\[([^\]@]+?) @ 0x[0-9a-f]+\] `)

// ffmpegError condenses ffmpeg's error output to one line: the lines a
// component tagged ("[h264_nvenc @ 0x…] Cannot load libcuda.so.1" becomes
// "h264_nvenc: Cannot load libcuda.so.1") when there are any, as they say
// what went wrong, else every line; joined by "; ".
func ffmpegError(out string) string {
	var tagged, all []string
	for _, l := range strings.Split(out, "\n") {
		l = strings.TrimSpace(l)
		if l == "" {
			continue
		}
		if m := ffmpegTag.FindStringSubmatch(l); m != nil {
			l = m[1] + ": " + l[len(m[0]):]
			tagged = append(tagged, l)
		}
		all = append(all, l)
	}
	if len(tagged) > 0 {
		all = tagged
	}
	return strings.Join(all, "; ")
}

// ChooseCodec resolves the configured video encoder. "auto" (or "") is
// h264_nvenc when DetectNVENC says it works, else libx264 with reason
// saying why not; "libx264" is taken as it is; "h264_nvenc" is checked
// with DetectNVENC and is an error when it does not work, since every
// encode would fail.
func ChooseCodec(ctx context.Context, ffmpeg, setting string) (codec, reason string, err error) {
	switch setting {
	case CodecAuto, "":
		if ok, why := DetectNVENC(ctx, ffmpeg); !ok {
			return CodecX264, why, nil
		}
		return CodecNVENC, "", nil
	case CodecX264:
		return CodecX264, "", nil
	case CodecNVENC:
		if ok, why := DetectNVENC(ctx, ffmpeg); !ok {
			return "", "", fmt.Errorf("media: %s does not work here (%s); use %s or %s", CodecNVENC, why, CodecAuto, CodecX264)
		}
		return CodecNVENC, "", nil
	}
	return "", "", fmt.Errorf("media: unknown video encoder %q (want %s, %s or %s)", setting, CodecAuto, CodecX264, CodecNVENC)
}
