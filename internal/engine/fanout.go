package engine

import (
	"encoding/json"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/heraldrt/herald/internal/broker"
	"github.com/heraldrt/herald/internal/fossil"
	"github.com/heraldrt/herald/internal/protocol"
	pb "github.com/heraldrt/herald/internal/protocol/protocolpb"
	"github.com/heraldrt/herald/internal/uring"
)

// preparedPush encodes a push lazily, once per (protocol, unidirectional)
// variant, and shares the bytes among all subscribers. For publications it
// also holds the delta-compression variants. It is safe for concurrent use:
// the goroutines of a parallel fan-out share it, and a join or leave held
// for a pending subscription is encoded by its client's goroutine. Each
// variant is published through an atomic pointer, so a delivery reads it
// with one atomic load; two goroutines asking for a new variant at the same
// moment may both encode it, and both then use the one published first.
type preparedPush struct {
	push *pb.Push
	enc  [4]atomic.Pointer[encoded]

	// Delta compression (publications only).
	pub      *broker.Publication
	prev     *broker.Publication           // previous publication of the channel, if known
	deltaEnc [2][2]atomic.Pointer[encoded] // [protocol][patch]
	patch    atomic.Pointer[fossilPatch]
}

// encoded is one encoding of a push, or why it failed.
type encoded struct {
	b   []byte
	err error
}

// fossilPatch is the delta of a publication against the previous one, and
// whether it is worth sending (shorter than the data).
type fossilPatch struct {
	b      []byte
	usable bool
}

// newPreparedPush prepares the publication push of pub in ch; prev is the
// channel's previous publication, for delta compression (nil if unknown).
func newPreparedPush(ch string, pub, prev *broker.Publication) *preparedPush {
	return &preparedPush{push: &pb.Push{Channel: ch, Pub: toProtoPublication(pub)}, pub: pub, prev: prev}
}

// once returns the value of slot, computing and publishing it first if
// there is none yet.
func once[T any](slot *atomic.Pointer[T], compute func() *T) *T {
	if v := slot.Load(); v != nil {
		return v
	}
	slot.CompareAndSwap(nil, compute())
	return slot.Load()
}

func (p *preparedPush) get(t protocol.Type, uni bool) ([]byte, error) {
	i := int(t) * 2
	if uni {
		i++
	}
	if e := p.enc[i].Load(); e != nil { // the delivery path: one load
		return e.b, e.err
	}
	e := once(&p.enc[i], func() *encoded {
		b, err := encodePush(t, uni, p.push)
		return &encoded{b, err}
	})
	return e.b, e.err
}

// canPatch reports whether a delta against the previous publication can be
// sent to a subscriber whose last received offset is lastOffset.
func (p *preparedPush) canPatch(lastOffset uint64) bool {
	if p.prev == nil || p.pub.Offset == 0 || p.prev.Offset+1 != p.pub.Offset || lastOffset+1 != p.pub.Offset {
		return false
	}
	return p.fossil().usable
}

func (p *preparedPush) fossil() *fossilPatch {
	return once(&p.patch, func() *fossilPatch {
		d := fossil.Delta(p.prev.Data, p.pub.Data)
		return &fossilPatch{b: d, usable: len(d) < len(p.pub.Data)}
	})
}

// getDelta returns the encoding for a subscriber that negotiated delta
// compression: the full publication (on JSON connections its data is a JSON
// string) or, with patch, a Fossil delta against the previous publication.
func (p *preparedPush) getDelta(t protocol.Type, patch bool) ([]byte, error) {
	if t == protocol.TypeProtobuf && !patch {
		return p.get(t, false) // full data is sent as is on Protobuf
	}
	pi, di := int(t), 0
	if patch {
		di = 1
	}
	e := once(&p.deltaEnc[pi][di], func() *encoded {
		pub := toProtoPublication(p.pub)
		data := p.pub.Data
		if patch {
			data = p.fossil().b
			pub.Delta = true
		}
		if t == protocol.TypeJSON {
			data = jsonString(data)
		}
		pub.Data = data
		b, err := encodePush(t, false, &pb.Push{Channel: p.push.Channel, Pub: pub})
		return &encoded{b, err}
	})
	return e.b, e.err
}

// jsonString returns data as a JSON string literal, the form publication
// data takes on JSON connections that negotiated delta compression.
func jsonString(data []byte) []byte {
	b, _ := json.Marshal(string(data)) // marshalling a string cannot fail
	return b
}

// encodePush encodes a push as a Reply (bidirectional) or as a bare Push
// (unidirectional transports).
func encodePush(t protocol.Type, uni bool, push *pb.Push) ([]byte, error) {
	if uni {
		if t == protocol.TypeProtobuf {
			return protocol.AppendPushProtobuf(nil, push)
		}
		return protocol.AppendPushJSON(nil, push)
	}
	return protocol.EncodeReply(t, &pb.Reply{Push: push})
}

func toProtoClientInfo(info *broker.ClientInfo) *pb.ClientInfo {
	if info == nil {
		return nil
	}
	return &pb.ClientInfo{User: info.User, Client: info.Client, ConnInfo: info.ConnInfo, ChanInfo: info.ChanInfo}
}

func toProtoPublication(pub *broker.Publication) *pb.Publication {
	return &pb.Publication{
		Data:    pub.Data,
		Info:    toProtoClientInfo(pub.Info),
		Offset:  pub.Offset,
		Tags:    pub.Tags,
		Channel: pub.Channel,
	}
}

