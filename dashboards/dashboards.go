// Package dashboards holds the Grafana dashboards bundled with
// timpush_exporter and reads the PromQL queries out of them, so that tests can
// check every query against the metric list and against a real Prometheus.
package dashboards

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"regexp"
	"sort"
	"strings"
)

//go:embed *.json
var files embed.FS

// FS returns the dashboard JSON files, one per dashboard, at its root.
func FS() fs.FS { return files }

// Dashboard is the part of a Grafana dashboard model the checks look at.
type Dashboard struct {
	UID        string  `json:"uid"`
	Title      string  `json:"title"`
	Panels     []Panel `json:"panels"`
	Templating struct {
		List []Variable `json:"list"`
	} `json:"templating"`
}

// Panel is a Grafana panel; rows nest their panels when collapsed.
type Panel struct {
	ID         int            `json:"id"`
	Type       string         `json:"type"`
	Title      string         `json:"title"`
	Datasource *DatasourceRef `json:"datasource"`
	Targets    []Target       `json:"targets"`
	Panels     []Panel        `json:"panels"`
	GridPos    GridPos        `json:"gridPos"`
}

// GridPos places a panel on the dashboard's 24-column grid.
type GridPos struct {
	H int `json:"h"`
	W int `json:"w"`
	X int `json:"x"`
	Y int `json:"y"`
}

// overlaps reports whether two grid positions share a cell.
func (a GridPos) overlaps(b GridPos) bool {
	return a.X < b.X+b.W && b.X < a.X+a.W && a.Y < b.Y+b.H && b.Y < a.Y+a.H
}

// Target is one query of a panel.
type Target struct {
	RefID      string         `json:"refId"`
	Expr       string         `json:"expr"`
	Datasource *DatasourceRef `json:"datasource"`
	Exemplar   bool           `json:"exemplar"`
}

// Variable is a dashboard template variable.
type Variable struct {
	Name       string          `json:"name"`
	Type       string          `json:"type"`
	Query      json.RawMessage `json:"query"`
	Definition string          `json:"definition"`
	Datasource *DatasourceRef  `json:"datasource"`
}

// DatasourceRef points a panel, target or variable at a data source.
type DatasourceRef struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

// DatasourceVar is the data source every panel, target and query variable
// must use: the dashboard's own `datasource` variable.
const DatasourceVar = "${datasource}"

// Parse decodes one dashboard's JSON.
func Parse(data []byte) (*Dashboard, error) {
	var d Dashboard
	if err := json.Unmarshal(data, &d); err != nil {
		return nil, err
	}
	return &d, nil
}

