package config

import (
	"errors"
	"fmt"
	"reflect"
	"strings"

	"github.com/prometheus/common/config"
	"github.com/prometheus/common/model"
	"go.yaml.in/yaml/v3"
)

var (
	configType     = reflect.TypeFor[Config]()
	appType        = reflect.TypeFor[App]()
	fileSourceType = reflect.TypeFor[FileSource]()
	webhookType    = reflect.TypeFor[Webhook]()
	durationType   = reflect.TypeFor[model.Duration]()
	secretType     = reflect.TypeFor[config.Secret]()
)

// checkNode walks the YAML tree n that is to be decoded into a value of type
// t and reports every mapping key that names no field, every duration that
// does not parse, and every secret that is not a plain string, with its
// line and place (path, "" for the top level). Other shapes that do not
// match t are left to the decoder's type errors.
func checkNode(n *yaml.Node, t reflect.Type, path string) error {
	w := walker{seen: map[*yaml.Node]bool{}}
	w.walk(n, t, path)
	return errors.Join(w.errs...)
}

type walker struct {
	seen map[*yaml.Node]bool // alias targets already walked: aliases cannot blow up the walk
	errs []error
}

func (w *walker) walk(n *yaml.Node, t reflect.Type, path string) {
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			w.walk(c, t, path)
		}
		return
	case yaml.AliasNode:
		if n.Alias == nil || w.seen[n.Alias] {
			return
		}
		w.seen[n.Alias] = true
		w.walk(n.Alias, t, path)
		return
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	null := n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
	switch {
	case t == secretType && null && n.Anchor != "":
		w.secretShape(n, path) // secret_key: &abc… is an anchor on nothing
	case null:
	case t == durationType:
		if n.Kind != yaml.ScalarNode {
			w.shape(n, path, "a duration such as 5m")
		} else if _, err := model.ParseDuration(n.Value); err != nil {
			w.errs = append(w.errs, fmt.Errorf("line %d: %s: %w", n.Line, path, err))
		}
	case t.Kind() == reflect.Float64:
		// sample_ratio also takes the word auto (App.UnmarshalYAML).
		if n.Kind == yaml.ScalarNode && n.Value == "auto" && strings.HasSuffix(path, ".sample_ratio") {
			return
		}
		if n.Kind != yaml.ScalarNode || (n.ShortTag() != "!!float" && n.ShortTag() != "!!int") {
			want := "a number"
			if strings.HasSuffix(path, ".sample_ratio") {
				want = "a number or auto"
			}
			w.shape(n, path, want)
		}
	case t == secretType:
		// The decoder's errors quote tags and values: a secret that YAML
		// reads as something else is reported here, without either.
		if n.Kind != yaml.ScalarNode || (n.Style&yaml.TaggedStyle != 0 && n.ShortTag() != "!!str") {
			w.secretShape(n, path)
		}
	case t.Kind() == reflect.String:
		if n.Kind != yaml.ScalarNode { // what the decoder says names an internal type
			w.shape(n, path, "a string")
		}
	case t.Kind() == reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			w.shape(n, path, "a list")
			return
		}
		for i, c := range n.Content {
			w.walk(c, t.Elem(), fmt.Sprintf("%s[%d]", path, i))
		}
	case t.Kind() == reflect.Struct:
		if n.Kind != yaml.MappingNode {
			w.shape(n, path, "a mapping of keys to values")
			return
		}
		w.mapping(n, t, path)
	}
}

// shape reports a node of the wrong kind by its tag, never its value.
func (w *walker) shape(n *yaml.Node, path, want string) {
	if path == "" {
		path = "top level"
	}
	w.errs = append(w.errs, fmt.Errorf("line %d: %s: want %s, got %s", n.Line, path, want, n.ShortTag()))
}

// secretShape reports a secret that YAML does not read as a plain string,
// showing neither its value nor its tag (either can be the secret's text).
func (w *walker) secretShape(n *yaml.Node, path string) {
	w.errs = append(w.errs, fmt.Errorf("line %d: %s: must be a plain string (its value is a secret and not shown); "+
		"quote a value that starts with one of * & ! | > %% @ ` { [ ' \"", n.Line, path))
}

func (w *walker) mapping(n *yaml.Node, t reflect.Type, path string) {
	fields := yamlFields(t)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.ShortTag() == "!!merge" {
			if v.Kind == yaml.SequenceNode { // <<: [*a, *b]
				for _, c := range v.Content {
					w.walk(c, t, path)
				}
			} else {
				w.walk(v, t, path)
			}
			continue
		}
		ft, ok := fields[k.Value]
		if !ok {
			where := "at top level"
			if path != "" {
				where = "in " + path
			}
			w.errs = append(w.errs, fmt.Errorf("line %d: unknown key %q %s", k.Line, k.Value, where))
			continue
		}
		child := k.Value
		if path != "" {
			child = path + "." + k.Value
		}
		w.walk(v, ft, child)
	}
}

// yamlFields maps the YAML keys of struct type t to their field types.
func yamlFields(t reflect.Type) map[string]reflect.Type {
	fields := make(map[string]reflect.Type, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		switch name {
		case "-":
			continue
		case "":
			name = strings.ToLower(f.Name)
		}
		fields[name] = f.Type
	}
	return fields
}
