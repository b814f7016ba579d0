// Package unistreampb holds the Go code generated from proto/unistream.proto,
// the service of the unidirectional gRPC transport. Do not edit
// unistream_grpc.pb.go by hand.
package unistreampb

//go:generate protoc --proto_path=../../../../proto --go-grpc_out=. --go-grpc_opt=paths=source_relative --go-grpc_opt=Mclient.proto=github.com/heraldrt/herald/internal/protocol/protocolpb unistream.proto
