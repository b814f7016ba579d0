package engine

// PendingLen reports how many publications, joins and leaves c holds for
// ch while its subscription waits for its reply to be queued, or -1 when c
// has no subscription to ch. For tests of the pending phase.
func PendingLen(c *Client, ch string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	sub := c.subs[ch]
	if sub == nil {
		return -1
	}
	return len(sub.buffer)
}
