package model

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	pb "github.com/paimeng/paimeng/inference/internal/onnxpb"
)

// Opset range of the default ONNX domain accepted. ONNX Runtime 1.30 loads
// models stamped up to opset 26 and refuses 27 (measured by TestOpsetRange);
// its documented support starts at opset 7.
const (
	MinOpset = 7
	MaxOpset = 26
)

// Other operator domains and the highest version accepted.
var domainMax = map[string]int64{
	"ai.onnx.ml":    5,
	"com.microsoft": 1,
}

// Signature is what an ONNX file declares, read from its header without
// loading the weights.
type Signature struct {
	IRVersion int64
	// Opsets maps operator domains ("" is the default ai.onnx domain) to
	// their imported versions.
	Opsets map[string]int64
	// Inputs are the graph inputs that are not initializers, in order.
	Inputs []TensorInfo
	// Outputs are the graph outputs, in order.
	Outputs []TensorInfo
	// ExternalData lists the external weight files, relative to the ONNX
	// file's folder, in first-use order.
	ExternalData []string
}

// TensorInfo is a graph input or output as the file declares it. DType is
// the ONNX element type code; Shape is nil when the file leaves the shape
// out, and a dimension with neither size nor name is unknown.
type TensorInfo struct {
	Name  string
	DType int32
	Shape []Dim
	// HasShape is false when the file declares no shape (any rank).
	HasShape bool
}

// scanner reads protobuf fields from a file by offset, so that weights
// embedded in the file are skipped rather than read.
type scanner struct {
	r    io.ReaderAt
	size int64
	buf  [2 * binaryMaxVarint]byte
}

const binaryMaxVarint = 10

// field reads the tag at pos and returns the field number, wire type and
// the position of the value.
func (s *scanner) tag(pos int64) (protowire.Number, protowire.Type, int64, error) {
	v, n, err := s.varint(pos)
	if err != nil {
		return 0, 0, 0, err
	}
	num, typ := protowire.DecodeTag(v)
	if num <= 0 {
		return 0, 0, 0, fmt.Errorf("bad field number at offset %d", pos)
	}
	return num, typ, pos + int64(n), nil
}

func (s *scanner) varint(pos int64) (uint64, int, error) {
	n, err := s.r.ReadAt(s.buf[:binaryMaxVarint], pos)
	if n == 0 && err != nil {
		return 0, 0, fmt.Errorf("truncated at offset %d", pos)
	}
	v, m := protowire.ConsumeVarint(s.buf[:n])
	if m < 0 {
		return 0, 0, fmt.Errorf("bad varint at offset %d", pos)
	}
	return v, m, nil
}

// value returns the extent [start, end) of the value of wire type typ at
// pos, checked against limit.
func (s *scanner) value(typ protowire.Type, pos, limit int64) (start, end int64, err error) {
	switch typ {
	case protowire.VarintType:
		_, n, err := s.varint(pos)
		if err != nil {
			return 0, 0, err
		}
		start, end = pos, pos+int64(n)
	case protowire.Fixed64Type:
		start, end = pos, pos+8
	case protowire.Fixed32Type:
		start, end = pos, pos+4
	case protowire.BytesType:
		l, n, err := s.varint(pos)
		if err != nil {
			return 0, 0, err
		}
		start = pos + int64(n)
		if l > uint64(limit-start) {
			return 0, 0, fmt.Errorf("field length %d at offset %d runs past its message", l, pos)
		}
		end = start + int64(l)
	default:
		return 0, 0, fmt.Errorf("unsupported wire type %d at offset %d", typ, pos)
	}
	if end > limit {
		return 0, 0, fmt.Errorf("field at offset %d runs past its message", pos)
	}
	return start, end, nil
}

// fields calls fn for each field of the message in [pos, limit).
func (s *scanner) fields(pos, limit int64, fn func(num protowire.Number, typ protowire.Type, start, end int64) error) error {
	for pos < limit {
		num, typ, vpos, err := s.tag(pos)
		if err != nil {
			return err
		}
		start, end, err := s.value(typ, vpos, limit)
		if err != nil {
			return err
		}
		if err := fn(num, typ, start, end); err != nil {
			return err
		}
		pos = end
	}
	return nil
}

func (s *scanner) bytes(start, end int64) ([]byte, error) {
	if end-start > 64<<20 {
		return nil, fmt.Errorf("%d-byte field at offset %d is too large for a header field", end-start, start)
	}
	b := make([]byte, end-start)
	if _, err := s.r.ReadAt(b, start); err != nil {
		return nil, fmt.Errorf("reading offset %d: %w", start, err)
	}
	return b, nil
}

// ReadSignature reads the header of an ONNX model file: IR version,
// opsets, graph inputs and outputs, and external data files. Embedded
// weights are skipped, not read.
func ReadSignature(path string) (*Signature, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	return readSignature(f, st.Size())
}

