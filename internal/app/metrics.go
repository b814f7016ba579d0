package app

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/heraldrt/herald/internal/engine"
)

// registerNodeMetrics exposes node gauges under the centrifugo_node_*
// names so existing dashboards keep working.
func registerNodeMetrics(reg prometheus.Registerer, n *engine.Node) {
	gauge := func(name, help string, pick func(engine.NodeInfo) int) {
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: "centrifugo", Subsystem: "node", Name: name, Help: help,
		}, func() float64 {
			infos, err := n.Info(context.Background())
			if err != nil || len(infos) == 0 {
				return 0
			}
			return float64(pick(infos[0]))
		}))
	}
	gauge("num_clients", "Number of clients connected.", func(i engine.NodeInfo) int { return i.NumClients })
	gauge("num_users", "Number of unique users connected.", func(i engine.NodeInfo) int { return i.NumUsers })
	gauge("num_channels", "Number of channels with one or more subscribers.", func(i engine.NodeInfo) int { return i.NumChannels })
	gauge("num_subscriptions", "Number of subscriptions.", func(i engine.NodeInfo) int { return i.NumSubs })
}
