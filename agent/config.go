package agent

import (
	_ "embed"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"

	"driftd/baseline"
)

// DefaultConfig is the embedded default configuration, the same file the
// packages install as /etc/driftd/driftd.toml.
//
//go:embed driftd.toml
var DefaultConfig []byte

// DefaultConfigName is how errors name the embedded default.
const DefaultConfigName = "<embedded default config>"

// Config is the whole config file. Each package owns and validates its
// sections; this type only puts them together.
type Config struct {
	baseline.Config
}

// Loaded is a config that decoded and validated, with what it compiles to.
type Loaded struct {
	Config
	Name  string // the file it came from
	Rules *baseline.Rules
}

// LoadConfig reads the config at path, or the embedded default when path is
// empty.
func LoadConfig(path string) (*Loaded, error) {
	if path == "" {
		return ParseConfig(DefaultConfig, DefaultConfigName)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return ParseConfig(data, path)
}

// ParseConfig decodes a config strictly: an unknown key or a value of the
// wrong type is an error that names the file, the line and the key.
func ParseConfig(data []byte, name string) (*Loaded, error) {
	var c Config
	md, err := toml.Decode(string(data), &c)
	if err != nil {
		line, key, msg := decodeError(err)
		switch {
		case key != "":
			line = typeErrorLine(data, strings.Split(key, "."), line)
			return nil, fmt.Errorf("config %s: line %d: key %s: %s", name, line, escapeLines(key), escapeLines(msg))
		case line > 0:
			return nil, fmt.Errorf("config %s: line %d: %s", name, line, escapeLines(msg))
		}
		return nil, fmt.Errorf("config %s: %s", name, escapeLines(msg))
	}
	if undecoded := md.Undecoded(); len(undecoded) > 0 {
		k := undecoded[0]
		if line := keyLine(data, k); line > 0 {
			return nil, fmt.Errorf("config %s: line %d: unknown key %s", name, line, escapeLines(k.String()))
		}
		return nil, fmt.Errorf("config %s: unknown key %s", name, escapeLines(k.String()))
	}
	rules, err := c.Config.Validate()
	if err != nil {
		return nil, fmt.Errorf("config %s: %s", name, escapeLines(err.Error()))
	}
	return &Loaded{Config: c, Name: name, Rules: rules}, nil
}

// typeError is how the TOML library words a value of the wrong type.
var typeError = regexp.MustCompile(`^toml: (?:line (\d+) )?\(last key "(.*?)"\): (.*)$`)

// decodeError takes the line, key and message out of a TOML error: a
// ParseError for syntax, a plain error in typeError's form for types.
func decodeError(err error) (line int, key, msg string) {
	var pe toml.ParseError
	if errors.As(err, &pe) {
		return pe.Position.Line, pe.LastKey, pe.Message
	}
	if m := typeError.FindStringSubmatch(err.Error()); m != nil {
		line, _ = strconv.Atoi(m[1])
		return line, m[2], m[3]
	}
	return 0, "", err.Error()
}

// escapeLines keeps an error on one line: the TOML library may quote raw
// input, newlines included, in its messages.
func escapeLines(s string) string {
	return strings.NewReplacer("\n", `\n`, "\r", `\r`).Replace(s)
}

// keyDef is one line that defines a key, with the table header above it.
type keyDef struct {
	line   int
	header string
	text   string
}

// keyDefs finds the lines that define key, for error messages: the TOML
// library keeps positions of unknown keys to itself, and for a key in an
// array of tables it reports the last definition. It follows [table] and
// [[array]] headers and matches "name =" or "name." within the key's table;
// a header that is the key itself counts too.
func keyDefs(data []byte, key toml.Key) []keyDef {
	parent := strings.Join(key[:len(key)-1], ".")
	last := key[len(key)-1]
	var defs []keyDef
	table, header := "", ""
	for i, line := range strings.Split(string(data), "\n") {
		t := strings.TrimSpace(line)
		if strings.HasPrefix(t, "[") {
			h := strings.Trim(strings.SplitN(t, "#", 2)[0], "[] \t")
			if h == key.String() {
				defs = append(defs, keyDef{line: i + 1})
			}
			table, header = h, t
			continue
		}
		if table != parent {
			continue
		}
		for _, name := range []string{last, `"` + last + `"`} {
			if rest, ok := strings.CutPrefix(t, name); ok {
				rest = strings.TrimSpace(rest)
				if strings.HasPrefix(rest, "=") || strings.HasPrefix(rest, ".") {
					defs = append(defs, keyDef{line: i + 1, header: header, text: t})
				}
			}
		}
	}
	return defs
}

// keyLine is the first line that defines key, or 0.
func keyLine(data []byte, key toml.Key) int {
	if defs := keyDefs(data, key); len(defs) > 0 {
		return defs[0].line
	}
	return 0
}

// typeErrorLine finds which definition of key holds a value of the wrong
// type, by decoding each one alone under its table header. It falls back to
// the library's line.
func typeErrorLine(data []byte, key toml.Key, reported int) int {
	for _, d := range keyDefs(data, key) {
		var c Config
		_, err := toml.Decode(d.header+"\n"+d.text+"\n", &c)
		if err == nil {
			continue
		}
		if _, k, _ := decodeError(err); k == key.String() {
			return d.line
		}
	}
	return reported
}
