package httpstream_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"net/http"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/heraldrt/herald/internal/config"
	pb "github.com/heraldrt/herald/internal/protocol/protocolpb"
	"github.com/heraldrt/herald/internal/transport/httpstream"
	"github.com/heraldrt/herald/internal/transport/httpstream/streamtest"
)

func TestCORSAndOrigins(t *testing.T) {
	e := newEnv(t, nil, httpstream.Config{AllowedOrigins: []string{"https://*.example.com"}})
	for _, path := range []string{"/connection/http_stream", "/connection/sse", "/emulation"} {
		req, _ := http.NewRequest(http.MethodOptions, e.srv.URL+path, nil)
		req.Header.Set("Origin", "https://app.example.com")
		req.Header.Set("Access-Control-Request-Headers", "content-type")
		resp, err := e.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		h := resp.Header
		if resp.StatusCode != http.StatusNoContent || h.Get("Access-Control-Allow-Origin") != "https://app.example.com" ||
			h.Get("Access-Control-Allow-Credentials") != "true" || h.Get("Access-Control-Allow-Headers") != "content-type" ||
			h.Get("Access-Control-Max-Age") != "300" || h.Get("Access-Control-Allow-Methods") == "" {
			t.Fatalf("%s preflight: %d %v", path, resp.StatusCode, h)
		}
		req, _ = http.NewRequest(http.MethodPost, e.srv.URL+path, bytes.NewReader([]byte(`{}`)))
		req.Header.Set("Origin", "https://evil.test")
		resp, err = e.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Fatalf("%s foreign origin: %d, want 403", path, resp.StatusCode)
		}
	}
	s := e.open(t, http.MethodPost, "/connection/http_stream", "", `{"id":1,"connect":{}}`,
		map[string]string{"Origin": "https://app.example.com"})
	if s.resp.Header.Get("Access-Control-Allow-Origin") != "https://app.example.com" {
		t.Fatalf("stream lacks CORS header: %v", s.resp.Header)
	}
	connectResult(t, s.next(t, "connect reply"))
}

func TestHTTPStreamPingPongAndNoPong(t *testing.T) {
	e := newEnv(t, func(c *config.Client) {
		c.PingInterval = 200 * time.Millisecond
		c.PongTimeout = 150 * time.Millisecond
	}, httpstream.Config{})
	s := e.open(t, http.MethodPost, "/connection/http_stream", "", `{"id":1,"connect":{}}`, nil)
	res := connectResult(t, s.next(t, "connect reply"))
	if res["pong"] != true {
		t.Fatalf("connect result does not ask for pongs: %v", res)
	}
	for range 2 { // answered pings keep the stream alive
		if m := s.next(t, "ping"); len(m) != 0 {
			t.Fatalf("want {} ping, got %v", m)
		}
		if st := e.emulate(t, e.node.ID(), res["session"].(string), `{}`); st != http.StatusNoContent {
			t.Fatalf("pong status %d", st)
		}
	}
	if m := s.next(t, "unanswered ping"); len(m) != 0 {
		t.Fatalf("want {} ping, got %v", m)
	}
	if code := disconnectCode(s.next(t, "no pong disconnect")); code != 3012 {
		t.Fatalf("disconnect %v, want 3012", code)
	}
}

func TestHTTPStreamProtobuf(t *testing.T) {
	e := newEnv(t, nil, httpstream.Config{})
	cmd, _ := proto.Marshal(&pb.Command{Id: 1, Connect: &pb.ConnectRequest{}})
	body := binary.AppendUvarint(nil, uint64(len(cmd)))
	body = append(body, cmd...)
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, e.srv.URL+"/connection/http_stream", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	r := bufio.NewReader(resp.Body)
	reply := readProtoReply(t, r)
	if reply.Connect == nil || reply.Connect.Session == "" {
		t.Fatalf("connect reply: %v", reply)
	}
	emu, _ := proto.Marshal(&pb.EmulationRequest{Node: reply.Connect.Node, Session: reply.Connect.Session,
		Data: appendDelimited(&pb.Command{Id: 2, Subscribe: &pb.SubscribeRequest{Channel: "chat:pb"}})})
	if st := e.post(t, "/emulation", "application/octet-stream", string(emu)); st != http.StatusNoContent {
		t.Fatalf("protobuf emulation: %d", st)
	}
	if rep := readProtoReply(t, r); rep.Id != 2 || rep.Subscribe == nil {
		t.Fatalf("subscribe reply: %v", rep)
	}
	streamtest.Publish(t, e.node, "chat:pb", `{"n":1}`)
	if rep := readProtoReply(t, r); rep.Push == nil || rep.Push.Pub == nil || string(rep.Push.Pub.Data) != `{"n":1}` {
		t.Fatalf("publication: %v", rep)
	}
}

func appendDelimited(m proto.Message) []byte {
	b, _ := proto.Marshal(m)
	return append(binary.AppendUvarint(nil, uint64(len(b))), b...)
}

func readProtoReply(t *testing.T, r *bufio.Reader) *pb.Reply {
	t.Helper()
	n, err := binary.ReadUvarint(r)
	if err != nil {
		t.Fatalf("read length: %v", err)
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(r, buf); err != nil {
		t.Fatalf("read reply: %v", err)
	}
	var rep pb.Reply
	if err := proto.Unmarshal(buf, &rep); err != nil {
		t.Fatalf("decode reply: %v", err)
	}
	return &rep
}
