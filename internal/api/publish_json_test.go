package api

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
)

var publishDecodeCases = []string{
	`{"channel":"chat","data":{"text":"hello"}}`,
	` { "channel" : "chat" , "data" : [1, {"a":"}"}, "x\"y"] , "skip_history":true } `,
	`{"channel":"c","b64data":"aGVsbG8=","tags":{"a":"b"},"idempotency_key":"k","delta":false,"version":42,"version_epoch":"e"}`,
	`{"channel":"c","data":"str","tags":{"a":"1"},"tags":{"b":"2"}}`,
	`{"channel":"c","channel":"d","data":1,"data":null}`,
	`{"Channel":"c","data":1}`,
	`{"channel":"c\u0041","data":1}`,
	`{"channel":null,"data":1}`,
	`{"channel":5,"data":1}`,
	`{"version":-1}`,
	`{"version":1.5}`,
	`{"version":1e3}`,
	`{"version":18446744073709551616}`,
	`{"skip_history":"true"}`,
	`{"unknown":{"deep":[1,2,3]},"channel":"c"}`,
	`{}`,
	`null`,
	`[]`,
	`"x"`,
	`{"channel":"c"`,
	`{"channel":"c"} x`,
	"{\"channel\":\"\xff\"}",
	`{"tags":null}`,
	`{"tags":{"a":1}}`,
	`{"data":true,"delta":true}`,
}

// TestDecodePublishRequestMatchesStdlib checks that the fast path and
// encoding/json agree.
func TestDecodePublishRequestMatchesStdlib(t *testing.T) {
	for _, c := range publishDecodeCases {
		checkPublishDecode(t, []byte(c))
	}
}

func checkPublishDecode(t *testing.T, b []byte) {
	t.Helper()
	var got, want PublishRequest
	gotErr := DecodePublishRequest(b, &got)
	var wantErr error
	if len(bytes.TrimSpace(b)) > 0 {
		wantErr = json.Unmarshal(b, &want)
	}
	if (gotErr == nil) != (wantErr == nil) {
		t.Fatalf("%q: error %v, encoding/json error %v", b, gotErr, wantErr)
	}
	if gotErr != nil {
		return
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%q:\n got  %+v\n want %+v", b, got, want)
	}
}

func FuzzDecodePublishRequest(f *testing.F) {
	for _, c := range publishDecodeCases {
		f.Add([]byte(c))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		checkPublishDecode(t, b)
	})
}

func TestDecodePublishRequestAliasesData(t *testing.T) {
	b := []byte(`{"channel":"c","data":{"a":1}}`)
	var req PublishRequest
	if err := DecodePublishRequest(b, &req); err != nil {
		t.Fatal(err)
	}
	if &req.Data[0] != &b[22] {
		t.Fatal("fast path copied data")
	}
}

func TestPublishResultAppendJSON(t *testing.T) {
	for _, r := range []PublishResult{
		{},
		{Offset: 1},
		{Epoch: "abcd"},
		{Offset: 18446744073709551615, Epoch: "xyzXYZab"},
		{Offset: 7, Epoch: "a<b>&\"\\\n\u2028é"},
	} {
		want, err := json.Marshal(&r)
		if err != nil {
			t.Fatal(err)
		}
		if got := r.AppendJSON(nil); !bytes.Equal(got, want) {
			t.Errorf("AppendJSON(%+v) = %s, want %s", r, got, want)
		}
	}
}

var benchPublishBody = []byte(`{"channel":"chat:index","data":{"text":"hello, world","user":"42"},"idempotency_key":"abc"}`)

func BenchmarkDecodePublishRequest(b *testing.B) {
	b.Run("fast", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var req PublishRequest
			if err := DecodePublishRequest(benchPublishBody, &req); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding_json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var req PublishRequest
			if err := json.Unmarshal(benchPublishBody, &req); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkPublishResultEncode(b *testing.B) {
	r := &PublishResult{Offset: 123456, Epoch: "AbCdEfGh"}
	b.Run("append", func(b *testing.B) {
		b.ReportAllocs()
		buf := make([]byte, 0, 64)
		for b.Loop() {
			buf = r.AppendJSON(buf[:0])
		}
	})
	b.Run("encoding_json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := json.Marshal(r); err != nil {
				b.Fatal(err)
			}
		}
	})
}
