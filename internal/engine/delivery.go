package engine

import (
	"github.com/heraldrt/herald/internal/broker"
	"github.com/heraldrt/herald/internal/protocol"
	"github.com/heraldrt/herald/internal/uring"
)

// position is the verdict of a positioned subscription on a publication.
type position int

const (
	positionDeliver position = iota // the next in order: deliver it
	positionSkip                    // already delivered: drop it
	positionLost                    // a gap or a new epoch: the subscription ends
)

// deliverPublications queues the pushes of publications evs of ch (in
// order, with their prepared pushes pps) for sub, together, so that an idle
// connection gets them in one frame, keeping offsets contiguous for
// positioned subscriptions. scratch is the caller's buffer for the
// messages (one per fan-out goroutine), b its send batch (nil for direct
// writes; not Full). Called by fan-out with the hub shard read lock held.
func (c *Client) deliverPublications(ch string, sub *subscription, evs []event, pps []*preparedPush, scratch *[][]byte, b *uring.Batch) {
	c.mu.Lock()
	defer c.mu.Unlock()
	msgs := (*scratch)[:0]
	for i := range evs {
		data, more := c.preparePublicationLocked(ch, sub, evs[i].pub, evs[i].sp, pps[i])
		if data != nil {
			msgs = append(msgs, data)
		}
		if !more {
			break
		}
	}
	if len(msgs) > 0 && !c.w.enqueueDelayable(msgs, b) {
		go c.Close(protocol.DisconnectSlow)
	}
	clear(msgs)
	*scratch = msgs[:0]
}

// preparePublicationLocked returns the push to send sub for pub, or nil
// when there is none to send now (buffered while the subscription is
// pending, a duplicate, or the subscription ended), and whether later
// publications of the channel may still be delivered to sub.
// Precondition: c.mu held.
func (c *Client) preparePublicationLocked(ch string, sub *subscription, pub *broker.Publication, sp broker.StreamPosition, pp *preparedPush) (data []byte, more bool) {
	if !sub.live { // c.subs[ch] != sub without a map lookup (per delivery)
		return nil, false
	}
	if sub.pending {
		return nil, c.holdLocked(sub, pendingEvent{pub: pub, sp: sp})
	}
	last := sub.offset
	switch c.advancePositionLocked(ch, sub, pub, sp) {
	case positionSkip:
		return nil, true
	case positionLost:
		return nil, false
	}
	var err error
	if sub.delta {
		data, err = pp.getDelta(c.proto, sub.deltaReady && pp.canPatch(last))
		sub.deltaReady = true
	} else {
		data, err = pp.get(c.proto, c.uni)
	}
	if err != nil {
		go c.Close(protocol.DisconnectInappropriateProtocol)
		return nil, false
	}
	return data, true
}

// advancePositionLocked checks pub against the tracked stream position of
// a positioned subscription and advances it when pub is the next one. On
// a gap or an epoch change it starts ending the subscription
// (insufficient state) and returns positionLost.
// Precondition: c.mu held.
func (c *Client) advancePositionLocked(ch string, sub *subscription, pub *broker.Publication, sp broker.StreamPosition) position {
	if !sub.positioned || pub.Offset == 0 {
		return positionDeliver
	}
	if sp.Epoch != "" && sp.Epoch != sub.epoch {
		go c.insufficientState(ch, sub)
		return positionLost
	}
	if pub.Offset <= sub.offset {
		return positionSkip
	}
	if pub.Offset > sub.offset+1 {
		go c.insufficientState(ch, sub)
		return positionLost
	}
	sub.offset = pub.Offset
	return positionDeliver
}
