package unigrpc_test

import (
	"context"
	"net"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/heraldrt/herald/internal/config"
	"github.com/heraldrt/herald/internal/engine"
	pb "github.com/heraldrt/herald/internal/protocol/protocolpb"
	"github.com/heraldrt/herald/internal/transport/httpstream/streamtest"
	"github.com/heraldrt/herald/internal/transport/unigrpc"
	"github.com/heraldrt/herald/internal/transport/unigrpc/unistreampb"
)

func start(t *testing.T, edit func(*config.Client)) (*engine.Node, unistreampb.CentrifugoUniStreamClient) {
	t.Helper()
	n := streamtest.NewNode(t, edit)
	srv := unigrpc.New(func(ctx context.Context, tr engine.Transport) (unigrpc.Session, error) {
		c, err := n.NewClient(ctx, tr)
		if err != nil {
			return nil, err
		}
		return c, nil
	}, unigrpc.Config{}, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
	cc, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return n, unistreampb.NewCentrifugoUniStreamClient(cc)
}

func consume(t *testing.T, c unistreampb.CentrifugoUniStreamClient, req *pb.ConnectRequest) <-chan *pb.Push {
	t.Helper()
	stream, err := c.Consume(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan *pb.Push, 64)
	go func() {
		defer close(ch)
		for {
			p, err := stream.Recv()
			if err != nil {
				return
			}
			ch <- p
		}
	}()
	return ch
}

func TestUniGRPCConnectReceiveShutdown(t *testing.T) {
	n, c := start(t, nil)
	pushes := consume(t, c, &pb.ConnectRequest{Token: streamtest.Token(t, "carol"), Subs: map[string]*pb.SubscribeRequest{"chat:g": {}}})
	first := streamtest.Next(t, pushes, "connect push")
	if first.Connect == nil || first.Connect.Session == "" || first.Connect.Subs["chat:g"] == nil {
		t.Fatalf("connect push: %v", first)
	}
	streamtest.Publish(t, n, "chat:g", `{"g":1}`)
	p := streamtest.Next(t, pushes, "publication")
	if p.Channel != "chat:g" || p.Pub == nil || string(p.Pub.Data) != `{"g":1}` {
		t.Fatalf("publication: %v", p)
	}
	go func() { _ = n.Shutdown(context.Background()) }()
	p = streamtest.Until(t, pushes, "disconnect", func(p *pb.Push) bool { return p.Disconnect != nil })
	if p.Disconnect.Code != 3001 {
		t.Fatalf("disconnect %v, want 3001", p.Disconnect)
	}
	if !streamtest.Ended(pushes) {
		t.Fatal("stream did not end")
	}
}

func TestUniGRPCBadToken(t *testing.T) {
	_, c := start(t, nil)
	pushes := consume(t, c, &pb.ConnectRequest{Token: streamtest.BadToken(t, "x")})
	p := streamtest.Next(t, pushes, "disconnect")
	if p.Disconnect == nil || p.Disconnect.Code != 3500 {
		t.Fatalf("push %v, want disconnect 3500", p)
	}
	if !streamtest.Ended(pushes) {
		t.Fatal("stream did not end")
	}
}
