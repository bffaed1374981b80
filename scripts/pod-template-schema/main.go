// Command pod-template-schema generates the tables behind Sluice's Argo-exact pod template hash:
//
//   - src/api/pod-template/schema.generated.ts: for every struct type reachable from
//     k8s.io/api/core/v1.PodTemplateSpec, its JSON fields in the order encoding/json writes them (embedded
//     structs flattened, `json:"-"` and unexported fields skipped), whether each is omitempty, and its kind.
//   - test/fixtures/pod-template-hash-vectors.json: pod templates decoded and re-encoded by Go exactly as
//     Argo Rollouts does in utils/hash (json.Marshal of the decoded corev1.PodTemplateSpec, FNV-32a, plus the
//     collision count as 8 little-endian bytes, rand.SafeEncodeString), and Go's JSON for lone quantities,
//     times and strings, so the TypeScript marshaller is checked byte for byte.
//
// It is not part of npm test; run.sh beside this file builds it against the Kubernetes source the cluster
// tests already cache (see README.md here).
package main

import (
	"bytes"
	"encoding"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"hash/fnv"
	"io/ioutil"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"runtime"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/rand"
	"sigs.k8s.io/yaml"
)

var (
	marshalerType     = reflect.TypeOf((*json.Marshaler)(nil)).Elem()
	textMarshalerType = reflect.TypeOf((*encoding.TextMarshaler)(nil)).Elem()

	// Types with their own MarshalJSON (value receivers, so they apply everywhere, map values included).
	specialKinds = map[reflect.Type]string{
		reflect.TypeOf(resource.Quantity{}):  "quantity",
		reflect.TypeOf(intstr.IntOrString{}): "intstr",
		reflect.TypeOf(metav1.Time{}):        "time",
		reflect.TypeOf(metav1.FieldsV1{}):    "fieldsV1",
	}
)

// removedFields are fields of the 1.20 types that later Kubernetes releases deleted, so every Argo
// Rollouts release (built against k8s.io/api 0.29 or newer) drops them when decoding.
var removedFields = map[string]string{
	"ObjectMeta.clusterName": "removed in Kubernetes 1.25",
}

// field is one JSON field of a struct after encoding/json's typeFields (Go 1.19) rules.
type field struct {
	name      string
	tagged    bool
	index     []int
	typ       reflect.Type // the field's declared type (what the encoder uses)
	omitEmpty bool
}

func parseTag(tag string) (string, []string) {
	parts := strings.Split(tag, ",")
	return parts[0], parts[1:]
}

func hasOpt(opts []string, o string) bool {
	for _, x := range opts {
		if x == o {
			return true
		}
	}
	return false
}

