// Package config defines Warbler's configuration: the structs, their
// defaults, loading from a YAML file and from WARBLER_* environment
// variables, and validation that names the offending key by its path.
//
// It must not open files other than the config file itself, start services
// or import any Warbler package but mxcore: it only describes what the
// operator asked for. config.sample.yaml at the repository root documents every key.
package config