// ParseSignature is ReadSignature for a model held in memory.
func ParseSignature(data []byte) (*Signature, error) {
	return readSignature(bytes.NewReader(data), int64(len(data)))
}

func readSignature(r io.ReaderAt, size int64) (*Signature, error) {
	if size == 0 {
		return nil, errors.New("empty file")
	}
	s := &scanner{r: r, size: size}
	sig := &Signature{Opsets: map[string]int64{}}
	var graph [2]int64
	hasGraph := false
	err := s.fields(0, s.size, func(num protowire.Number, typ protowire.Type, start, end int64) error {
		switch {
		case num == 1 && typ == protowire.VarintType: // ir_version
			v, _, err := s.varint(start)
			if err != nil {
				return err
			}
			sig.IRVersion = int64(v)
		case num == 7 && typ == protowire.BytesType: // graph
			graph, hasGraph = [2]int64{start, end}, true
		case num == 8 && typ == protowire.BytesType: // opset_import
			b, err := s.bytes(start, end)
			if err != nil {
				return err
			}
			var op pb.OperatorSetIdProto
			if err := proto.Unmarshal(b, &op); err != nil {
				return fmt.Errorf("opset_import: %w", err)
			}
			sig.Opsets[op.Domain] = op.Version
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("not an ONNX model: %w", err)
	}
	if !hasGraph || sig.IRVersion == 0 {
		return nil, errors.New("not an ONNX model: no graph or ir_version")
	}
	if len(sig.Opsets) == 0 {
		return nil, errors.New("no opset_import")
	}
	if err := s.graph(graph[0], graph[1], sig); err != nil {
		return nil, fmt.Errorf("not an ONNX model: graph: %w", err)
	}
	return sig, nil
}

func (s *scanner) graph(pos, limit int64, sig *Signature) error {
	initializers := map[string]bool{}
	seenData := map[string]bool{}
	var inputs []TensorInfo
	err := s.fields(pos, limit, func(num protowire.Number, typ protowire.Type, start, end int64) error {
		if typ != protowire.BytesType {
			return nil
		}
		switch num {
		case 5, 15: // initializer, sparse_initializer (its values tensor)
			tstart, tend := start, end
			if num == 15 {
				found := false
				if err := s.fields(start, end, func(n protowire.Number, t protowire.Type, a, b int64) error {
					if n == 1 && t == protowire.BytesType {
						tstart, tend, found = a, b, true
					}
					return nil
				}); err != nil {
					return err
				}
				if !found {
					return nil
				}
			}
			return s.tensor(tstart, tend, func(name string, location string) {
				if name != "" {
					initializers[name] = true
				}
				if location != "" && !seenData[location] {
					seenData[location] = true
					sig.ExternalData = append(sig.ExternalData, location)
				}
			})
		case 11, 12: // input, output
			b, err := s.bytes(start, end)
			if err != nil {
				return err
			}
			var vi pb.ValueInfoProto
			if err := proto.Unmarshal(b, &vi); err != nil {
				return err
			}
			ti := tensorInfo(&vi)
			if num == 11 {
				inputs = append(inputs, ti)
			} else {
				sig.Outputs = append(sig.Outputs, ti)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, in := range inputs {
		if !initializers[in.Name] {
			sig.Inputs = append(sig.Inputs, in)
		}
	}
	return nil
}

// tensor reads the name and external data location of a TensorProto.
func (s *scanner) tensor(pos, limit int64, fn func(name, location string)) error {
	var name, location string
	err := s.fields(pos, limit, func(num protowire.Number, typ protowire.Type, start, end int64) error {
		if typ != protowire.BytesType {
			return nil
		}
		switch num {
		case 8: // name
			b, err := s.bytes(start, end)
			if err != nil {
				return err
			}
			name = string(b)
		case 13: // external_data: StringStringEntryProto {key = 1, value = 2}
			var key, value string
			if err := s.fields(start, end, func(n protowire.Number, t protowire.Type, a, b int64) error {
				if t != protowire.BytesType || (n != 1 && n != 2) {
					return nil
				}
				v, err := s.bytes(a, b)
				if err != nil {
					return err
				}
				if n == 1 {
					key = string(v)
				} else {
					value = string(v)
				}
				return nil
			}); err != nil {
				return err
			}
			if key == "location" {
				location = value
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	fn(name, location)
	return nil
}

func tensorInfo(vi *pb.ValueInfoProto) TensorInfo {
	ti := TensorInfo{Name: vi.Name}
	tt := vi.GetType().GetTensorType()
	if tt == nil {
		return ti
	}
	ti.DType = tt.ElemType
	if tt.Shape != nil {
		ti.HasShape = true
		ti.Shape = make([]Dim, 0, len(tt.Shape.Dim))
		for _, d := range tt.Shape.Dim {
			ti.Shape = append(ti.Shape, Dim{Size: d.GetDimValue(), Name: d.GetDimParam()})
		}
	}
	return ti
}
