package api

import (
	"strconv"
	"strings"
)

// Method identifies a server API method. Values equal the MethodType enum of
// Centrifugo's api.proto (PUBLISH 0 … REFRESH 12), used by the legacy HTTP
// route; MethodBatch has no enum value there and is only reachable by name.
type Method int

// Server API methods.
const (
	MethodPublish       Method = 0
	MethodBroadcast     Method = 1
	MethodUnsubscribe   Method = 2
	MethodDisconnect    Method = 3
	MethodPresence      Method = 4
	MethodPresenceStats Method = 5
	MethodHistory       Method = 6
	MethodHistoryRemove Method = 7
	MethodChannels      Method = 8
	MethodInfo          Method = 9
	MethodRPC           Method = 10
	MethodSubscribe     Method = 11
	MethodRefresh       Method = 12
	MethodBatch         Method = 1000
)

// methodNames is indexed by Method for the api.proto enum values; it is
// never modified.
var methodNames = [...]string{
	MethodPublish:       "publish",
	MethodBroadcast:     "broadcast",
	MethodUnsubscribe:   "unsubscribe",
	MethodDisconnect:    "disconnect",
	MethodPresence:      "presence",
	MethodPresenceStats: "presence_stats",
	MethodHistory:       "history",
	MethodHistoryRemove: "history_remove",
	MethodChannels:      "channels",
	MethodInfo:          "info",
	MethodRPC:           "rpc",
	MethodSubscribe:     "subscribe",
	MethodRefresh:       "refresh",
}

const batchName = "batch"

// methodByName holds the lowercase and uppercase names and the decimal enum
// value of every method. It is never modified after package initialisation.
var methodByName = func() map[string]Method {
	m := make(map[string]Method, 3*len(methodNames)+2)
	add := func(method Method, name string) {
		m[name] = method
		m[strings.ToUpper(name)] = method
	}
	for i, name := range methodNames {
		add(Method(i), name)
		m[strconv.Itoa(i)] = Method(i)
	}
	add(MethodBatch, batchName)
	return m
}()

// ParseMethod returns the method named s: a lowercase name ("presence_stats"),
// an uppercase name ("PRESENCE_STATS") or the decimal api.proto enum value
// ("5"). It reports false for anything else.
func ParseMethod(s string) (Method, bool) {
	m, ok := methodByName[s]
	return m, ok
}

// String returns the lowercase name of m, as used in per-method HTTP routes,
// or "Method(N)" for an unknown value.
func (m Method) String() string {
	if m >= 0 && int(m) < len(methodNames) {
		return methodNames[m]
	}
	if m == MethodBatch {
		return batchName
	}
	return "Method(" + strconv.Itoa(int(m)) + ")"
}
