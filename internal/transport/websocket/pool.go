package websocket

import "sync"

// bufClasses are the capacities of the pooled byte buffers. Buffers are held
// only while a frame is read, assembled or written; an idle connection holds
// none.
var bufClasses = [...]int{512, 2 << 10, 8 << 10, 32 << 10, 128 << 10}

var bufPools [len(bufClasses)]sync.Pool

// getBuf returns a zero-length buffer with capacity at least n, from the
// smallest class that fits; beyond the largest class it allocates.
func getBuf(n int) *[]byte {
	for i, c := range bufClasses {
		if n <= c {
			if b, ok := bufPools[i].Get().(*[]byte); ok {
				*b = (*b)[:0]
				return b
			}
			b := make([]byte, 0, c)
			return &b
		}
	}
	b := make([]byte, 0, n)
	return &b
}

// putBuf returns b to its class pool; buffers of no class are dropped.
func putBuf(b *[]byte) {
	c := cap(*b)
	for i, cl := range bufClasses {
		if c == cl {
			*b = (*b)[:0]
			bufPools[i].Put(b)
			return
		}
	}
}
