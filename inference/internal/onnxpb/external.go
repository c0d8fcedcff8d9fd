package onnxpb

import (
	"strconv"

	"google.golang.org/protobuf/encoding/protowire"
)

// SetExternalData marks t's values as stored in an external data file, at
// length bytes from offset of location (relative to the model's folder), as
// exporters write large weights. The schema here leaves out TensorProto's
// external_data (13) and data_location (14) fields, so they are written as
// unknown fields, which serialize like declared ones. It replaces t's other
// unknown fields; the caller clears the values held in t.
func SetExternalData(t *TensorProto, location string, offset, length int) {
	var raw []byte
	for _, kv := range [][2]string{{"location", location}, {"offset", strconv.Itoa(offset)}, {"length", strconv.Itoa(length)}} {
		var e []byte // StringStringEntryProto {key = 1, value = 2}
		e = protowire.AppendTag(e, 1, protowire.BytesType)
		e = protowire.AppendString(e, kv[0])
		e = protowire.AppendTag(e, 2, protowire.BytesType)
		e = protowire.AppendString(e, kv[1])
		raw = protowire.AppendTag(raw, 13, protowire.BytesType)
		raw = protowire.AppendBytes(raw, e)
	}
	raw = protowire.AppendTag(raw, 14, protowire.VarintType)
	raw = protowire.AppendVarint(raw, 1) // EXTERNAL
	t.ProtoReflect().SetUnknown(raw)
}
