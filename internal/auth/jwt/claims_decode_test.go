package jwt

import (
	"encoding/json"
	"reflect"
	"testing"
)

// claimSeeds are claims of every shape the fast path takes or refuses.
var claimSeeds = []string{
	`{}`,
	` {"sub":"42","exp":1700000000,"iat":1699990000.5,"jti":"j","iss":"i","aud":"a"}`,
	`{"sub":"42","aud":["a","b"],"channels":["x","y"],"info":{"n":1},"meta":{"m":[1,2]},"expire_at":17}`,
	`{"sub":"42","channel":"c","client":"cl","data":"d","b64data":"ZA==","b64info":"aQ==","override":{"presence":{"value":true}}}`,
	`{"sub":"42","subs":{"a":{"info":{"x":1},"override":{"join_leave":{"value":false}}}}}`,
	`{"sub":null,"exp":null,"aud":null,"channels":null,"jti":null,"info":null}`,
	`{"EXP":1,"Sub":"x","sUb":"y"}`,
	`{"\u006a\u0074\u0069":"escaped key","jti":"a\nb","iss":"\u00e9"}`,
	"{\"\u212aid\":\"kelvin\",\"kid\":\"k\",\"ſub\":\"long s\"}",
	`{"exp":"1","nbf":true,"iat":[1],"aud":1,"channels":[1],"sub":{}}`,
	`{"exp":1e400,"nbf":-1,"iat":1E3,"expire_at":0.5}`,
	`{"sub":"a","sub":"b","channels":["a"],"channels":[],"info":1,"info":2}`,
	`{"unknown":{"deep":[{"a":"}"}]},"x":"\"quoted\"","sub":"u"}`,
	`[1,2]`, `"s"`, `null`, ``, `{`, `{"sub":"u"} x`, "{\"sub\":\"\xff\"}",
}

// FuzzDecodeClaims checks that decodeClaims gives json.Unmarshal's result.
func FuzzDecodeClaims(f *testing.F) {
	for _, s := range claimSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) { sameAsEncodingJSON(t, b, decodeClaims) })
}

// FuzzDecodeHeader checks that decodeHeader gives json.Unmarshal's result.
func FuzzDecodeHeader(f *testing.F) {
	for _, s := range append(claimSeeds, `{"alg":"HS256","typ":"JWT"}`, `{"alg":"RS256","kid":"k1","ALG":"none"}`) {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) { sameAsEncodingJSON(t, b, decodeHeader) })
}

// sameAsEncodingJSON fails unless decode gives b the outcome decodeObject
// (encoding/json) gives it: both fail, or both give equal values.
func sameAsEncodingJSON[T any](t *testing.T, b []byte, decode func([]byte, *T) error) {
	t.Helper()
	var got, want T
	gotErr := decode(b, &got)
	wantErr := decodeObject(b, &want)
	if (gotErr == nil) != (wantErr == nil) {
		t.Fatalf("%q: error %v, encoding/json %v", b, gotErr, wantErr)
	}
	if gotErr == nil && !reflect.DeepEqual(got, want) {
		t.Fatalf("%q:\n got %+v\nwant %+v", b, got, want)
	}
}

// TestDecodeClaimsFastPath pins which claims the scanner decodes itself:
// the plain shapes of real tokens, and nothing that encoding/json could
// read differently.
func TestDecodeClaimsFastPath(t *testing.T) {
	for _, tc := range []struct {
		claims string
		fast   bool
	}{
		{`{"sub":"42","exp":1700000000,"iat":1699990000,"aud":["a"],"channels":["news"],"info":{"n":1},"typ":"x"}`, true},
		{`{"sub":"42","subs":{"a":{}}}`, false},             // nested options: general decoder
		{`{"sub":"42","EXP":1}`, false},                     // matches exp case-insensitively
		{"{\"sub\":\"42\",\"ex\u0440\":1}", false},          // not ASCII
		{`{"sub":"42","jti":"a\"b"}`, false},                // escape
		{`{"sub":"42","exp":null}`, false},                  // null date
		{`{"sub":"42","aud":["a",1]}`, false},               // not all strings
		{`{"sub":"42","exp":"1700000000"}`, false},          // date as a string
		{`{"sub":"42","unrelated":{"exp":"nested"}}`, true}, // nested keys are not claims
	} {
		var c rawClaims
		if got := json.Valid([]byte(tc.claims)) && decodeClaimsFast([]byte(tc.claims), &c); got != tc.fast {
			t.Errorf("%s: fast path %v, want %v", tc.claims, got, tc.fast)
		}
	}
}