// typeFields ports encoding/json's typeFields: breadth-first over embedded structs, then Go's dominance
// rules for names that occur more than once, then declaration (index) order.
func typeFields(t reflect.Type) []field {
	var fields []field
	current := []field{}
	next := []field{{typ: t}}
	var count, nextCount map[reflect.Type]int
	visited := map[reflect.Type]bool{}
	for len(next) > 0 {
		current, next = next, current[:0]
		count, nextCount = nextCount, map[reflect.Type]int{}
		for _, f := range current {
			if visited[f.typ] {
				continue
			}
			visited[f.typ] = true
			for i := 0; i < f.typ.NumField(); i++ {
				sf := f.typ.Field(i)
				if sf.Anonymous {
					et := sf.Type
					if et.Kind() == reflect.Ptr {
						panic(fmt.Sprintf("%s.%s: embedded pointer (nil-path skipping) is not supported", f.typ, sf.Name))
					}
					if sf.PkgPath != "" && et.Kind() != reflect.Struct {
						continue
					}
				} else if sf.PkgPath != "" {
					continue
				}
				tag := sf.Tag.Get("json")
				if tag == "-" {
					continue
				}
				name, opts := parseTag(tag)
				if hasOpt(opts, "string") {
					panic(fmt.Sprintf("%s.%s: the ,string option is not supported", f.typ, sf.Name))
				}
				index := append(append([]int{}, f.index...), i)
				ft := sf.Type
				if ft.Name() == "" && ft.Kind() == reflect.Ptr {
					ft = ft.Elem()
				}
				if name != "" || !sf.Anonymous || ft.Kind() != reflect.Struct {
					tagged := name != ""
					if name == "" {
						name = sf.Name
					}
					fields = append(fields, field{name: name, tagged: tagged, index: index, typ: sf.Type, omitEmpty: hasOpt(opts, "omitempty")})
					if count[f.typ] > 1 {
						fields = append(fields, fields[len(fields)-1])
					}
					continue
				}
				nextCount[ft]++
				if nextCount[ft] == 1 {
					next = append(next, field{name: ft.Name(), index: index, typ: ft})
				}
			}
		}
	}
	sort.SliceStable(fields, func(i, j int) bool {
		x := fields
		if x[i].name != x[j].name {
			return x[i].name < x[j].name
		}
		if len(x[i].index) != len(x[j].index) {
			return len(x[i].index) < len(x[j].index)
		}
		if x[i].tagged != x[j].tagged {
			return x[i].tagged
		}
		return lessIndex(x[i].index, x[j].index)
	})
	out := fields[:0]
	for advance, i := 0, 0; i < len(fields); i += advance {
		fi := fields[i]
		for advance = 1; i+advance < len(fields); advance++ {
			if fields[i+advance].name != fi.name {
				break
			}
		}
		if advance == 1 {
			out = append(out, fi)
			continue
		}
		if dominant, ok := dominantField(fields[i : i+advance]); ok {
			out = append(out, dominant)
		}
	}
	fields = out
	sort.Slice(fields, func(i, j int) bool { return lessIndex(fields[i].index, fields[j].index) })
	return fields
}

func lessIndex(a, b []int) bool {
	for k, xik := range a {
		if k >= len(b) {
			return false
		}
		if xik != b[k] {
			return xik < b[k]
		}
	}
	return len(a) < len(b)
}

func dominantField(fields []field) (field, bool) {
	if len(fields) > 1 && len(fields[0].index) == len(fields[1].index) && fields[0].tagged == fields[1].tagged {
		return field{}, false
	}
	return fields[0], true
}

// schema collects struct types in discovery order.
type schema struct {
	order  []reflect.Type
	names  map[reflect.Type]string
	byName map[string]reflect.Type
	fields map[reflect.Type][]field
}

func (s *schema) kind(t reflect.Type) string {
	// A pointer's method set includes its element's, and json encodes a nil one as null either way.
	if t.Kind() == reflect.Ptr {
		return "*" + s.kind(t.Elem())
	}
	if k, ok := specialKinds[t]; ok {
		if !t.Implements(marshalerType) {
			panic(fmt.Sprintf("%s: expected a value-receiver MarshalJSON", t))
		}
		return k
	}
	if t.Implements(marshalerType) || reflect.PtrTo(t).Implements(marshalerType) ||
		t.Implements(textMarshalerType) || reflect.PtrTo(t).Implements(textMarshalerType) {
		panic(fmt.Sprintf("%s: unknown custom marshaler; teach the generator and hash.ts about it", t))
	}
	switch t.Kind() {
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			panic(fmt.Sprintf("%s: []byte (base64) is not supported", t))
		}
		return "[]" + s.kind(t.Elem())
	case reflect.Map:
		if t.Key().Kind() != reflect.String {
			panic(fmt.Sprintf("%s: only string-keyed maps are supported", t))
		}
		return "map[]" + s.kind(t.Elem())
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "bool"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "int"
	case reflect.Struct:
		return s.addStruct(t)
	}
	panic(fmt.Sprintf("%s: kind %s is not supported (floats and interfaces need their own encoding in hash.ts)", t, t.Kind()))
}

