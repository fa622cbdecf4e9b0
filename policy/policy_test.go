package policy

import (
	"context"
	"errors"
	"testing"
)

type failing struct{}

func (failing) Decide(context.Context, Input) (Decision, error) {
	return Decision{Allow: true}, errors.New("engine down")
}

type denying struct{}

func (denying) Decide(context.Context, Input) (Decision, error) {
	return Decision{Reasons: []string{"EU data stays in the EU"}}, nil
}

func TestAllowed(t *testing.T) {
	cases := []struct {
		name      string
		decider   Decider
		wantAllow bool
	}{
		{"allow all", AllowAll{}, true},
		{"deny", denying{}, false},
		{"error is a denial even if the decision says allow", failing{}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ok, reasons := Allowed(context.Background(), c.decider, Input{Action: ActionSendPDU, Server: "b.example"})
			if ok != c.wantAllow {
				t.Fatalf("Allowed = %v (%v), want %v", ok, reasons, c.wantAllow)
			}
			if !ok && len(reasons) == 0 {
				t.Fatal("a denial must carry a reason")
			}
		})
	}
}
