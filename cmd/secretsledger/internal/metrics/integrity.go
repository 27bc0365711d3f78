package metrics

import "github.com/prometheus/client_golang/prometheus"

// WatchForged adds the gauge of the checkpoint signer's integrity alert, read through
// forgedAt (signer.Signer.ForgedAt) when scraped. Only the process holding the signer
// role checks: alert on the max over processes.
func (m *Metrics) WatchForged(forgedAt func() int64) {
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: namespace, Name: "ledger_forged_event_position",
		Help: "Position of the first event after the newest checkpoint that has no valid MAC (written by someone other than the ledger's writer); the signer signs nothing past it. 0 when none.",
	}, func() float64 { return float64(forgedAt()) }))
}
