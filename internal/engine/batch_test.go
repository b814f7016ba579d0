package engine_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldrt/herald/internal/engine"
)

// frameTransport is a transport with non-blocking writes (engine.TryWriter)
// that records each frame's messages. While gated, a write waits until the
// gate opens, as a socket would stay busy.
type frameTransport struct {
	testTransport
	gate    chan struct{}
	waiting atomic.Bool
	fmu     sync.Mutex
	frames  [][]string
}

func (t *frameTransport) TryWriteMany(msgs ...[]byte) (bool, error) {
	t.fmu.Lock()
	gate := t.gate
	t.fmu.Unlock()
	if gate != nil {
		t.waiting.Store(true)
		<-gate
	}
	frame := make([]string, len(msgs))
	for i, m := range msgs {
		frame[i] = string(m)
	}
	t.fmu.Lock()
	t.frames = append(t.frames, frame)
	t.fmu.Unlock()
	return true, t.WriteMany(msgs...)
}

func (t *frameTransport) setGate(g chan struct{}) {
	t.fmu.Lock()
	t.gate = g
	t.fmu.Unlock()
}

// framesWith returns the frames with a message containing substr, each as
// the list of its messages' pushes reduced to what identifies them.
func (t *frameTransport) framesWith(substr string) []string {
	t.fmu.Lock()
	defer t.fmu.Unlock()
	var out []string
	for _, f := range t.frames {
		if strings.Contains(strings.Join(f, "\n"), substr) {
			out = append(out, strings.Join(f, " + "))
		}
	}
	return out
}

// gatedSubscriber connects a client on a frameTransport subscribed to ch,
// then gates its writes: the next publication's fan-out waits in the write.
func gatedSubscriber(t *testing.T, n *engine.Node, user, ch string) (*frameTransport, chan struct{}) {
	t.Helper()
	tr := &frameTransport{}
	c := connectVia(t, n, tr, &tr.testTransport, user)
	if !c.HandleFrame([]byte(`{"id":2,"subscribe":{"channel":"` + ch + `"}}`)) {
		t.Fatalf("subscribe refused: %v", tr.closedWith())
	}
	waitMsg(t, &tr.testTransport, `"id":2`)
	gate := make(chan struct{})
	tr.setGate(gate)
	return tr, gate
}

func publishN(t *testing.T, n *engine.Node, ch string, from, to int) {
	t.Helper()
	for i := from; i <= to; i++ {
		if _, err := n.Publish(context.Background(), ch, []byte(fmt.Sprintf(`{"n":%d}`, i)), engine.PublishOptions{}); err != nil {
			t.Fatal(err)
		}
	}
}

// TestQueuedPublicationsShareAFrame: publications that queue up behind a
// fan-out in progress reach each subscriber together, in one frame, in
// order and with contiguous offsets; a subscriber that keeps up gets one
// frame per publication.
func TestQueuedPublicationsShareAFrame(t *testing.T) {
	n := newNode(t, testConfig())
	tr, gate := gatedSubscriber(t, n, "1", "chat:batch")
	publishN(t, n, "chat:batch", 1, 1)
	eventually(t, 5*time.Second, tr.waiting.Load, "the fan-out of publication 1 waiting in the write")
	publishN(t, n, "chat:batch", 2, 3) // queued behind it (the queue holds 2)
	tr.setGate(nil)
	close(gate)
	eventually(t, 5*time.Second, func() bool { return len(tr.framesWith(`"pub"`)) >= 2 }, "two frames of publications")
	publishN(t, n, "chat:batch", 4, 4) // the worker is idle again: alone
	eventually(t, 5*time.Second, func() bool { return len(tr.framesWith(`"pub"`)) >= 3 }, "three frames of publications")
	want := []string{
		`{"push":{"channel":"chat:batch","pub":{"data":{"n":1},"offset":1}}}`,
		`{"push":{"channel":"chat:batch","pub":{"data":{"n":2},"offset":2}}} + {"push":{"channel":"chat:batch","pub":{"data":{"n":3},"offset":3}}}`,
		`{"push":{"channel":"chat:batch","pub":{"data":{"n":4},"offset":4}}}`,
	}
	if got := tr.framesWith(`"pub"`); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("frames:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if d := tr.closedWith(); d != nil {
		t.Fatalf("closed with %v", d)
	}
}
