package inference

import (
	"os"
	"testing"
	"time"

	ort "github.com/yalue/onnxruntime_go"
)

func expResize(t *testing.T, name string, inShape, outShape []int64, roi []float32, threads int) {
	g := newGraph("x")
	dims := func(s []int64, p string) []any {
		var d []any
		for i, v := range s {
			_ = i
			d = append(d, int(v))
		}
		return d
	}
	x := g.input("x", tUint8, dims(inShape, "i")...)
	r := g.input("roi", tFloat, len(roi))
	sz := g.input("size", tInt64, len(outShape))
	g.node("Resize", []string{x, r, "", sz}, attrs{"mode": "linear", "coordinate_transformation_mode": "tf_crop_and_resize", "extrapolation_value": float32(16)}, "y")
	g.output("y", tUint8, dims(outShape, "o")...)
	m, err := g.model(19)
	if err != nil {
		t.Fatal(err)
	}
	so, _ := ort.NewSessionOptions()
	so.SetIntraOpNumThreads(threads)
	so.SetInterOpNumThreads(1)
	s, err := ort.NewDynamicAdvancedSessionWithONNXData(m, []string{"x", "roi", "size"}, []string{"y"}, so)
	if err != nil {
		t.Fatal(err)
	}
	n := int64(1)
	for _, v := range inShape {
		n *= v
	}
	on := int64(1)
	for _, v := range outShape {
		on *= v
	}
	xt, _ := ort.NewTensor(ort.NewShape(inShape...), make([]byte, n))
	rt, _ := ort.NewTensor(ort.NewShape(int64(len(roi))), roi)
	st, _ := ort.NewTensor(ort.NewShape(int64(len(outShape))), outShape)
	yt, _ := ort.NewTensor(ort.NewShape(outShape...), make([]byte, on))
	for range 3 {
		s.Run([]ort.Value{xt, rt, st}, []ort.Value{yt})
	}
	t0 := time.Now()
	const N = 40
	for range N {
		if err := s.Run([]ort.Value{xt, rt, st}, []ort.Value{yt}); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("%s threads %d: %v/run", name, threads, time.Since(t0)/N)
}

func TestExpResize(t *testing.T) {
	if os.Getenv("EXP") == "" {
		t.Skip()
	}
	needORT(t)
	for _, th := range []int{1, 2} {
		expResize(t, "Y nchw", []int64{1, 1, 936, 1664}, []int64{1, 1, 720, 1280}, []float32{0, 0, 0.05, 0.05, 1, 1, 0.95, 0.95}, th)
		expResize(t, "Y nhwc", []int64{1, 936, 1664, 1}, []int64{1, 720, 1280, 1}, []float32{0, 0.05, 0.05, 0, 1, 0.95, 0.95, 1}, th)
		expResize(t, "Y 2d", []int64{936, 1664}, []int64{720, 1280}, []float32{0.05, 0.05, 0.95, 0.95}, th)
		expResize(t, "UV nchw", []int64{1, 2, 468, 832}, []int64{1, 2, 360, 640}, []float32{0, 0, 0.05, 0.05, 1, 1, 0.95, 0.95}, th)
		expResize(t, "UV nhwc", []int64{1, 468, 832, 2}, []int64{1, 360, 640, 2}, []float32{0, 0.05, 0.05, 0, 1, 0.95, 0.95, 1}, th)
		expResize(t, "Y nhwc zoom1.3", []int64{1, 936, 1664, 1}, []int64{1, 720, 1280, 1}, []float32{0, 0.2, 0.2, 0, 1, 0.8, 0.8, 1}, th)
	}
}
