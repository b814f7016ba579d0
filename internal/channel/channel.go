// Package channel resolves channel names to their namespace options and
// answers the name-based questions of the permission model: is the channel
// private, is it user-limited and is a user listed in it.
//
// It is pure logic on top of config.Channel: build Rules once with NewRules
// (after config.Validate) and share it. Rules is immutable, so it is safe for
// concurrent use; on a config reload build a new Rules and swap it in.
// Resolve, UserAllowed and IsUserLimited do not allocate.
package channel

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/heraldrt/herald/internal/config"
)

var (
	// ErrUnknownChannel means the channel's namespace is not configured
	// (client error 102 "unknown channel").
	ErrUnknownChannel = errors.New("unknown channel")
	// ErrBadChannel means the channel name is invalid: too long, not matching
	// the namespace channel_regex, or not printable ASCII (client error 107
	// "bad request").
	ErrBadChannel = errors.New("bad channel name")
	// ErrUnknownMethod means an RPC method names an unknown RPC namespace
	// (client error 104 "method not found").
	ErrUnknownMethod = errors.New("unknown rpc method")
)

// Resolved is the result of Rules.Resolve.
type Resolved struct {
	// Namespace is the namespace name; empty for channels without namespace.
	Namespace string
	// Options are the namespace options with HistoryMetaTTL defaulted from
	// channel.history_meta_ttl. Options shares its slices with the Rules:
	// callers must not modify them.
	Options config.ChannelOptions
	// Private reports whether the channel starts with the private prefix and
	// so requires a subscription token.
	Private bool
}

type namespace struct {
	name  string
	opts  config.ChannelOptions
	regex *regexp.Regexp // nil when channel_regex is empty
}

// Rules holds the compiled channel configuration.
type Rules struct {
	privatePrefix     string
	namespaceBoundary string
	userBoundary      string
	userSeparator     string
	maxLength         int
	without           namespace
	namespaces        map[string]*namespace
}

// NewRules compiles c: it defaults each namespace's history_meta_ttl,
// compiles channel_regex and indexes namespaces by name. It returns an error
// for a regex that does not compile, a duplicate namespace name or an empty
// namespace boundary; config.Validate reports the same problems and more.
func NewRules(c config.Channel) (*Rules, error) {
	if c.NamespaceBoundary == "" {
		return nil, errors.New("channel.namespace_boundary must not be empty")
	}
	r := &Rules{
		privatePrefix:     c.PrivatePrefix,
		namespaceBoundary: c.NamespaceBoundary,
		userBoundary:      c.UserBoundary,
		userSeparator:     c.UserSeparator,
		maxLength:         c.MaxLength,
		namespaces:        make(map[string]*namespace, len(c.Namespaces)),
	}
	var err error
	if r.without, err = compileNamespace("", c.WithoutNamespace, c.HistoryMetaTTL); err != nil {
		return nil, fmt.Errorf("channel.without_namespace: %w", err)
	}
	for _, ns := range c.Namespaces {
		if _, dup := r.namespaces[ns.Name]; dup {
			return nil, fmt.Errorf("channel.namespaces: duplicate namespace %q", ns.Name)
		}
		compiled, err := compileNamespace(ns.Name, ns.ChannelOptions, c.HistoryMetaTTL)
		if err != nil {
			return nil, fmt.Errorf("channel.namespaces[%s]: %w", ns.Name, err)
		}
		r.namespaces[ns.Name] = &compiled
	}
	return r, nil
}

func compileNamespace(name string, o config.ChannelOptions, metaTTL config.Duration) (namespace, error) {
	if o.HistoryMetaTTL == 0 {
		o.HistoryMetaTTL = metaTTL
	}
	ns := namespace{name: name, opts: o}
	if o.ChannelRegex != "" {
		re, err := regexp.Compile(o.ChannelRegex)
		if err != nil {
			return namespace{}, fmt.Errorf("channel_regex: %w", err)
		}
		ns.regex = re
	}
	return ns, nil
}