func (s *schema) addStruct(t reflect.Type) string {
	if name, ok := s.names[t]; ok {
		return name
	}
	name := t.Name()
	if other, ok := s.byName[name]; ok && other != t {
		panic(fmt.Sprintf("struct name %s used by %s and %s", name, other.PkgPath(), t.PkgPath()))
	}
	s.names[t] = name
	s.byName[name] = t
	s.order = append(s.order, t)
	var kept []field
	for _, f := range typeFields(t) {
		if _, removed := removedFields[name+"."+f.name]; !removed {
			kept = append(kept, f)
		}
	}
	s.fields[t] = kept
	return name
}

func (s *schema) typeScript(k8sVersion string) string {
	var b strings.Builder
	b.WriteString("// GENERATED by scripts/pod-template-schema (go run there; see its README). Do not edit.\n")
	fmt.Fprintf(&b, "// From k8s.io/api %s (core/v1 PodTemplateSpec) and Go %s encoding/json rules:\n", k8sVersion, runtime.Version())
	b.WriteString("// each struct's JSON fields in the order json.Marshal writes them, with embedded (inline) structs\n")
	b.WriteString("// flattened. A field is [json name, kind, omitempty (1) or not (0)]. Kinds: string, bool, int,\n")
	b.WriteString("// quantity (resource.Quantity), intstr (intstr.IntOrString), time (metav1.Time), fieldsV1 (raw\n")
	b.WriteString("// JSON), *K pointer, []K slice, map[]K string-keyed map, or the name of another struct in the table.\n")
	b.WriteString("// Left out, as every Argo release drops them:")
	var removed []string
	for f, why := range removedFields {
		removed = append(removed, fmt.Sprintf(" %s (%s)", f, why))
	}
	sort.Strings(removed)
	b.WriteString(strings.Join(removed, ",") + ".\n\n")
	fmt.Fprintf(&b, "export const POD_TEMPLATE_SCHEMA_K8S_VERSION = '%s';\n\n", k8sVersion)
	b.WriteString("export type SchemaField = readonly [name: string, kind: string, omitEmpty: 0 | 1];\n\n")
	b.WriteString("export const POD_TEMPLATE_ROOT = 'PodTemplateSpec';\n\n")
	b.WriteString("export const POD_TEMPLATE_STRUCTS: Readonly<Record<string, readonly SchemaField[]>> = {\n")
	// Kinds are resolved first so that every struct is registered before printing.
	kinds := map[reflect.Type][]string{}
	for i := 0; i < len(s.order); i++ {
		t := s.order[i]
		for _, f := range s.fields[t] {
			kinds[t] = append(kinds[t], s.kind(f.typ))
		}
	}
	for _, t := range s.order {
		fmt.Fprintf(&b, "  %s: [\n", s.names[t])
		for i, f := range s.fields[t] {
			omit := 0
			if f.omitEmpty {
				omit = 1
			}
			fmt.Fprintf(&b, "    ['%s', '%s', %d],\n", f.name, kinds[t][i], omit)
		}
		b.WriteString("  ],\n")
	}
	b.WriteString("};\n")
	return b.String()
}

// argoHash is argo-rollouts utils/hash.ComputePodTemplateHash over already marshalled template bytes.
func argoHash(b []byte, collisionCount *int32) string {
	h := fnv.New32a()
	h.Write(b)
	if collisionCount != nil {
		buf := make([]byte, 8)
		binary.LittleEndian.PutUint32(buf, uint32(*collisionCount))
		h.Write(buf)
	}
	return rand.SafeEncodeString(fmt.Sprint(h.Sum32()))
}

// zeroCreationTimestamp matches a zero ObjectMeta.creationTimestamp with the comma that joins it.
var zeroCreationTimestamp = regexp.MustCompile(`(,?)"creationTimestamp":null(,?)`)

