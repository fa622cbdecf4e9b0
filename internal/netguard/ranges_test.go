package netguard

import (
	"net/netip"
	"testing"
)

func TestGuardRefusesEveryInternalRange(t *testing.T) {
	guard, err := New(nil)
	if err != nil {
		t.Fatal(err)
	}
	internal := []string{
		"127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "0.0.0.0", "100.64.0.1",
		"255.255.255.255", "224.0.0.1", "::1", "::", "fe80::1", "fc00::1", "fd12::1", "64:ff9b::7f00:1",
		"2002:7f00:1::", "ff02::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1",
	}
	for _, s := range internal {
		if guard.Permits(netip.MustParseAddr(s)) {
			t.Errorf("%s counts as public", s)
		}
	}
	for _, s := range []string{"93.184.215.14", "1.1.1.1", "2606:4700::1111", "::ffff:8.8.8.8"} {
		if !guard.Permits(netip.MustParseAddr(s)) {
			t.Errorf("%s counts as internal", s)
		}
	}
}
