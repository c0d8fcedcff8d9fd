// Package media decodes member images within the service limits, encodes
// engine frames to H.264 MP4 with ffmpeg, writes posters, and probes results.
package media

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"image"
	"image/draw"
	"image/jpeg"
	"image/png"

	"golang.org/x/image/webp"

	"github.com/paimeng/paimeng"
)

// CheckImage checks a still against the service limits from its header
// alone: format (JPEG, PNG or WebP), bytes, pixels and minimum side. It
// allocates no pixel memory, so front ends can refuse bad images at once.
func CheckImage(data []byte) error {
	_, _, err := checkImage(data)
	return err
}

// DecodeImage decodes a JPEG, PNG or WebP still after checking its size and
// dimensions from the header alone, so oversized images are refused before
// any pixel memory is allocated. JPEG EXIF orientation is applied. The
// format is "jpeg", "png" or "webp".
func DecodeImage(data []byte) (image.Image, string, error) {
	format, decode, err := checkImage(data)
	if err != nil {
		return nil, "", err
	}
	img, err := decode(data)
	if err != nil {
		return nil, "", paimeng.Errorf(paimeng.EImageFormat, "media: decode %s: %v", format, err)
	}
	if format == "jpeg" {
		img = orient(img, jpegOrientation(data))
	}
	return img, format, nil
}

func checkImage(data []byte) (string, func([]byte) (image.Image, error), error) {
	if len(data) == 0 {
		return "", nil, paimeng.Errorf(paimeng.ENoImage, "media: no image data")
	}
	if len(data) > paimeng.MaxImageBytes {
		return "", nil, paimeng.Errorf(paimeng.EImageTooLarge, "media: image is %d bytes, limit %d", len(data), paimeng.MaxImageBytes)
	}
	var decodeConfig func([]byte) (image.Config, error)
	var decode func([]byte) (image.Image, error)
	format := sniff(data)
	switch format {
	case "jpeg":
		decodeConfig = func(b []byte) (image.Config, error) { return jpeg.DecodeConfig(bytes.NewReader(b)) }
		decode = func(b []byte) (image.Image, error) { return jpeg.Decode(bytes.NewReader(b)) }
	case "png":
		decodeConfig = func(b []byte) (image.Config, error) { return png.DecodeConfig(bytes.NewReader(b)) }
		decode = func(b []byte) (image.Image, error) { return png.Decode(bytes.NewReader(b)) }
	case "webp":
		decodeConfig = func(b []byte) (image.Config, error) { return webp.DecodeConfig(bytes.NewReader(b)) }
		decode = func(b []byte) (image.Image, error) { return webp.Decode(bytes.NewReader(b)) }
	default:
		return "", nil, paimeng.Errorf(paimeng.EImageFormat, "media: not a JPEG, PNG or WebP image")
	}
	cfg, err := decodeConfig(data)
	if err != nil {
		return "", nil, paimeng.Errorf(paimeng.EImageFormat, "media: read %s header: %v", format, err)
	}
	if int64(cfg.Width)*int64(cfg.Height) > paimeng.MaxImagePixels {
		return "", nil, paimeng.Errorf(paimeng.EImageTooLarge, "media: image is %dx%d, limit %d pixels", cfg.Width, cfg.Height, paimeng.MaxImagePixels)
	}
	if cfg.Width < paimeng.MinImageSide || cfg.Height < paimeng.MinImageSide {
		return "", nil, paimeng.Errorf(paimeng.EImageTooSmall, "media: image is %dx%d, minimum side %d", cfg.Width, cfg.Height, paimeng.MinImageSide)
	}
	return format, decode, nil
}

func sniff(b []byte) string {
	switch {
	case len(b) >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF:
		return "jpeg"
	case len(b) >= 8 && string(b[:8]) == "\x89PNG\r\n\x1a\n":
		return "png"
	case len(b) >= 12 && string(b[:4]) == "RIFF" && string(b[8:12]) == "WEBP":
		return "webp"
	}
	return ""
}

// jpegOrientation returns the EXIF orientation (1..8) of a JPEG, 1 when absent.
func jpegOrientation(b []byte) int {
	i := 2
	for i+4 <= len(b) {
		if b[i] != 0xFF {
			return 1
		}
		marker := b[i+1]
		if marker == 0xD8 || (marker >= 0xD0 && marker <= 0xD7) || marker == 0x01 {
			i += 2
			continue
		}
		if marker == 0xDA || marker == 0xD9 { // start of scan: no more metadata
			return 1
		}
		n := int(binary.BigEndian.Uint16(b[i+2:]))
		if n < 2 || i+2+n > len(b) {
			return 1
		}
		seg := b[i+4 : i+2+n]
		if marker == 0xE1 && len(seg) > 14 && string(seg[:6]) == "Exif\x00\x00" {
			return exifOrientation(seg[6:])
		}
		i += 2 + n
	}
	return 1
}

func exifOrientation(t []byte) int {
	if len(t) < 8 {
		return 1
	}
	var bo binary.ByteOrder
	switch string(t[:2]) {
	case "II":
		bo = binary.LittleEndian
	case "MM":
		bo = binary.BigEndian
	default:
		return 1
	}
	off := int(bo.Uint32(t[4:]))
	if off < 8 || off+2 > len(t) {
		return 1
	}
	n := int(bo.Uint16(t[off:]))
	for k := range n {
		e := off + 2 + 12*k
		if e+12 > len(t) {
			return 1
		}
		if bo.Uint16(t[e:]) == 0x0112 {
			v := int(bo.Uint16(t[e+8:]))
			if v >= 1 && v <= 8 {
				return v
			}
			return 1
		}
	}
	return 1
}

// orient applies an EXIF orientation so the picture is upright.
func orient(img image.Image, o int) image.Image {
	if o <= 1 || o > 8 {
		return img
	}
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	src := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.Draw(src, src.Bounds(), img, b.Min, draw.Src)
	dw, dh := w, h
	if o >= 5 {
		dw, dh = h, w
	}
	dst := image.NewRGBA(image.Rect(0, 0, dw, dh))
	for y := range h {
		row := src.Pix[y*src.Stride:]
		for x := range w {
			var dx, dy int
			switch o {
			case 2:
				dx, dy = w-1-x, y
			case 3:
				dx, dy = w-1-x, h-1-y
			case 4:
				dx, dy = x, h-1-y
			case 5:
				dx, dy = y, x
			case 6:
				dx, dy = h-1-y, x
			case 7:
				dx, dy = h-1-y, w-1-x
			case 8:
				dx, dy = y, w-1-x
			}
			copy(dst.Pix[dy*dst.Stride+4*dx:dy*dst.Stride+4*dx+4], row[4*x:4*x+4])
		}
	}
	return dst
}

// checkSpec rejects a spec the encoder cannot take.
func checkSpec(s paimeng.VideoSpec) error {
	if s.Width <= 0 || s.Height <= 0 || s.Width%2 != 0 || s.Height%2 != 0 {
		return fmt.Errorf("media: frame size %dx%d must be positive and even", s.Width, s.Height)
	}
	if s.FPS <= 0 {
		return fmt.Errorf("media: fps %d", s.FPS)
	}
	switch s.PixFmt {
	case paimeng.PixRGB24, paimeng.PixYUV420P:
	default:
		return fmt.Errorf("media: pixel format %q", s.PixFmt)
	}
	return nil
}
