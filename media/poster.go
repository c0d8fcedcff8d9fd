package media

import (
	"fmt"
	"image"
	"image/jpeg"
	"os"
	"path/filepath"

	"github.com/paimeng/paimeng"
)

// FrameImage turns one raw frame of spec into an image. Limited-range
// yuv420p is expanded to the full range image.YCbCr (JPEG) uses.
func FrameImage(frame []byte, spec paimeng.VideoSpec) (image.Image, error) {
	if err := checkSpec(spec); err != nil {
		return nil, err
	}
	if len(frame) != spec.FrameSize() {
		return nil, fmt.Errorf("media: frame is %d bytes, want %d", len(frame), spec.FrameSize())
	}
	w, h := spec.Width, spec.Height
	if spec.PixFmt == paimeng.PixRGB24 {
		img := image.NewRGBA(image.Rect(0, 0, w, h))
		for i := range w * h {
			copy(img.Pix[4*i:4*i+3], frame[3*i:3*i+3])
			img.Pix[4*i+3] = 255
		}
		return img, nil
	}
	img := image.NewYCbCr(image.Rect(0, 0, w, h), image.YCbCrSubsampleRatio420)
	ys := w * h
	cs := (w / 2) * (h / 2)
	for i, v := range frame[:ys] {
		img.Y[i] = expand(v, 16, 219)
	}
	for i := range cs {
		img.Cb[i] = expandC(frame[ys+i])
		img.Cr[i] = expandC(frame[ys+cs+i])
	}
	return img, nil
}

func expand(v byte, lo, span int) byte {
	x := (int(v) - lo) * 255
	x = (x + span/2) / span
	return byte(max(0, min(255, x)))
}

func expandC(v byte) byte {
	x := (int(v)-128)*255/224 + 128
	return byte(max(0, min(255, x)))
}

// Poster writes one raw frame as a JPEG at path (quality 85), via a
// temporary file so readers never see a partial poster.
func Poster(path string, frame []byte, spec paimeng.VideoSpec) error {
	img, err := FrameImage(frame, spec)
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".poster-*.jpg")
	if err != nil {
		return fmt.Errorf("media: poster: %w", err)
	}
	defer os.Remove(f.Name())
	if err := jpeg.Encode(f, img, &jpeg.Options{Quality: 85}); err != nil {
		f.Close()
		return fmt.Errorf("media: encode poster: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("media: poster: %w", err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("media: poster: %w", err)
	}
	return nil
}