// handleEvents fans out a batch of events taken from a dispatcher queue
// (see groupEvents).
func (n *Node) handleEvents(batch []event) {
	groupEvents(batch, n.fanoutPublications, func(ev *event) { ev.run() })
}

// groupEvents hands the publications of batch (at most maxEventBatch
// events) to pubs, those of one channel together (framed), and runs
// every other event (join, leave) with job. A job first lets the
// publications taken before it go, so every channel's events keep their
// order; publications of different channels may be reordered.
func groupEvents(batch []event, pubs func(ch string, group []event), job func(ev *event)) {
	start := 0 // the first event not handled yet
	for i := range batch {
		if batch[i].pub != nil {
			continue
		}
		groupPublications(batch[start:i], pubs)
		job(&batch[i])
		start = i + 1
	}
	groupPublications(batch[start:], pubs)
}

// groupPublications calls pubs for each channel of evs (publications)
// with that channel's publications in order, in frames (framed).
func groupPublications(evs []event, pubs func(ch string, group []event)) {
	if len(evs) == 0 {
		return
	}
	if oneChannel(evs) { // the usual batch: no regrouping, no copy
		framed(evs, pubs)
		return
	}
	// One array for every group: each channel's events are copied after
	// the previous channel's (a batch of 128 events would otherwise
	// allocate a group per channel, each up to the batch's size).
	var taken [maxEventBatch]bool
	grouped := make([]event, 0, len(evs))
	for i := range evs {
		if taken[i] {
			continue
		}
		start := len(grouped)
		for j := i; j < len(evs); j++ {
			if !taken[j] && evs[j].ch == evs[i].ch {
				grouped = append(grouped, evs[j])
				taken[j] = true
			}
		}
		framed(grouped[start:len(grouped):len(grouped)], pubs)
	}
}

// framed calls pubs with group, one channel's publications, in pieces of
// at most defaultMaxMessagesInFrame (one frame each), in order.
func framed(group []event, pubs func(ch string, group []event)) {
	for len(group) > 0 {
		n := min(len(group), defaultMaxMessagesInFrame)
		pubs(group[0].ch, group[:n])
		group = group[n:]
	}
}

// oneChannel reports whether every event of evs (not empty) is of the
// first one's channel.
func oneChannel(evs []event) bool {
	for i := 1; i < len(evs); i++ {
		if evs[i].ch != evs[0].ch {
			return false
		}
	}
	return true
}

// parallelFanoutMin is the subscriber count from which a publication is
// delivered by several goroutines (one per CPU) instead of one: writes to many sockets use every core.
const parallelFanoutMin = 256

// fanoutPublications delivers the publications evs of ch, in order, to
// every local subscriber of ch, in one frame per subscriber when there are
// several. It returns when every subscriber has them queued (or written),
// so a channel's publications reach each subscriber in order.
//
// The writes to idle connections go through a uring.Batch per fan-out
// goroutine, submitted every uring.Size subscribers and at the end: a
// batched write holds that connection's later writes back until it is
// submitted, so nothing waits on a submission for longer than it takes to
// prepare uring.Size deliveries.
func (n *Node) fanoutPublications(ch string, evs []event) {
	// One encoding per variant, shared by the fan-out's goroutines.
	pps := make([]*preparedPush, len(evs))
	for i := range evs {
		pps[i] = newPreparedPush(ch, evs[i].pub, evs[i].prev)
	}
	workers := runtime.GOMAXPROCS(0)
	if workers < 2 || n.hub.subCount(ch) < parallelFanoutMin {
		var scratch [][]byte
		b := uring.Get()
		n.hub.eachSub(ch, func(c *Client, sub *subscription) {
			if b.Full() {
				b.Submit()
			}
			c.deliverPublications(ch, sub, evs, pps, &scratch, b)
		})
		b.Release()
		return
	}
	subs := n.hub.snapshotSubs(ch)
	defer putSubSnapshot(subs)
	chunk := (len(*subs) + workers - 1) / workers
	var wg sync.WaitGroup
	for start := 0; start < len(*subs); start += chunk {
		part := (*subs)[start:min(start+chunk, len(*subs))]
		wg.Go(func() {
			var scratch [][]byte
			b := uring.Get()
			for _, s := range part {
				if b.Full() {
					b.Submit()
				}
				s.c.deliverPublications(ch, s.sub, evs, pps, &scratch, b)
			}
			b.Release()
		})
	}
	wg.Wait()
}

// fanoutJoinLeave delivers a join or leave push to subscribers of ch that
// asked for join/leave pushes.
func (n *Node) fanoutJoinLeave(ch string, info *broker.ClientInfo, join bool) {
	push := &pb.Push{Channel: ch}
	if join {
		push.Join = &pb.Join{Info: toProtoClientInfo(info)}
	} else {
		push.Leave = &pb.Leave{Info: toProtoClientInfo(info)}
	}
	pp := &preparedPush{push: push}
	b := uring.Get()
	n.hub.eachSub(ch, func(c *Client, sub *subscription) {
		// A client is not told about its own join or leave, whatever the
		// engine's delivery timing.
		if sub.pushJoinLeave && (info == nil || info.Client != c.id) {
			if b.Full() {
				b.Submit()
			}
			c.deliverJoinLeave(ch, sub, pp, b)
		}
	})
	b.Release()
}
