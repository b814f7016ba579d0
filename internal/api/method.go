package api

import "strconv"

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

var methodNames = map[Method]string{
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
	MethodBatch:         "batch",
}

// methodByName holds the lowercase and uppercase names and the decimal enum
// value of every method. It is never modified after package initialisation.
var methodByName = func() map[string]Method {
	m := make(map[string]Method, 3*len(methodNames))
	for method, name := range methodNames {
		m[name] = method
		upper := make([]byte, len(name))
		for i := 0; i < len(name); i++ {
			c := name[i]
			if 'a' <= c && c <= 'z' {
				c -= 'a' - 'A'
			}
			upper[i] = c
		}
		m[string(upper)] = method
		if method != MethodBatch {
			m[strconv.Itoa(int(method))] = method
		}
	}
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
	if name, ok := methodNames[m]; ok {
		return name
	}
	return "Method(" + strconv.Itoa(int(m)) + ")"
}
