package jsonscan_test

import (
	"reflect"
	"testing"

	"github.com/heraldrt/herald/internal/jsonscan"
)

func TestMembers(t *testing.T) {
	doc := []byte(` { "a" : "x\"}" , "b":[1,{"c":"]"}] ,"d":{"e":null}, "f":-1.5e3 } `)
	var keys, values []string
	if !jsonscan.Members(doc, func(k, v []byte) bool {
		keys, values = append(keys, string(k)), append(values, string(v))
		return true
	}) {
		t.Fatal("Members stopped")
	}
	if want := []string{"a", "b", "d", "f"}; !reflect.DeepEqual(keys, want) {
		t.Errorf("keys %q, want %q", keys, want)
	}
	if want := []string{`"x\"}"`, `[1,{"c":"]"}]`, `{"e":null}`, `-1.5e3`}; !reflect.DeepEqual(values, want) {
		t.Errorf("values %q, want %q", values, want)
	}
	for _, doc := range []string{`[1]`, `"s"`, ``, `{"\u0061":1}`} {
		if jsonscan.Members([]byte(doc), func(k, v []byte) bool { return true }) {
			t.Errorf("Members(%s) = true, want false", doc)
		}
	}
	if jsonscan.Members([]byte(`{"a":1,"b":2}`), func(k, v []byte) bool { return string(k) == "a" }) {
		t.Error("Members went on after each returned false")
	}
	if !jsonscan.Members([]byte(`{}`), func(k, v []byte) bool { return false }) {
		t.Error("Members({}) = false")
	}
}

func TestStrings(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
		ok   bool
	}{
		{`[]`, []string{}, true},
		{`[ "a" , "b" ]`, []string{"a", "b"}, true},
		{`["a",1]`, nil, false},
		{`["a\n"]`, nil, false},
		{"[\"\xff\"]", nil, false},
		{`"a"`, nil, false},
		{`null`, nil, false},
	} {
		got, ok := jsonscan.Strings([]byte(tc.in))
		if ok != tc.ok || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Strings(%s) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestPlainStringAndBool(t *testing.T) {
	if s, ok := jsonscan.PlainString([]byte(`"héllo"`)); !ok || s != "héllo" {
		t.Errorf("PlainString = %q, %v", s, ok)
	}
	for _, v := range []string{`"a\"b"`, `1`, `"`, ``, "\"\xff\""} {
		if _, ok := jsonscan.PlainString([]byte(v)); ok {
			t.Errorf("PlainString(%s) ok", v)
		}
	}
	if v, ok := jsonscan.PlainBool([]byte("true")); !v || !ok {
		t.Error("PlainBool(true)")
	}
	if _, ok := jsonscan.PlainBool([]byte("null")); ok {
		t.Error("PlainBool(null) ok")
	}
}
