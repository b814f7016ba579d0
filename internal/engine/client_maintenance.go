package engine

import (
	"context"
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
		d = d/2 + time.Duration(int64(d/2)*int64(len(c.id)%7)/7)
	}
	c.maintTimer = time.AfterFunc(d, c.maintain)
}

// maintain refreshes presence entries and checks the stream position of
// positioned subscriptions against the broker's stream top. A publication
// the client missed is detected when the top stays ahead of the client's
// position for two checks in a row (a publication still in flight at the
// first check does not count); an epoch change is detected at once.
func (c *Client) maintain() {
	cfg := c.node.config().client
	now := c.node.now()
	type check struct {
		ch  string
		sub *subscription
	}
	var presence, positions []check
	c.mu.Lock()
	if c.state != stateConnected {
		c.mu.Unlock()
		return
	}
	for ch, sub := range c.subs {
		if sub.presence {
			presence = append(presence, check{ch, sub})
		}
		if sub.positioned && !sub.pending && cfg.ChannelPositionCheckDelay > 0 && now.Sub(sub.lastCheck) >= cfg.ChannelPositionCheckDelay {
			sub.lastCheck = now
			positions = append(positions, check{ch, sub})
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
	c.mu.Lock()
	if c.state == stateConnected {
		c.scheduleMaintenanceLocked(false)
	}
	c.mu.Unlock()
}
