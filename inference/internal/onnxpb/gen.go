// Package onnxpb holds Go types for the subset of the ONNX model format that
// the inference package writes.
package onnxpb

//go:generate protoc --go_out=. --go_opt=paths=source_relative onnx.proto
