// Command specgen writes sytest's table of the client-server API's
// endpoints (spec_endpoints_test.go) from the Matrix specification's OpenAPI
// files, so that the table follows the spec rather than anyone's memory of
// it. From the sytest directory:
//
//	go run ./specgen -spec ../../shared/matrix-spec-v1.19/data/api/client-server
//
// (go generate ./sytest/ runs exactly that.) For each operation it records
// the method and full path, whether the spec's security requires a token,
// whether the request body is JSON, and each 4xx response the operation
// declares with the errcodes the spec names for it (in its examples, in its
// description text, or in a shared response it refers to). An operation
// declared in two files (the two /invite and /events) becomes one entry
// with the union of their error responses. The output is sorted, so the
// same spec always gives the same file.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"go/format"
	"log"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

var methods = []string{"get", "put", "post", "delete"}

// backtickedErrcode is how the spec's prose names an errcode: `M_FOO`.
var backtickedErrcode = regexp.MustCompile("`(M_[A-Z_]+)`")

type operation struct {
	method, path string
	needsToken   bool
	jsonBody     bool
	errors       map[int]map[string]bool // status -> errcodes
}

func main() {
	specDir := flag.String("spec", "../../shared/matrix-spec-v1.19/data/api/client-server", "the spec's data/api/client-server folder")
	out := flag.String("out", "spec_endpoints_test.go", "the file to write")
	flag.Parse()
	src, err := generate(*specDir)
	if err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(*out, src, 0o644); err != nil {
		log.Fatal(err)
	}
}

// generate reads the OpenAPI files of specDir and returns the table's
// source, gofmt-ed.
func generate(specDir string) ([]byte, error) {
	files, err := filepath.Glob(filepath.Join(specDir, "*.yaml"))
	if err != nil || len(files) == 0 {
		return nil, fmt.Errorf("no OpenAPI files in %s: %v", specDir, err)
	}
	ops := map[string]*operation{}
	for _, f := range files {
		if err := readFile(f, ops); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
	}
	return format.Source(render(ops))
}

// get reads key from a YAML mapping, which decodes as map[string]any or,
// when some keys are not strings (unquoted status codes), map[any]any.
func get(node any, key string) any {
	switch m := node.(type) {
	case map[string]any:
		return m[key]
	case map[any]any:
		for k, v := range m {
			if fmt.Sprint(k) == key {
				return v
			}
		}
	}
	return nil
}

// keys lists a mapping's keys as strings, sorted.
func keys(node any) []string {
	var ks []string
	switch m := node.(type) {
	case map[string]any:
		for k := range m {
			ks = append(ks, k)
		}
	case map[any]any:
		for k := range m {
			ks = append(ks, fmt.Sprint(k))
		}
	}
	sort.Strings(ks)
	return ks
}

func readFile(name string, ops map[string]*operation) error {
	raw, err := os.ReadFile(name)
	if err != nil {
		return err
	}
	var doc any
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return err
	}
	basePath := ""
	if servers, ok := get(doc, "servers").([]any); ok && len(servers) > 0 {
		basePath, _ = get(get(get(servers[0], "variables"), "basePath"), "default").(string)
	}
	sharedResponses := get(get(doc, "components"), "responses")
	paths := get(doc, "paths")
	for _, p := range keys(paths) {
		item := get(paths, p)
		for _, method := range methods {
			op := get(item, method)
			if op == nil {
				continue
			}
			// Two files declare the same path; one spells it with a
			// trailing space to keep the keys apart.
			full := basePath + strings.TrimSpace(p)
			key := strings.ToUpper(method) + " " + full
			o := ops[key]
			if o == nil {
				o = &operation{method: strings.ToUpper(method), path: full, errors: map[int]map[string]bool{}}
				ops[key] = o
			}
			o.needsToken = o.needsToken || needsToken(get(op, "security"))
			o.jsonBody = o.jsonBody || get(get(get(op, "requestBody"), "content"), "application/json") != nil
			responses := get(op, "responses")
			for _, code := range keys(responses) {
				status, err := strconv.Atoi(code)
				if err != nil || status < 400 || status >= 500 {
					continue
				}
				if o.errors[status] == nil {
					o.errors[status] = map[string]bool{}
				}
				resp := get(responses, code)
				if ref, ok := get(resp, "$ref").(string); ok {
					resp = get(sharedResponses, strings.TrimPrefix(ref, "#/components/responses/"))
				}
				for _, e := range errcodes(filepath.Dir(name), resp) {
					o.errors[status][e] = true
				}
			}
		}
	}
	return nil
}

