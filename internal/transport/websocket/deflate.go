package websocket

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/klauspost/compress/flate"
)

// This file implements permessage-deflate (RFC 7692) without context
// takeover in either direction: every message is compressed and
// decompressed on its own, so a connection keeps no compression state
// between messages and holds no flate object while idle. Compressors and
// decompressors are pooled per Handler and taken only for the duration of
// one message.

// deflateResponse is the Sec-WebSocket-Extensions value of an accepted
// offer.
const deflateResponse = "permessage-deflate; server_no_context_takeover; client_no_context_takeover"

// deflateTail completes a message for the decompressor: the empty stored
// block the sender removed (RFC 7692 §7.2.2), then a final empty stored
// block so that the stream ends with io.EOF.
var deflateTail = []byte{0x00, 0x00, 0xff, 0xff, 0x01, 0x00, 0x00, 0xff, 0xff}

// errBadDeflate reports a compressed message that does not decompress.
var errBadDeflate = errors.New("websocket: invalid compressed message")

// acceptsDeflate reports whether one of the client's permessage-deflate
// offers can be accepted: one that does not limit the server's window
// below the 32 KiB the compressor uses (server_max_window_bits < 15).
// Other parameters are answered by deflateResponse or need nothing.
func acceptsDeflate(h http.Header) bool {
	for _, v := range h.Values("Sec-Websocket-Extensions") {
		for offer := range strings.SplitSeq(v, ",") {
			params := strings.Split(offer, ";")
			if strings.TrimSpace(params[0]) != "permessage-deflate" {
				continue
			}
			ok := true
			for _, p := range params[1:] {
				name, val, _ := strings.Cut(strings.TrimSpace(p), "=")
				if strings.TrimSpace(name) == "server_max_window_bits" {
					bits, err := strconv.Atoi(strings.Trim(strings.TrimSpace(val), `"`))
					ok = ok && err == nil && bits >= 15
				}
			}
			if ok {
				return true
			}
		}
	}
	return false
}

// deflatePool hands out compressors of one level.
type deflatePool struct {
	level int
	pool  sync.Pool // *deflater
}

// deflater is a pooled compressor with the writer it compresses into.
type deflater struct {
	fw  *flate.Writer
	out bufWriter
}

// bufWriter appends to a pooled buffer.
type bufWriter struct{ bp *[]byte }

func (w *bufWriter) Write(p []byte) (int, error) {
	*w.bp = append(*w.bp, p...)
	return len(p), nil
}

// compressFrame encodes msgs as one compressed WebSocket message of opcode
// (RSV1 set) whose uncompressed payload is size bytes, joined as
// encodeFrame joins them, in a pooled buffer.
func (d *deflatePool) compressFrame(opcode byte, size int, msgs [][]byte) (*[]byte, error) {
	df, _ := d.pool.Get().(*deflater)
	if df == nil {
		df = new(deflater)
		fw, err := flate.NewWriter(&df.out, d.level)
		if err != nil {
			return nil, err
		}
		df.fw = fw
	} else {
		df.fw.Reset(&df.out)
	}
	plain := encodeFrame(opcode, size, msgs) // header + payload; the header is ignored
	// The compressed payload goes after room for the longest header.
	out := getBuf(maxServerHeaderLen + size/2 + 16)
	*out = (*out)[:maxServerHeaderLen]
	df.out.bp = out
	_, err := df.fw.Write((*plain)[len(*plain)-size:])
	if err == nil {
		err = df.fw.Flush()
	}
	putBuf(plain)
	out = df.out.bp // the writer may have grown it
	df.out.bp = nil
	d.pool.Put(df)
	b := *out
	if err != nil || !bytes.HasSuffix(b, deflateTail[:4]) {
		putBuf(out)
		return nil, errors.Join(errors.New("websocket: compress"), err)
	}
	b = b[:len(b)-4]
	var hdr [maxServerHeaderLen]byte
	hl := putHeader(hdr[:], opcode, len(b)-maxServerHeaderLen)
	hdr[0] |= rsv1
	// Put the header right before the payload, and the frame at the start.
	start := maxServerHeaderLen - hl
	copy(b[start:], hdr[:hl])
	*out = b[:copy(b, b[start:])]
	return out, nil
}

// inflatePool hands out decompressors.
type inflatePool struct {
	pool sync.Pool // *inflater
}

// inflater is a pooled decompressor with its input reader.
type inflater struct {
	in pairReader
	fr io.ReadCloser
}

// pairReader reads a, then b; it is an io.ByteReader so that the
// decompressor reads it directly, without a bufio.Reader of its own.
type pairReader struct{ a, b []byte }

func (r *pairReader) Read(p []byte) (int, error) {
	if len(r.a) == 0 {
		r.a, r.b = r.b, nil
		if len(r.a) == 0 {
			return 0, io.EOF
		}
	}
	n := copy(p, r.a)
	r.a = r.a[n:]
	return n, nil
}

func (r *pairReader) ReadByte() (byte, error) {
	if len(r.a) == 0 {
		r.a, r.b = r.b, nil
		if len(r.a) == 0 {
			return 0, io.EOF
		}
	}
	c := r.a[0]
	r.a = r.a[1:]
	return c, nil
}

// inflate decompresses the payload of a compressed message into a pooled
// buffer. It returns tooBig (and no buffer) when the result would exceed
// limit bytes, and errBadDeflate when the payload is not valid deflate
// data.
func (p *inflatePool) inflate(payload []byte, limit int) (out *[]byte, tooBig bool, err error) {
	inf, _ := p.pool.Get().(*inflater)
	if inf == nil {
		inf = new(inflater)
	}
	inf.in = pairReader{a: payload, b: deflateTail}
	if inf.fr == nil {
		inf.fr = flate.NewReader(&inf.in)
	} else if err := inf.fr.(flate.Resetter).Reset(&inf.in, nil); err != nil {
		return nil, false, errBadDeflate
	}
	defer func() {
		inf.in = pairReader{}
		p.pool.Put(inf)
	}()
	out = getBuf(min(4*len(payload)+64, limit+1))
	for {
		b := *out
		if len(b) == cap(b) {
			if len(b) > limit {
				putBuf(out)
				return nil, true, nil
			}
			grown := getBuf(min(2*cap(b), limit+1))
			*grown = append(*grown, b...)
			putBuf(out)
			out = grown
			b = *out
		}
		n, rerr := inf.fr.Read(b[len(b):cap(b)])
		*out = b[:len(b)+n]
		if len(*out) > limit {
			putBuf(out)
			return nil, true, nil
		}
		if rerr == io.EOF {
			return out, false, nil
		}
		if rerr != nil {
			putBuf(out)
			return nil, false, errBadDeflate
		}
	}
}
