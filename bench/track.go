// Package bench compares the camera engine with ffmpeg's zoompan filter
// (bench/motion.sh) and measures the submit path (bench/submit.sh).
//
// This file holds the marker tracker behind the motion benchmarks'
// smoothness figures: small bright Gaussian markers are followed through a
// clip's decoded luma frames by their intensity-weighted centroids, and the
// trajectories are compared with the path the camera move should give.
package bench

import (
	"fmt"
	"math"
)

// pt is a position in frame pixels. Pixel (i, j) covers [i, i+1)×[j, j+1),
// so its centre is (i+0.5, j+0.5).
type pt struct{ X, Y float64 }

// grayClip is a clip's luma: Frames[k] holds W*H bytes, row by row.
type grayClip struct {
	W, H   int
	Frames [][]byte
}

// minContrast is the least peak-over-background a marker must show (on the
// 0–255 scale) to count as found.
const minContrast = 40

// track follows markers through clip. At frame k0 each marker is looked for
// within search pixels of its start position; from there it is followed
// forwards to the last frame and backwards to the first, each frame's window
// placed where the marker's last two positions say it should be. sigma is
// the markers' largest standard deviation in frame pixels over the clip.
// The result holds one trajectory (len(clip.Frames) positions) per marker.
func track(clip grayClip, k0 int, start []pt, sigma, search float64) ([][]pt, error) {
	n := len(clip.Frames)
	if k0 < 0 || k0 >= n {
		return nil, fmt.Errorf("track: start frame %d of %d", k0, n)
	}
	hw := int(math.Ceil(3.5*sigma)) + 1
	out := make([][]pt, len(start))
	for m, s := range start {
		p, err := locate(clip, clip.Frames[k0], s, sigma, search, hw)
		if err != nil {
			return nil, fmt.Errorf("track: marker %d at frame %d: %w", m, k0, err)
		}
		traj := make([]pt, n)
		traj[k0] = p
		for _, dir := range []int{1, -1} {
			prev, cur := p, p
			for k := k0 + dir; k >= 0 && k < n; k += dir {
				pred := pt{2*cur.X - prev.X, 2*cur.Y - prev.Y}
				q, err := refine(clip, clip.Frames[k], pred, hw)
				if err != nil {
					return nil, fmt.Errorf("track: marker %d at frame %d: %w", m, k, err)
				}
				prev, cur = cur, q
				traj[k] = q
			}
		}
		out[m] = traj
	}
	return out, nil
}

// locate finds the marker nearest to guess in one frame: the pixel within
// search of guess where a 3×3 mean most exceeds a ring of samples 3σ away
// (a bright compact spot, not just a bright area), refined to its centroid.
func locate(clip grayClip, f []byte, guess pt, sigma, search float64, hw int) (pt, error) {
	r := max(2, int(math.Round(3*sigma)))
	d := int(math.Round(float64(r) / math.Sqrt2))
	lo := r + 1
	x0, x1 := max(lo, int(guess.X-search)), min(clip.W-1-lo, int(guess.X+search))
	y0, y1 := max(lo, int(guess.Y-search)), min(clip.H-1-lo, int(guess.Y+search))
	at := func(x, y int) float64 { return float64(f[y*clip.W+x]) }
	best, bx, by := math.Inf(-1), -1, -1
	for y := y0; y <= y1; y++ {
		for x := x0; x <= x1; x++ {
			var c float64
			for j := -1; j <= 1; j++ {
				for i := -1; i <= 1; i++ {
					c += at(x+i, y+j)
				}
			}
			ring := at(x-r, y) + at(x+r, y) + at(x, y-r) + at(x, y+r) +
				at(x-d, y-d) + at(x+d, y-d) + at(x-d, y+d) + at(x+d, y+d)
			if s := c/9 - ring/8; s > best {
				best, bx, by = s, x, y
			}
		}
	}
	if bx < 0 {
		return pt{}, fmt.Errorf("search box around (%.1f, %.1f) is outside the %dx%d frame", guess.X, guess.Y, clip.W, clip.H)
	}
	if best < minContrast/2 {
		return pt{}, fmt.Errorf("no marker within %.0f px of (%.1f, %.1f)", search, guess.X, guess.Y)
	}
	return refine(clip, f, pt{float64(bx) + 0.5, float64(by) + 0.5}, hw)
}