// Resolve finds the namespace of ch and validates the name. The private
// prefix is stripped first; the namespace is the part before the first
// namespace boundary and must be configured (an empty part is no namespace
// and so is unknown), else ErrUnknownChannel; a channel without the boundary
// uses channel.without_namespace. The name is then checked, returning
// ErrBadChannel: with a channel_regex the part after "ns:" must match it,
// otherwise the whole channel must be printable ASCII; the whole channel
// must be non-empty and no longer than channel.max_length bytes (when set).
func (r *Rules) Resolve(ch string) (Resolved, error) {
	ns, rest, private, err := r.lookup(ch)
	if err != nil {
		return Resolved{}, err
	}
	if ns.regex != nil {
		if !ns.regex.MatchString(rest) {
			return Resolved{}, ErrBadChannel
		}
	} else if !printableASCII(ch) {
		return Resolved{}, ErrBadChannel
	}
	if ch == "" || (r.maxLength > 0 && len(ch) > r.maxLength) {
		return Resolved{}, ErrBadChannel
	}
	return Resolved{Namespace: ns.name, Options: ns.opts, Private: private}, nil
}

// lookup returns the namespace of ch, the part after the namespace boundary
// (the whole name without private prefix when there is no namespace) and
// whether ch is private.
func (r *Rules) lookup(ch string) (ns *namespace, rest string, private bool, err error) {
	name := ch
	if r.privatePrefix != "" && strings.HasPrefix(name, r.privatePrefix) {
		name = name[len(r.privatePrefix):]
		private = true
	}
	nsName, after, found := strings.Cut(name, r.namespaceBoundary)
	if !found {
		return &r.without, name, private, nil
	}
	ns, ok := r.namespaces[nsName]
	if !ok {
		return nil, "", private, ErrUnknownChannel
	}
	return ns, after, private, nil
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// IsUserLimited reports whether ch is a user-limited channel: it contains
// the user boundary and its namespace has allow_user_limited_channels.
// Unknown namespaces are not user-limited.
func (r *Rules) IsUserLimited(ch string) bool {
	if r.userBoundary == "" || !strings.Contains(ch, r.userBoundary) {
		return false
	}
	ns, _, _, err := r.lookup(ch)
	return err == nil && ns.opts.AllowUserLimitedChannels
}

// UserAllowed reports whether user may subscribe to the user-limited channel
// ch: ch must be user-limited (see IsUserLimited) and user, which must not be
// empty, must be one of the ids after the last user boundary, separated by
// the user separator ("dialog#42,43" allows "42" and "43").
func (r *Rules) UserAllowed(ch, user string) bool {
	if user == "" || !r.IsUserLimited(ch) {
		return false
	}
	users := ch[strings.LastIndex(ch, r.userBoundary)+len(r.userBoundary):]
	if r.userSeparator == "" {
		return users == user
	}
	for users != "" {
		var id string
		id, users, _ = strings.Cut(users, r.userSeparator)
		if id == user {
			return true
		}
	}
	return false
}

// PersonalChannel returns the automatic personal channel of user in
// namespace ns: "<ns><namespace boundary><user boundary><user>", or
// "<user boundary><user>" when ns is empty (e.g. "personal:#42", "#42").
func (r *Rules) PersonalChannel(ns, user string) string {
	if ns == "" {
		return r.userBoundary + user
	}
	return ns + r.namespaceBoundary + r.userBoundary + user
}

// RPCRules resolves client RPC methods to RPC namespaces. It is immutable
// and safe for concurrent use.
type RPCRules struct {
	boundary   string
	without    config.RPCNamespace
	namespaces map[string]config.RPCNamespace
}

// NewRPCRules indexes the RPC namespaces of c. It returns an error for a
// duplicate namespace name.
func NewRPCRules(c config.RPC) (*RPCRules, error) {
	r := &RPCRules{
		boundary:   c.NamespaceBoundary,
		without:    c.WithoutNamespace,
		namespaces: make(map[string]config.RPCNamespace, len(c.Namespaces)),
	}
	for _, ns := range c.Namespaces {
		if _, dup := r.namespaces[ns.Name]; dup {
			return nil, fmt.Errorf("rpc.namespaces: duplicate namespace %q", ns.Name)
		}
		r.namespaces[ns.Name] = ns
	}
	return r, nil
}

// Resolve returns the RPC namespace of method: the part before the first
// rpc.namespace_boundary, which must be configured (else ErrUnknownMethod),
// or rpc.without_namespace when method has no boundary.
func (r *RPCRules) Resolve(method string) (config.RPCNamespace, error) {
	if r.boundary == "" {
		return r.without, nil
	}
	nsName, _, found := strings.Cut(method, r.boundary)
	if !found {
		return r.without, nil
	}
	ns, ok := r.namespaces[nsName]
	if !ok {
		return config.RPCNamespace{}, ErrUnknownMethod
	}
	return ns, nil
}
