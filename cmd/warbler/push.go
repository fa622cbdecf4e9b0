package main

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/warbler-im/warbler/clientapi"
	"github.com/warbler-im/warbler/config"
	"github.com/warbler-im/warbler/policy"
	"github.com/warbler-im/warbler/pushgw"
)

// wirePushGateways starts the delivery of notifications to push gateways
// (config push:) and hands it to the client API, which must not be
// mounted yet. A pushkey a gateway rejects deletes its pusher, as the
// push gateway API requires. nil when push.enabled is off.
func wirePushGateways(cfg config.Config, api *clientapi.API, decider policy.Decider, reg prometheus.Registerer) (*pushgw.Sender, error) {
	api.AllowHTTPGateways = cfg.Push.AllowHTTPGateways
	if !cfg.Push.Enabled {
		return nil, nil
	}
	p := cfg.Push
	s, err := pushgw.New(pushgw.Config{
		AllowedNetworks: p.AllowedNetworks, Timeout: p.Timeout.Std(), QueueSize: p.QueueSize,
		RetryBase: p.RetryBackoffBase.Std(), RetryMax: p.RetryBackoffMax.Std(), GiveUpAfter: p.GiveUpAfter.Std(),
		Policy: decider,
		OnRejected: func(ctx context.Context, t pushgw.Target) {
			api.PusherRejected(ctx, t.UserID, t.AppID, t.PushKey)
		},
	})
	if err != nil {
		return nil, err
	}
	api.Pushes = s
	registerPushMetrics(reg, s, api)
	return s, nil
}

// registerPushMetrics exposes the delivery counters.
func registerPushMetrics(reg prometheus.Registerer, s *pushgw.Sender, api *clientapi.API) {
	counter := func(name, help string, read func() int64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, func() float64 { return float64(read()) })
	}
	reg.MustRegister(
		counter("warbler_push_sent_total", "Notifications a push gateway accepted.", func() int64 { return s.Stats().Sent }),
		counter("warbler_push_failed_total", "Requests to push gateways that failed (each retry counts).", func() int64 { return s.Stats().Failed }),
		counter("warbler_push_dropped_total", "Notifications dropped: a pusher's queue was full, or retries gave up.", func() int64 { return s.Stats().Dropped }),
		counter("warbler_push_denied_total", "Notifications the policy kept from leaving.", func() int64 { return s.Stats().Denied }),
		counter("warbler_push_rejected_total", "Pushkeys push gateways rejected (their pushers were deleted).", func() int64 { return s.Stats().Rejected }),
		counter("warbler_push_jobs_dropped_total", "Events whose notifications were dropped because the delivery queue was full.", api.PushJobsDropped),
	)
}
