package config

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// EnvPrefix starts every environment variable that sets a config key.
const EnvPrefix = "WARBLER_"

// Load builds the configuration: defaults, then the YAML file at path (if
// path is not empty), then WARBLER_* variables from environ, then derived
// defaults and validation. Every problem is reported by its key path.
func Load(path string, environ []string) (Config, error) {
	cfg := Default()
	if path != "" {
		raw, err := os.ReadFile(path)
		if err != nil {
			return cfg, fmt.Errorf("reading config: %w", err)
		}
		if err := decodeYAML(raw, &cfg); err != nil {
			return cfg, err
		}
	}
	if err := applyEnv(&cfg, environ); err != nil {
		return cfg, err
	}
	cfg.fillDerived()
	if err := cfg.Validate(); err != nil {
		return cfg, err
	}
	return cfg, nil
}

// fillDerived sets defaults that depend on other keys.
func (c *Config) fillDerived() {
	if c.Database.URL == "" {
		c.Database.URL = "sqlite:" + joinPath(c.DataDir, "warbler.db")
	}
	if c.SigningKey.File == "" {
		c.SigningKey.File = joinPath(c.DataDir, "signing.key")
	}
	if c.Media.Dir == "" {
		c.Media.Dir = joinPath(c.DataDir, "media")
	}
	if c.Listen.Federation != "" && c.TLS.CertFile == "" && c.TLS.KeyFile == "" {
		c.TLS.CertFile = joinPath(c.DataDir, "tls.crt")
		c.TLS.KeyFile = joinPath(c.DataDir, "tls.key")
	}
}

func joinPath(dir, name string) string {
	return strings.TrimRight(dir, "/") + "/" + name
}

// decodeYAML walks the YAML tree against the struct so that an unknown key
// or a bad value is reported with its full path, e.g. "listen.clent".
func decodeYAML(raw []byte, cfg *Config) error {
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	if len(doc.Content) == 0 {
		return nil // empty file: all defaults
	}
	var errs []error
	decodeNode(doc.Content[0], reflect.ValueOf(cfg).Elem(), "", &errs)
	return errors.Join(errs...)
}

func decodeNode(node *yaml.Node, dst reflect.Value, path string, errs *[]error) {
	if dst.Kind() == reflect.Struct && dst.Type() != durationType {
		decodeStruct(node, dst, path, errs)
		return
	}
	if err := decodeLeaf(node, dst); err != nil {
		*errs = append(*errs, fmt.Errorf("%s: %v", path, err))
	}
}

func decodeStruct(node *yaml.Node, dst reflect.Value, path string, errs *[]error) {
	if node.Kind == yaml.ScalarNode && node.Tag == "!!null" {
		return
	}
	if node.Kind != yaml.MappingNode {
		*errs = append(*errs, fmt.Errorf("%s: must be a mapping", displayPath(path)))
		return
	}
	fields := fieldsByKey(dst.Type())
	for i := 0; i+1 < len(node.Content); i += 2 {
		key := node.Content[i].Value
		sub := joinKey(path, key)
		idx, ok := fields[key]
		if !ok {
			*errs = append(*errs, fmt.Errorf("%s: unknown key", sub))
			continue
		}
		decodeNode(node.Content[i+1], dst.Field(idx), sub, errs)
	}
}

func displayPath(p string) string {
	if p == "" {
		return "(top level)"
	}
	return p
}

var durationType = reflect.TypeOf(Duration(0))

func decodeLeaf(node *yaml.Node, dst reflect.Value) error {
	if dst.Type() == durationType {
		var s string
		if err := node.Decode(&s); err != nil {
			return fmt.Errorf("must be a duration such as 30s or 24h")
		}
		return setFromString(dst, s)
	}
	if node.Kind == yaml.ScalarNode && node.Tag == "!!null" {
		dst.Set(reflect.Zero(dst.Type()))
		return nil
	}
	target := reflect.New(dst.Type())
	if err := node.Decode(target.Interface()); err != nil {
		return fmt.Errorf("must be %s", kindName(dst.Type()))
	}
	dst.Set(target.Elem())
	return nil
}