// refine returns the marker's centroid in a (2hw+1)² window around the pixel
// holding guess, moving the window onto the centroid until it stays put.
// Each pixel weighs by how far it rises above a quarter of the way from the
// window's background (the mean of its border) to its peak, so the dark
// surround and compression noise carry no weight and a symmetric spot's
// centroid is its centre.
func refine(clip grayClip, f []byte, guess pt, hw int) (pt, error) {
	cx, cy := int(math.Floor(guess.X)), int(math.Floor(guess.Y))
	for range 5 {
		if cx-hw < 0 || cy-hw < 0 || cx+hw >= clip.W || cy+hw >= clip.H {
			return pt{}, fmt.Errorf("window at (%d, %d) leaves the %dx%d frame", cx, cy, clip.W, clip.H)
		}
		var bg, nb, peak float64
		for y := cy - hw; y <= cy+hw; y++ {
			row := f[y*clip.W:]
			for x := cx - hw; x <= cx+hw; x++ {
				v := float64(row[x])
				peak = math.Max(peak, v)
				if x == cx-hw || x == cx+hw || y == cy-hw || y == cy+hw {
					bg += v
					nb++
				}
			}
		}
		bg /= nb
		if peak-bg < minContrast {
			return pt{}, fmt.Errorf("lost near (%d, %d): peak %.0f over background %.0f", cx, cy, peak, bg)
		}
		thr := bg + 0.25*(peak-bg)
		var sw, sx, sy float64
		for y := cy - hw; y <= cy+hw; y++ {
			row := f[y*clip.W:]
			for x := cx - hw; x <= cx+hw; x++ {
				if w := float64(row[x]) - thr; w > 0 {
					sw += w
					sx += w * (float64(x) + 0.5)
					sy += w * (float64(y) + 0.5)
				}
			}
		}
		p := pt{sx / sw, sy / sw}
		nx, ny := int(math.Floor(p.X)), int(math.Floor(p.Y))
		if nx == cx && ny == cy {
			return p, nil
		}
		if abs(nx-cx) > hw || abs(ny-cy) > hw {
			return pt{}, fmt.Errorf("centroid jumped from (%d, %d) to (%.1f, %.1f)", cx, cy, p.X, p.Y)
		}
		cx, cy = nx, ny
	}
	return pt{}, fmt.Errorf("centroid near (%d, %d) does not settle", cx, cy)
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

// zoomPath is where a point of the source picture (src, in source pixels of
// a sw×sh picture) appears in a w×h frame while the camera zooms on the
// centre: z[k] is frame k's zoom, 1 showing the whole picture.
func zoomPath(src pt, sw, sh, w, h int, z []float64) []pt {
	ux := src.X*float64(w)/float64(sw) - float64(w)/2
	uy := src.Y*float64(h)/float64(sh) - float64(h)/2
	out := make([]pt, len(z))
	for k, zk := range z {
		out[k] = pt{float64(w)/2 + ux*zk, float64(h)/2 + uy*zk}
	}
	return out
}

// jitter is the RMS, over markers and frames, of the length of the second
// difference r[k+1] − 2r[k] + r[k−1] of each trajectory's deviation r from
// its ideal path (px/frame²). Subtracting the ideal path first leaves out the
// move's own easing, so a clean render of the intended move scores near 0
// and whole-pixel stepping shows up in full.
func jitter(got, want [][]pt) float64 {
	var s float64
	var n int
	for m := range got {
		g, w := got[m], want[m]
		for k := 1; k+1 < len(g); k++ {
			ax := (g[k+1].X - w[k+1].X) - 2*(g[k].X-w[k].X) + (g[k-1].X - w[k-1].X)
			ay := (g[k+1].Y - w[k+1].Y) - 2*(g[k].Y-w[k].Y) + (g[k-1].Y - w[k-1].Y)
			s += ax*ax + ay*ay
			n++
		}
	}
	if n == 0 {
		return 0
	}
	return math.Sqrt(s / float64(n))
}

// pathErr is the RMS distance, over markers and frames, between the
// trajectories and their ideal paths (px).
func pathErr(got, want [][]pt) float64 {
	var s float64
	var n int
	for m := range got {
		for k := range got[m] {
			dx, dy := got[m][k].X-want[m][k].X, got[m][k].Y-want[m][k].Y
			s += dx*dx + dy*dy
			n++
		}
	}
	if n == 0 {
		return 0
	}
	return math.Sqrt(s / float64(n))
}
