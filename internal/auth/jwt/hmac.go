package jwt

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"hash"
	"sync"
)

// hmacKey checks HS256/384/512 signatures with one secret. Keying an HMAC
// hashes the secret's inner and outer pads, so a verification with a fresh
// hmac.New costs two more hash blocks and several allocations; hmacKey keeps
// keyed hashes in a pool per algorithm and only resets them.
type hmacKey struct {
	secret []byte
	pools  [3]sync.Pool // of *hmacState, for HS256, HS384 and HS512
}

// hmacState is a keyed hash with room for its input and sum.
type hmacState struct {
	h   hash.Hash
	in  []byte
	sum [sha512.Size]byte
}

func newHMACKey(secret []byte) *hmacKey { return &hmacKey{secret: secret} }

// verify reports whether sig is the alg (HS256, HS384 or HS512) HMAC of
// signed, comparing in constant time. It is false for any other alg.
func (k *hmacKey) verify(alg, signed string, sig []byte) bool {
	var i int
	var newHash func() hash.Hash
	switch alg {
	case "HS256":
		i, newHash = 0, sha256.New
	case "HS384":
		i, newHash = 1, sha512.New384
	case "HS512":
		i, newHash = 2, sha512.New
	default:
		return false
	}
	st, _ := k.pools[i].Get().(*hmacState)
	if st == nil {
		st = &hmacState{h: hmac.New(newHash, k.secret)}
	} else {
		st.h.Reset()
	}
	st.in = append(st.in[:0], signed...)
	st.h.Write(st.in)
	ok := hmac.Equal(st.h.Sum(st.sum[:0]), sig)
	if cap(st.in) <= 4<<10 { // keep no huge token's buffer
		k.pools[i].Put(st)
	}
	return ok
}