func kindName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int64:
		return "an integer"
	case reflect.Float64:
		return "a number"
	case reflect.Slice:
		return "a list of strings"
	default:
		return "a string"
	}
}

func fieldsByKey(t reflect.Type) map[string]int {
	out := make(map[string]int, t.NumField())
	for i := 0; i < t.NumField(); i++ {
		if key := yamlKey(t.Field(i)); key != "" {
			out[key] = i
		}
	}
	return out
}

func yamlKey(f reflect.StructField) string {
	tag := f.Tag.Get("yaml")
	name, _, _ := strings.Cut(tag, ",")
	if name == "-" {
		return ""
	}
	return name
}

func joinKey(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// applyEnv sets keys from WARBLER_<PATH> variables, where PATH is the key
// path in upper case with "__" for each dot. Lists are comma-separated.
// Variables under the prefix that name no key are left alone: test
// harnesses share the prefix (e.g. WARBLER_TEST_POSTGRES).
func applyEnv(cfg *Config, environ []string) error {
	values := make(map[string]string)
	for _, kv := range environ {
		k, v, ok := strings.Cut(kv, "=")
		if ok && strings.HasPrefix(k, EnvPrefix) {
			values[k] = v
		}
	}
	var errs []error
	walkLeaves(reflect.ValueOf(cfg).Elem(), "", func(path string, field reflect.Value) {
		name := EnvPrefix + strings.ToUpper(strings.ReplaceAll(path, ".", "__"))
		raw, ok := values[name]
		if !ok {
			return
		}
		if err := setFromString(field, raw); err != nil {
			errs = append(errs, fmt.Errorf("%s (from %s): %v", path, name, err))
		}
	})
	return errors.Join(errs...)
}

// walkLeaves calls fn for every non-struct field with its key path.
func walkLeaves(v reflect.Value, path string, fn func(string, reflect.Value)) {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		key := yamlKey(t.Field(i))
		if key == "" {
			continue
		}
		field := v.Field(i)
		sub := joinKey(path, key)
		if field.Kind() == reflect.Struct && field.Type() != durationType {
			walkLeaves(field, sub, fn)
			continue
		}
		fn(sub, field)
	}
}

// Keys lists every config key path, in declaration order.
func Keys() []string {
	var keys []string
	cfg := Default()
	walkLeaves(reflect.ValueOf(&cfg).Elem(), "", func(path string, _ reflect.Value) {
		keys = append(keys, path)
	})
	return keys
}

func setFromString(dst reflect.Value, raw string) error {
	if dst.Type() == durationType {
		d, err := time.ParseDuration(strings.TrimSpace(raw))
		if err != nil {
			return fmt.Errorf("must be a duration such as 30s or 24h")
		}
		dst.SetInt(int64(d))
		return nil
	}
	switch dst.Kind() {
	case reflect.String:
		dst.SetString(raw)
	case reflect.Bool:
		b, err := strconv.ParseBool(strings.TrimSpace(raw))
		if err != nil {
			return fmt.Errorf("must be true or false")
		}
		dst.SetBool(b)
	case reflect.Int, reflect.Int64:
		n, err := strconv.ParseInt(strings.TrimSpace(raw), 10, 64)
		if err != nil {
			return fmt.Errorf("must be an integer")
		}
		dst.SetInt(n)
	case reflect.Float64:
		f, err := strconv.ParseFloat(strings.TrimSpace(raw), 64)
		if err != nil {
			return fmt.Errorf("must be a number")
		}
		dst.SetFloat(f)
	case reflect.Slice:
		dst.Set(reflect.ValueOf(splitList(raw)))
	default:
		return fmt.Errorf("cannot be set from the environment")
	}
	return nil
}

func splitList(raw string) []string {
	var out []string
	for _, part := range strings.Split(raw, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}
