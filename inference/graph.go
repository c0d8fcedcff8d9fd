package inference

import (
	"fmt"
	"sort"

	"google.golang.org/protobuf/proto"

	pb "github.com/paimeng/paimeng/inference/internal/onnxpb"
)

// Element types used by the graphs.
const (
	tFloat = int32(pb.TensorProto_FLOAT)
	tUint8 = int32(pb.TensorProto_UINT8)
	tInt64 = int32(pb.TensorProto_INT64)
)

// graph is a small builder over the ONNX protos. Dimensions given as strings
// are symbolic (dynamic); ints are fixed.
type graph struct {
	g   *pb.GraphProto
	seq int
}

func newGraph(name string) *graph { return &graph{g: &pb.GraphProto{Name: name}} }

func valueInfo(name string, elem int32, dims ...any) *pb.ValueInfoProto {
	shape := &pb.TensorShapeProto{}
	for _, d := range dims {
		dim := &pb.TensorShapeProto_Dimension{}
		switch v := d.(type) {
		case int:
			dim.Value = &pb.TensorShapeProto_Dimension_DimValue{DimValue: int64(v)}
		case string:
			dim.Value = &pb.TensorShapeProto_Dimension_DimParam{DimParam: v}
		default:
			panic(fmt.Sprintf("inference: bad dim %T", d))
		}
		shape.Dim = append(shape.Dim, dim)
	}
	return &pb.ValueInfoProto{Name: name, Type: &pb.TypeProto{Value: &pb.TypeProto_TensorType{
		TensorType: &pb.TypeProto_Tensor{ElemType: elem, Shape: shape},
	}}}
}

func (g *graph) input(name string, elem int32, dims ...any) string {
	g.g.Input = append(g.g.Input, valueInfo(name, elem, dims...))
	return name
}

func (g *graph) output(name string, elem int32, dims ...any) {
	g.g.Output = append(g.g.Output, valueInfo(name, elem, dims...))
}

func (g *graph) tmp(op string) string {
	g.seq++
	return fmt.Sprintf("%s_%d", op, g.seq)
}

// constF adds a float initializer.
func (g *graph) constF(dims []int64, vals ...float32) string {
	name := g.tmp("cf")
	g.g.Initializer = append(g.g.Initializer, &pb.TensorProto{Name: name, DataType: tFloat, Dims: dims, FloatData: vals})
	return name
}

// constI adds an int64 initializer.
func (g *graph) constI(dims []int64, vals ...int64) string {
	name := g.tmp("ci")
	g.g.Initializer = append(g.g.Initializer, &pb.TensorProto{Name: name, DataType: tInt64, Dims: dims, Int64Data: vals})
	return name
}

// attr values: int → INT, int64 → INT, float32/float64 → FLOAT,
// string → STRING, []int64 → INTS, []float32 → FLOATS.
type attrs map[string]any

// node appends a node and returns its single output (or the named out).
func (g *graph) node(op string, in []string, a attrs, out ...string) string {
	if len(out) == 0 {
		out = []string{g.tmp(op)}
	}
	n := &pb.NodeProto{OpType: op, Input: in, Output: out, Name: out[0] + "_node"}
	keys := make([]string, 0, len(a))
	for k := range a {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := a[k]
		at := &pb.AttributeProto{Name: k}
		switch x := v.(type) {
		case int:
			at.Type, at.I = pb.AttributeProto_INT, int64(x)
		case int64:
			at.Type, at.I = pb.AttributeProto_INT, x
		case float32:
			at.Type, at.F = pb.AttributeProto_FLOAT, x
		case float64:
			at.Type, at.F = pb.AttributeProto_FLOAT, float32(x)
		case string:
			at.Type, at.S = pb.AttributeProto_STRING, []byte(x)
		case []int64:
			at.Type, at.Ints = pb.AttributeProto_INTS, x
		case []float32:
			at.Type, at.Floats = pb.AttributeProto_FLOATS, x
		default:
			panic(fmt.Sprintf("inference: bad attribute %s %T", k, v))
		}
		n.Attribute = append(n.Attribute, at)
	}
	g.g.Node = append(g.g.Node, n)
	return out[0]
}

// model serializes the graph as an ONNX model at the given default-domain opset.
func (g *graph) model(opset int64) ([]byte, error) {
	m := &pb.ModelProto{
		IrVersion:    10,
		ProducerName: "paimeng",
		OpsetImport:  []*pb.OperatorSetIdProto{{Domain: "", Version: opset}},
		Graph:        g.g,
	}
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("inference: marshal model: %w", err)
	}
	return b, nil
}