// omitZeroCreationTimestamp turns Go 1.19 / k8s 1.20 output into what k8s.io/apimachinery 0.33+ built
// with Go 1.24+ writes: ObjectMeta.CreationTimestamp is tagged omitzero there (kubernetes PR 130989), so a
// zero one is left out instead of written as null. Neither that tag nor omitzero exist in this toolchain,
// hence the textual edit; it is exact because an escaped string can never contain `"creationTimestamp":null`
// (quotes inside strings are escaped) and FieldsV1 keys are prefixed ("f:creationTimestamp").
func omitZeroCreationTimestamp(b []byte) []byte {
	return zeroCreationTimestamp.ReplaceAllFunc(b, func(m []byte) []byte {
		if bytes.HasPrefix(m, []byte(",")) && bytes.HasSuffix(m, []byte(",")) {
			return []byte(",")
		}
		return nil
	})
}

// hashes of one marshalled template: without collisionCount, and with each of collisionCounts.
func hashes(b []byte) (string, map[string]string) {
	byCount := map[string]string{}
	for _, c := range collisionCounts {
		c := c
		byCount[fmt.Sprint(c)] = argoHash(b, &c)
	}
	return argoHash(b, nil), byCount
}

// clearRemovedFields zeroes what removedFields lists, wherever an ObjectMeta occurs in a template.
func clearRemovedFields(tpl *corev1.PodTemplateSpec) {
	tpl.ObjectMeta.ClusterName = ""
	for i := range tpl.Spec.Volumes {
		if e := tpl.Spec.Volumes[i].Ephemeral; e != nil && e.VolumeClaimTemplate != nil {
			e.VolumeClaimTemplate.ObjectMeta.ClusterName = ""
		}
	}
}

type namedTemplate struct {
	Name     string          `json:"name"`
	Template json.RawMessage `json:"template"`
}

type inputs struct {
	Templates  []namedTemplate `json:"templates"`
	Quantities []string        `json:"quantities"`
	Times      []string        `json:"times"`
	Strings    []string        `json:"strings"`
}

// templateVector holds one template's JSON and hashes twice: as Argo Rollouts <= v1.8 (k8s.io/api 0.29,
// creationTimestamp null) and >= v1.9 (k8s.io/api 0.34, zero creationTimestamp omitted).
type templateVector struct {
	Name  string          `json:"name"`
	Input json.RawMessage `json:"input"`
	V18   flavorVector    `json:"argoV1_8"`
	V19   flavorVector    `json:"argoV1_9"`
}

type flavorVector struct {
	GoJSON               string            `json:"goJson"`
	Hash                 string            `json:"hash"`
	HashByCollisionCount map[string]string `json:"hashByCollisionCount"`
}

type valueVector struct {
	Input  string `json:"input"`
	GoJSON string `json:"goJson,omitempty"`
	Error  string `json:"error,omitempty"`
}

var collisionCounts = []int32{0, 1, 3, 2147483647}

// guideTemplates reads spec.template of every Rollout in the YAML files of dir.
func guideTemplates(dir string) []namedTemplate {
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		panic(err)
	}
	sort.Strings(files)
	var out []namedTemplate
	for _, file := range files {
		raw, err := ioutil.ReadFile(file)
		if err != nil {
			panic(err)
		}
		for i, doc := range strings.Split(string(raw), "\n---") {
			var obj struct {
				Kind string `json:"kind"`
				Spec struct {
					Template json.RawMessage `json:"template"`
				} `json:"spec"`
			}
			js, err := yaml.YAMLToJSON([]byte(doc))
			if err != nil {
				panic(fmt.Sprintf("%s: %v", file, err))
			}
			if err := json.Unmarshal(js, &obj); err != nil || obj.Kind != "Rollout" || obj.Spec.Template == nil {
				continue
			}
			out = append(out, namedTemplate{Name: fmt.Sprintf("guide %s #%d", filepath.Base(file), i), Template: obj.Spec.Template})
		}
	}
	return out
}

