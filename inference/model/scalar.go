package model

import (
	"errors"
	"fmt"
	"os"

	"google.golang.org/protobuf/proto"

	pb "github.com/paimeng/paimeng/inference/internal/onnxpb"
)

// VectorizeScalarInput returns the ONNX model at path with its scalar
// (rank 0) graph input name replaced by a [1] input named vector, which a
// Reshape node turns back into the scalar name for the rest of the graph.
// The graph computes exactly what it did; the caller feeds one value as a
// [1] tensor, for runtimes that bind no rank-0 tensors (onnxruntime_go
// refuses empty shapes). Everything else in the file is kept.
//
// ok is false, with no data, when the input is not a scalar (its declared
// rank is 1 or more): there is nothing to rewrite. The rewritten model is
// meant to be loaded from memory; external data stays in its files, named
// relative to the original's folder, which the session loading the result
// must be told (inference.SessionConfig.ExternalDataDir).
func VectorizeScalarInput(path, name string) (data []byte, vector string, ok bool, err error) {
	sig, err := ReadSignature(path)
	if err != nil {
		return nil, "", false, err
	}
	var in *TensorInfo
	for i := range sig.Inputs {
		if sig.Inputs[i].Name == name {
			in = &sig.Inputs[i]
		}
	}
	switch {
	case in == nil:
		return nil, "", false, fmt.Errorf("%s: graph has no input %q", path, name)
	case in.HasShape && len(in.Shape) > 0:
		return nil, "", false, nil
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, "", false, err
	}
	var m pb.ModelProto
	if err := proto.Unmarshal(raw, &m); err != nil {
		return nil, "", false, fmt.Errorf("%s: %w", path, err)
	}
	g := m.Graph
	if g == nil {
		return nil, "", false, errors.New(path + ": no graph")
	}
	used := map[string]bool{}
	for _, v := range g.Input {
		used[v.Name] = true
	}
	for _, v := range g.Output {
		used[v.Name] = true
	}
	for _, t := range g.Initializer {
		used[t.Name] = true
	}
	for _, n := range g.Node {
		for _, o := range n.Output {
			used[o] = true
		}
	}
	unique := func(base string) string {
		s := base
		for i := 2; used[s]; i++ {
			s = fmt.Sprintf("%s_%d", base, i)
		}
		used[s] = true
		return s
	}
	vector = unique(name + "_1d")
	shape := unique(name + "_scalar_shape")
	var vi *pb.ValueInfoProto
	for _, v := range g.Input {
		if v.Name == name {
			vi = v
		}
	}
	elem := in.DType
	vi.Name = vector
	vi.Type = &pb.TypeProto{Value: &pb.TypeProto_TensorType{TensorType: &pb.TypeProto_Tensor{
		ElemType: elem,
		Shape:    &pb.TensorShapeProto{Dim: []*pb.TensorShapeProto_Dimension{{Value: &pb.TensorShapeProto_Dimension_DimValue{DimValue: 1}}}},
	}}}
	// An empty shape tensor: Reshape to rank 0.
	g.Initializer = append(g.Initializer, &pb.TensorProto{Name: shape, DataType: int32(pb.TensorProto_INT64), Dims: []int64{0}})
	reshape := &pb.NodeProto{Name: unique(name + "_to_scalar"), OpType: "Reshape", Input: []string{vector, shape}, Output: []string{name}}
	g.Node = append([]*pb.NodeProto{reshape}, g.Node...)
	data, err = proto.MarshalOptions{Deterministic: true}.Marshal(&m)
	if err != nil {
		return nil, "", false, fmt.Errorf("%s: %w", path, err)
	}
	return data, vector, true, nil
}
