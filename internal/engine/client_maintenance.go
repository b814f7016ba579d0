package engine

import (
	"context"
	"math/rand/v2"
	"time"

	"github.com/heraldrt/herald/internal/broker"
)

// maintenanceInterval is how often a connection refreshes its presence and
// checks its stream positions: the smaller of presence_update_interval and
// channel_position_check_delay.
func (n *Node) maintenanceInterval() time.Duration {
	c := n.config().client
	d := c.PresenceUpdateInterval
	if p := c.ChannelPositionCheckDelay; p > 0 && (d <= 0 || p < d) {
		d = p
	}
	return d
}

// scheduleMaintenanceLocked arms the periodic maintenance of a connected
// client; the first run is randomised over one interval to spread load.
// Precondition: c.mu held.
func (c *Client) scheduleMaintenanceLocked(first bool) {
	d := c.node.maintenanceInterval()
	if d <= 0 {
		return
	}
	if first {
		d = d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
	}
	if !c.maintTimer.Bound() {
		c.node.wheel.Start(&c.maintTimer, d, c.maintainTick)
	} else {
		c.maintTimer.Reset(d)
	}
}

// maintainTick is the maintenance timer's callback, on the wheel
// goroutine. Maintenance does I/O (presence, stream tops), so it runs on a
// goroutine of its own, but only when there is some: a client without
// presence or positioned subscriptions has its timer re-armed at once.
func (c *Client) maintainTick() {
	c.mu.Lock()
	if c.state != stateConnected {
		c.mu.Unlock()
		return
	}
	for _, sub := range c.subs {
		if sub.presence || sub.positioned {
			c.mu.Unlock()
			go c.maintain()
			return
		}
	}
	c.scheduleMaintenanceLocked(false)
	c.mu.Unlock()
}

// maintain refreshes presence entries and checks the stream position of
// positioned subscriptions against the broker's stream top. A publication
// the client missed is detected when the top stays ahead of the client's
// position for two checks in a row (a publication still in flight at the
// first check does not count); an epoch change is detected at once.
func (c *Client) maintain() {
	cfg := c.node.config().client
	now := c.node.now()
	var presence, positions []positionCheck
	c.mu.Lock()
	if c.state != stateConnected {
		c.mu.Unlock()
		return
	}
	for ch, sub := range c.subs {
		if sub.presence {
			presence = append(presence, positionCheck{ch, sub})
		}
		if sub.positioned && !sub.pending && cfg.ChannelPositionCheckDelay > 0 && now.Sub(sub.lastCheck) >= cfg.ChannelPositionCheckDelay {
			sub.lastCheck = now
			positions = append(positions, positionCheck{ch, sub})
		}
	}
	c.mu.Unlock()

	ctx, cancel := context.WithTimeout(c.ctx, 10*time.Second)
	defer cancel()
	for _, p := range presence {
		if err := c.node.opts.Presence.AddPresence(ctx, p.ch, c.id, c.clientInfo(p.sub.chanInfo)); err != nil {
			c.node.log.Debug("presence refresh", "client", c.id, "channel", p.ch, "error", err)
		}
	}
	c.checkPositions(ctx, positions)
	c.mu.Lock()
	if c.state == stateConnected {
		c.scheduleMaintenanceLocked(false)
	}
	c.mu.Unlock()
}

type positionCheck struct {
	ch  string
	sub *subscription
}

// checkPositions compares each subscription's position with the stream
// top: another epoch ends the subscription at once; a top ahead of the
// client at two checks in a row does too.
func (c *Client) checkPositions(ctx context.Context, positions []positionCheck) {
	for _, p := range positions {
		_, top, err := c.node.opts.Broker.History(ctx, p.ch, broker.HistoryOptions{})
		if err != nil {
			continue // the broker is unavailable: check again next time
		}
		c.mu.Lock()
		if c.subs[p.ch] != p.sub {
			c.mu.Unlock()
			continue
		}
		insufficient := false
		switch {
		case top.Epoch != p.sub.epoch:
			insufficient = true
		case top.Offset > p.sub.offset:
			if p.sub.suspectOffset > 0 && p.sub.offset < p.sub.suspectOffset {
				insufficient = true
			} else {
				p.sub.suspectOffset = top.Offset
			}
		default:
			p.sub.suspectOffset = 0
		}
		c.mu.Unlock()
		if insufficient {
			c.insufficientState(p.ch, p.sub)
		}
	}
}

// resubscribeRecheckDelay is how long after a broker resubscribe the second
// position check runs (publications in flight at the first have arrived).
const resubscribeRecheckDelay = time.Second

// HandleResubscribe checks the positions of local positioned subscribers of
// channels right away and once more shortly after: publications may have
// been lost while the broker's PUB/SUB connection was broken.
func (h *brokerHandler) HandleResubscribe(channels []string) {
	n := h.n
	perClient := map[*Client][]positionCheck{}
	for _, ch := range channels {
		n.hub.eachSub(ch, func(c *Client, sub *subscription) {
			if sub.positioned {
				perClient[c] = append(perClient[c], positionCheck{ch, sub})
			}
		})
	}
	for c, checks := range perClient {
		go func(c *Client, checks []positionCheck) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			c.checkPositions(ctx, checks)
			cancel()
			time.AfterFunc(resubscribeRecheckDelay, func() {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				c.checkPositions(ctx, checks)
			})
		}(c, checks)
	}
}

var _ broker.ResubscribeHandler = (*brokerHandler)(nil)