func main() {
	repo := flag.String("repo", ".", "the Sluice repository root")
	k8sVersion := flag.String("k8s-version", "", "the Kubernetes version of the k8s.io/api source built against")
	flag.Parse()
	if *k8sVersion == "" {
		fmt.Fprintln(os.Stderr, "-k8s-version is required")
		os.Exit(2)
	}

	s := &schema{names: map[reflect.Type]string{}, byName: map[string]reflect.Type{}, fields: map[reflect.Type][]field{}}
	s.addStruct(reflect.TypeOf(corev1.PodTemplateSpec{}))
	ts := s.typeScript(*k8sVersion)
	schemaPath := filepath.Join(*repo, "src/api/pod-template/schema.generated.ts")
	if err := ioutil.WriteFile(schemaPath, []byte(ts), 0o644); err != nil {
		panic(err)
	}

	rawInputs, err := ioutil.ReadFile(filepath.Join(*repo, "scripts/pod-template-schema/inputs.json"))
	if err != nil {
		panic(err)
	}
	var in inputs
	if err := json.Unmarshal(rawInputs, &in); err != nil {
		panic(err)
	}
	templates := append(guideTemplates(filepath.Join(*repo, "test/fixtures/guides")), in.Templates...)

	var tvs []templateVector
	for _, nt := range templates {
		var tpl corev1.PodTemplateSpec
		if err := json.Unmarshal(nt.Template, &tpl); err != nil {
			panic(fmt.Sprintf("%s: %v", nt.Name, err))
		}
		clearRemovedFields(&tpl)
		var compact bytes.Buffer
		if err := json.Compact(&compact, nt.Template); err != nil {
			panic(err)
		}
		b, err := json.Marshal(&tpl)
		if err != nil {
			panic(err)
		}
		hash, byCount := hashes(b)
		b19 := omitZeroCreationTimestamp(b)
		hash19, byCount19 := hashes(b19)
		tvs = append(tvs, templateVector{
			Name:  nt.Name,
			Input: compact.Bytes(),
			V18:   flavorVector{GoJSON: string(b), Hash: hash, HashByCollisionCount: byCount},
			V19:   flavorVector{GoJSON: string(b19), Hash: hash19, HashByCollisionCount: byCount19},
		})
	}

	var quantities []valueVector
	for _, str := range in.Quantities {
		quoted, _ := json.Marshal(str)
		var q resource.Quantity
		if err := q.UnmarshalJSON(quoted); err != nil {
			quantities = append(quantities, valueVector{Input: str, Error: err.Error()})
			continue
		}
		out, err := json.Marshal(q)
		if err != nil {
			panic(err)
		}
		quantities = append(quantities, valueVector{Input: str, GoJSON: string(out)})
	}
	var times []valueVector
	for _, str := range in.Times {
		quoted, _ := json.Marshal(str)
		var t metav1.Time
		if err := t.UnmarshalJSON(quoted); err != nil {
			times = append(times, valueVector{Input: str, Error: err.Error()})
			continue
		}
		out, _ := json.Marshal(t)
		times = append(times, valueVector{Input: str, GoJSON: string(out)})
	}
	var strs []valueVector
	for _, str := range in.Strings {
		out, _ := json.Marshal(str)
		strs = append(strs, valueVector{Input: str, GoJSON: string(out)})
	}

	doc := map[string]interface{}{
		"generatedBy": fmt.Sprintf("scripts/pod-template-schema with k8s.io/api %s and %s; do not edit", *k8sVersion, runtime.Version()),
		"templates":   tvs,
		"quantities":  quantities,
		"times":       times,
		"strings":     strs,
	}
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		panic(err)
	}
	vectorsPath := filepath.Join(*repo, "test/fixtures/pod-template-hash-vectors.json")
	if err := ioutil.WriteFile(vectorsPath, out.Bytes(), 0o644); err != nil {
		panic(err)
	}
	fmt.Printf("wrote %s (%d structs) and %s (%d templates, %d quantities, %d times, %d strings)\n",
		schemaPath, len(s.order), vectorsPath, len(tvs), len(quantities), len(times), len(strs))
}
