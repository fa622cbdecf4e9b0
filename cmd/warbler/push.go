package main

import (
	"context"

	"github.com/warbler-im/warbler/clientapi"
	"github.com/warbler-im/warbler/config"
	"github.com/warbler-im/warbler/policy"
	"github.com/warbler-im/warbler/pushgw"
)

// wirePushGateways starts the delivery of notifications to push gateways
// (config push:) and hands it to the client API, which must not be
// mounted yet. A pushkey a gateway rejects deletes its pusher, as the
// push gateway API requires. nil when push.enabled is off.
func wirePushGateways(cfg config.Config, api *clientapi.API, decider policy.Decider) (*pushgw.Sender, error) {
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
	return s, nil
}
