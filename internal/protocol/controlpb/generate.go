// Package controlpb holds the Go code generated from proto/control.proto,
// the node-to-node control messages. Do not edit control.pb.go by hand.
package controlpb

//go:generate protoc --proto_path=../../../proto --go_out=. --go_opt=paths=source_relative control.proto