// Load reads and parses every bundled dashboard, keyed by file name.
func Load() (map[string]*Dashboard, error) {
	names, err := fs.Glob(files, "*.json")
	if err != nil {
		return nil, err
	}
	out := make(map[string]*Dashboard, len(names))
	for _, name := range names {
		data, err := fs.ReadFile(files, name)
		if err != nil {
			return nil, err
		}
		d, err := Parse(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		out[name] = d
	}
	return out, nil
}

// AllPanels returns the dashboard's panels, those nested in rows included.
func (d *Dashboard) AllPanels() []Panel {
	var out []Panel
	var walk func([]Panel)
	walk = func(ps []Panel) {
		for _, p := range ps {
			out = append(out, p)
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	return out
}

// Query is one PromQL expression found in a dashboard.
type Query struct {
	Dashboard string // file name
	Panel     string // panel title, or "variable NAME"
	RefID     string
	Expr      string // for a variable: the label_values query rewritten as PromQL
}

func (q Query) String() string {
	return fmt.Sprintf("%s: panel %q %s", q.Dashboard, q.Panel, q.RefID)
}

// Queries returns every panel query and query-variable of every dashboard.
func Queries() ([]Query, error) {
	ds, err := Load()
	if err != nil {
		return nil, err
	}
	var out []Query
	for name, d := range ds {
		for _, p := range d.AllPanels() {
			for _, t := range p.Targets {
				out = append(out, Query{Dashboard: name, Panel: p.Title, RefID: t.RefID, Expr: t.Expr})
			}
		}
		for _, v := range d.Templating.List {
			if v.Type != "query" {
				continue
			}
			expr, err := VariableExpr(v.Definition)
			if err != nil {
				return nil, fmt.Errorf("%s: variable %s: %w", name, v.Name, err)
			}
			out = append(out, Query{Dashboard: name, Panel: "variable " + v.Name, RefID: v.Name, Expr: expr})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out, nil
}

var labelValuesRE = regexp.MustCompile(`^\s*label_values\((.+),\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\)\s*$`)

// VariableExpr rewrites a Grafana `label_values(selector, label)` variable
// query as the PromQL query that returns the same label values.
func VariableExpr(def string) (string, error) {
	m := labelValuesRE.FindStringSubmatch(def)
	if m == nil {
		return "", fmt.Errorf("want label_values(selector, label), got %q", def)
	}
	return fmt.Sprintf("count by (%s) (%s)", m[2], m[1]), nil
}

var (
	stringRE   = regexp.MustCompile("\"(?:[^\"\\\\]|\\\\.)*\"|'(?:[^'\\\\]|\\\\.)*'|`[^`]*`")
	matchersRE = regexp.MustCompile(`\{[^}]*\}`)
	rangeRE    = regexp.MustCompile(`\[[^\]]*\]`)
	groupingRE = regexp.MustCompile(`\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`)
	identRE    = regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*`)
)

// keywords are PromQL words that look like metric names but are not.
var keywords = map[string]bool{
	"and": true, "or": true, "unless": true, "bool": true, "offset": true,
	"by": true, "without": true, "on": true, "ignoring": true,
	"group_left": true, "group_right": true, "inf": true, "nan": true, "atan2": true,
}

// MetricNames returns the metric names an expression selects, sorted and
// without duplicates. It is a small lexer, not a parser: enough for the
// expressions in these dashboards and rules (no metric names inside label
// matchers, no `{__name__=…}` selectors).
func MetricNames(expr string) []string {
	s := stringRE.ReplaceAllString(expr, `""`)
	s = matchersRE.ReplaceAllString(s, " ")
	s = rangeRE.ReplaceAllString(s, " ")
	s = groupingRE.ReplaceAllString(s, " ")
	seen := map[string]bool{}
	for _, loc := range identRE.FindAllStringIndex(s, -1) {
		name := s[loc[0]:loc[1]]
		if loc[0] > 0 && isIdentOrNumber(s[loc[0]-1]) {
			continue // the unit of a duration or the exponent of a number
		}
		if keywords[strings.ToLower(name)] || strings.HasPrefix(strings.TrimLeft(s[loc[1]:], " \t\n"), "(") {
			continue // keyword, function or aggregation
		}
		seen[name] = true
	}
	out := make([]string, 0, len(seen))
	for n := range seen {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Selectors returns each vector selector of an expression (metric name and
// label matchers, e.g. `up{job="x"}`) as written, in order of appearance.
func Selectors(expr string) []string {
	names := map[string]bool{}
	for _, n := range MetricNames(expr) {
		names[n] = true
	}
	// Blank out string contents and grouping clauses, keeping offsets, so
	// that only selectors, functions and operators are scanned.
	masked := []byte(expr)
	for _, loc := range stringRE.FindAllIndex(masked, -1) {
		copy(masked[loc[0]+1:loc[1]-1], bytes.Repeat([]byte{' '}, loc[1]-loc[0]-2))
	}
	for _, loc := range groupingRE.FindAllIndex(masked, -1) {
		copy(masked[loc[0]:loc[1]], bytes.Repeat([]byte{' '}, loc[1]-loc[0]))
	}
	var out []string
	depth := 0 // inside {…} or […]
	for i := 0; i < len(masked); i++ {
		c := masked[i]
		switch {
		case c == '{' || c == '[':
			depth++
			continue
		case c == '}' || c == ']':
			depth--
			continue
		case depth > 0 || (i > 0 && isIdentOrNumber(masked[i-1])):
			continue
		}
		loc := identRE.FindIndex(masked[i:])
		if loc == nil || loc[0] != 0 {
			continue
		}
		start, end := i, i+loc[1]
		i = end - 1
		if !names[expr[start:end]] {
			continue
		}
		rest := bytes.TrimLeft(masked[end:], " \t\n")
		if len(rest) > 0 && rest[0] == '(' {
			continue // a function of the same name
		}
		if len(rest) > 0 && rest[0] == '{' {
			if k := bytes.IndexByte(rest, '}'); k >= 0 {
				end = len(masked) - len(rest) + k + 1
			}
		}
		out = append(out, expr[start:end])
	}
	return out
}

func isIdentOrNumber(c byte) bool {
	return c == '_' || c == ':' || c == '.' || c == '$' ||
		('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || ('0' <= c && c <= '9')
}
