package config

import "github.com/warbler-im/warbler/mxcore"

// checkServerName applies the spec's server name grammar.
func checkServerName(name string) error {
	_, _, err := mxcore.ParseServerName(name)
	return err
}
