package channel_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/heraldrt/herald/internal/channel"
	"github.com/heraldrt/herald/internal/config"
)

func testRules(t testing.TB) *channel.Rules {
	t.Helper()
	c := config.Defaults().Channel
	c.WithoutNamespace = config.ChannelOptions{Presence: true}
	c.Namespaces = []config.Namespace{
		{Name: "chat", ChannelOptions: config.ChannelOptions{HistorySize: 10, HistoryTTL: time.Minute, JoinLeave: true}},
		{Name: "meta", ChannelOptions: config.ChannelOptions{HistoryMetaTTL: time.Hour}},
		{Name: "dialog", ChannelOptions: config.ChannelOptions{AllowUserLimitedChannels: true}},
		{Name: "strict", ChannelOptions: config.ChannelOptions{ChannelRegex: `^[a-z]+$`}},
		{Name: "uni", ChannelOptions: config.ChannelOptions{ChannelRegex: `^\p{L}+$`}},
	}
	r, err := channel.NewRules(c)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestResolve(t *testing.T) {
	r := testRules(t)
	cases := []struct {
		ch      string
		ns      string
		private bool
		err     error
	}{
		{ch: "news", ns: ""},
		{ch: "$news", ns: "", private: true},
		{ch: "chat:room1", ns: "chat"},
		{ch: "$chat:room1", ns: "chat", private: true},
		{ch: "chat:", ns: "chat"},
		{ch: "chat:a:b", ns: "chat"},
		{ch: "dialog:#42,43", ns: "dialog"},
		{ch: "nope:room", err: channel.ErrUnknownChannel},
		{ch: ":room", err: channel.ErrUnknownChannel},
		{ch: "$nope:x", err: channel.ErrUnknownChannel},
		{ch: "", err: channel.ErrBadChannel},
		{ch: "caf\u00e9", err: channel.ErrBadChannel},
		{ch: "tab\there", err: channel.ErrBadChannel},
		{ch: "chat:\x7f", err: channel.ErrBadChannel},
		{ch: strings.Repeat("a", 255), ns: ""},
		{ch: strings.Repeat("a", 256), err: channel.ErrBadChannel},
		{ch: "strict:abc", ns: "strict"},
		{ch: "strict:ABC", err: channel.ErrBadChannel},
		{ch: "strict:", err: channel.ErrBadChannel},
		{ch: "uni:caf\u00e9", ns: "uni"},
		{ch: "uni:caf\u00e9" + strings.Repeat("e", 250), err: channel.ErrBadChannel},
	}
	for _, tc := range cases {
		got, err := r.Resolve(tc.ch)
		if !errors.Is(err, tc.err) {
			t.Errorf("Resolve(%q) error = %v, want %v", tc.ch, err, tc.err)
			continue
		}
		if err != nil {
			continue
		}
		if got.Namespace != tc.ns || got.Private != tc.private {
			t.Errorf("Resolve(%q) = ns %q private %v, want %q %v", tc.ch, got.Namespace, got.Private, tc.ns, tc.private)
		}
	}
}

func TestResolveOptions(t *testing.T) {
	r := testRules(t)
	got, err := r.Resolve("chat:x")
	if err != nil {
		t.Fatal(err)
	}
	if got.Options.HistorySize != 10 || !got.Options.JoinLeave || got.Options.HistoryMetaTTL != 720*time.Hour {
		t.Errorf("chat options = %+v", got.Options)
	}
	got, _ = r.Resolve("meta:x")
	if got.Options.HistoryMetaTTL != time.Hour {
		t.Errorf("namespace meta ttl overridden: %v", got.Options.HistoryMetaTTL)
	}
	got, _ = r.Resolve("plain")
	if !got.Options.Presence || got.Options.HistoryMetaTTL != 720*time.Hour {
		t.Errorf("without_namespace options = %+v", got.Options)
	}
}

func TestCustomSymbols(t *testing.T) {
	c := config.Defaults().Channel
	c.PrivatePrefix = "private-"
	c.NamespaceBoundary = "::"
	c.UserBoundary = "@@"
	c.UserSeparator = "|"
	c.MaxLength = 0 // no limit
	c.Namespaces = []config.Namespace{{Name: "dm", ChannelOptions: config.ChannelOptions{AllowUserLimitedChannels: true}}}
	r, err := channel.NewRules(c)
	if err != nil {
		t.Fatal(err)
	}
	got, err := r.Resolve("private-dm::x@@1|2")
	if err != nil || got.Namespace != "dm" || !got.Private {
		t.Errorf("Resolve = %+v, %v", got, err)
	}
	if _, err := r.Resolve(strings.Repeat("a", 1000)); err != nil {
		t.Errorf("max_length 0 should not limit: %v", err)
	}
	if !r.UserAllowed("dm::x@@1|2", "2") || r.UserAllowed("dm::x@@1|2", "1|2") {
		t.Error("UserAllowed with custom separators")
	}
	if p := r.PersonalChannel("dm", "7"); p != "dm::@@7" {
		t.Errorf("PersonalChannel = %q", p)
	}
}

func TestUserLimited(t *testing.T) {
	r := testRules(t)
	cases := []struct {
		ch, user string
		limited  bool
		allowed  bool
	}{
		{"dialog:#42", "42", true, true},
		{"dialog:#42", "4", true, false},
		{"dialog:#42,43", "43", true, true},
		{"dialog:#42,43", "42", true, true},
		{"dialog:#42,43", "42,43", true, false},
		{"dialog:a#b#42", "42", true, true},
		{"dialog:a#42#b", "42", true, false},
		{"dialog:#42,,", "", true, false},
		{"dialog:#", "", true, false},
		{"$dialog:#42", "42", true, true},
		{"dialog:room", "42", false, false},
		{"chat:#42", "42", false, false},
		{"#42", "42", false, false},
		{"nope:#42", "42", false, false},
	}
	for _, tc := range cases {
		if got := r.IsUserLimited(tc.ch); got != tc.limited {
			t.Errorf("IsUserLimited(%q) = %v", tc.ch, got)
		}
		if got := r.UserAllowed(tc.ch, tc.user); got != tc.allowed {
			t.Errorf("UserAllowed(%q, %q) = %v", tc.ch, tc.user, got)
		}
	}
}

func TestPersonalChannel(t *testing.T) {
	r := testRules(t)
	if got := r.PersonalChannel("", "42"); got != "#42" {
		t.Errorf("PersonalChannel(\"\") = %q", got)
	}
	if got := r.PersonalChannel("dialog", "42"); got != "dialog:#42" {
		t.Errorf("PersonalChannel(dialog) = %q", got)
	}
	if !r.UserAllowed(r.PersonalChannel("dialog", "42"), "42") {
		t.Error("user not allowed in own personal channel")
	}
}

func TestNewRulesErrors(t *testing.T) {
	c := config.Defaults().Channel
	c.Namespaces = []config.Namespace{{Name: "ab", ChannelOptions: config.ChannelOptions{ChannelRegex: "("}}}
	if _, err := channel.NewRules(c); err == nil || !strings.Contains(err.Error(), "channel_regex") {
		t.Errorf("bad regex: %v", err)
	}
	c.Namespaces = []config.Namespace{{Name: "ab"}, {Name: "ab"}}
	if _, err := channel.NewRules(c); err == nil {
		t.Error("duplicate namespace: no error")
	}
	c.Namespaces = nil
	c.NamespaceBoundary = ""
	if _, err := channel.NewRules(c); err == nil {
		t.Error("empty boundary: no error")
	}
}

func TestRPCRules(t *testing.T) {
	c := config.Defaults().RPC
	c.WithoutNamespace = config.RPCNamespace{ProxyEnabled: true}
	c.Namespaces = []config.RPCNamespace{{Name: "backend", ProxyEnabled: true, ProxyName: "b"}}
	r, err := channel.NewRPCRules(c)
	if err != nil {
		t.Fatal(err)
	}
	if ns, err := r.Resolve("getUser"); err != nil || !ns.ProxyEnabled || ns.Name != "" {
		t.Errorf("Resolve(getUser) = %+v, %v", ns, err)
	}
	if ns, err := r.Resolve("backend:getUser"); err != nil || ns.ProxyName != "b" {
		t.Errorf("Resolve(backend:getUser) = %+v, %v", ns, err)
	}
	if _, err := r.Resolve("other:x"); !errors.Is(err, channel.ErrUnknownMethod) {
		t.Errorf("Resolve(other:x) error = %v", err)
	}
	c.Namespaces = append(c.Namespaces, c.Namespaces[0])
	if _, err := channel.NewRPCRules(c); err == nil {
		t.Error("duplicate rpc namespace: no error")
	}
}

func TestResolveDoesNotAllocate(t *testing.T) {
	r := testRules(t)
	for _, ch := range []string{"chat:room1", "$chat:room1", "news", "strict:abc", "dialog:#42,43"} {
		allocs := testing.AllocsPerRun(100, func() {
			if _, err := r.Resolve(ch); err != nil {
				t.Fatal(err)
			}
			r.UserAllowed(ch, "43")
		})
		if allocs != 0 {
			t.Errorf("Resolve(%q) allocates %v times", ch, allocs)
		}
	}
}

// FuzzResolve checks that Resolve never panics and that its answers are
// consistent with the name rules.
func FuzzResolve(f *testing.F) {
	for _, s := range []string{"news", "$chat:room", "dialog:#1,2", "nope:x", ":", "$", "strict:abc", "uni:\u00e9"} {
		f.Add(s, "1")
	}
	r := testRules(f)
	f.Fuzz(func(t *testing.T, ch, user string) {
		got, err := r.Resolve(ch)
		if err == nil {
			if ch == "" || len(ch) > 255 {
				t.Fatalf("Resolve(%q) accepted a bad length", ch)
			}
			if got.Private != strings.HasPrefix(ch, "$") {
				t.Fatalf("Resolve(%q).Private = %v", ch, got.Private)
			}
		} else if !errors.Is(err, channel.ErrBadChannel) && !errors.Is(err, channel.ErrUnknownChannel) {
			t.Fatalf("Resolve(%q) unexpected error %v", ch, err)
		}
		if r.UserAllowed(ch, user) && (!r.IsUserLimited(ch) || user == "") {
			t.Fatalf("UserAllowed(%q, %q) without a user-limited channel", ch, user)
		}
		_ = r.PersonalChannel(got.Namespace, user)
	})
}
