// Package protocolpb holds the Go code generated from proto/client.proto, the
// client protocol v2 wire messages. Do not edit client.pb.go by hand.
package protocolpb

//go:generate protoc --proto_path=../../../proto --go_out=. --go_opt=paths=source_relative client.proto