// needsToken: the operation's security has no empty (anonymous) entry and
// names a token: a user's access token or an application service's.
func needsToken(security any) bool {
	list, _ := security.([]any)
	if len(list) == 0 {
		return false
	}
	for _, s := range list {
		ks := keys(s)
		if len(ks) == 0 {
			return false
		}
		for _, k := range ks {
			if !strings.Contains(k, "AccessToken") && !strings.HasPrefix(k, "accessToken") {
				return false
			}
		}
	}
	return true
}

// errcodes are the errcodes a response names: its examples' errcode, the
// `M_...` its description mentions, and the example errcode of the error
// schema it refers to when that schema is a specific one (rate_limited).
func errcodes(dir string, resp any) []string {
	var found []string
	if desc, ok := get(resp, "description").(string); ok {
		for _, m := range backtickedErrcode.FindAllStringSubmatch(desc, -1) {
			found = append(found, m[1])
		}
	}
	for _, ct := range keys(get(resp, "content")) {
		content := get(get(resp, "content"), ct)
		examples := get(content, "examples")
		for _, name := range keys(examples) {
			if e, ok := get(get(get(examples, name), "value"), "errcode").(string); ok {
				found = append(found, e)
			}
		}
		if ref, ok := get(get(content, "schema"), "$ref").(string); ok && !strings.HasSuffix(ref, "/error.yaml") {
			found = append(found, schemaErrcodes(filepath.Join(dir, ref))...)
		}
	}
	return found
}

func schemaErrcodes(file string) []string {
	raw, err := os.ReadFile(file)
	if err != nil {
		log.Fatalf("error schema: %v", err)
	}
	var schema any
	if err := yaml.Unmarshal(raw, &schema); err != nil {
		log.Fatalf("%s: %v", file, err)
	}
	var found []string
	parts, _ := get(schema, "allOf").([]any)
	for _, p := range append(parts, schema) {
		if e, ok := get(get(get(p, "properties"), "errcode"), "example").(string); ok {
			found = append(found, e)
		}
	}
	return found
}

func render(ops map[string]*operation) []byte {
	sorted := make([]*operation, 0, len(ops))
	for _, o := range ops {
		sorted = append(sorted, o)
	}
	sort.Slice(sorted, func(i, j int) bool {
		if sorted[i].path != sorted[j].path {
			return sorted[i].path < sorted[j].path
		}
		return slices.Index(methods, strings.ToLower(sorted[i].method)) < slices.Index(methods, strings.ToLower(sorted[j].method))
	})
	var b bytes.Buffer
	b.WriteString(`// Code generated by specgen from the Matrix specification v1.19's
// data/api/client-server/*.yaml; DO NOT EDIT. To regenerate, from sytest/:
//
//	go generate .
//
// (or go run ./specgen -spec <spec checkout>/data/api/client-server).

package sytest

// clientEndpoints lists every method and path of the client-server API in
// the Matrix specification v1.19, the versions /_matrix/client/versions
// advertises up to: whether the spec has the endpoint require an access
// token, whether its request body is JSON, and the 4xx responses its
// OpenAPI operation declares with the errcodes the spec names for each.
var clientEndpoints = []specEndpoint{
`)
	for _, o := range sorted {
		fmt.Fprintf(&b, "\t{method: %q, path: %q, needsToken: %v, jsonBody: %v", o.method, o.path, o.needsToken, o.jsonBody)
		if len(o.errors) > 0 {
			b.WriteString(", errors: []specError{")
			var statuses []int
			for s := range o.errors {
				statuses = append(statuses, s)
			}
			sort.Ints(statuses)
			for i, s := range statuses {
				if i > 0 {
					b.WriteString(", ")
				}
				var codes []string
				for c := range o.errors[s] {
					codes = append(codes, strconv.Quote(c))
				}
				sort.Strings(codes)
				if len(codes) == 0 {
					fmt.Fprintf(&b, "{%d, nil}", s)
					continue
				}
				fmt.Fprintf(&b, "{%d, []string{%s}}", s, strings.Join(codes, ", "))
			}
			b.WriteString("}")
		}
		b.WriteString("},\n")
	}
	b.WriteString("}\n")
	return b.Bytes()
}
