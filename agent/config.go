package agent

import (
	_ "embed"
	"errors"
	"fmt"
	"os"
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
		var pe toml.ParseError
		if errors.As(err, &pe) {
			msg := escapeLines(pe.Message)
			if pe.LastKey != "" {
				return nil, fmt.Errorf("config %s: line %d: key %s: %s", name, pe.Position.Line, escapeLines(pe.LastKey), msg)
			}
			return nil, fmt.Errorf("config %s: line %d: %s", name, pe.Position.Line, msg)
		}
		return nil, fmt.Errorf("config %s: %s", name, escapeLines(err.Error()))
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

// escapeLines keeps an error on one line: the TOML library may quote raw
// input, newlines included, in its messages.
func escapeLines(s string) string {
	return strings.NewReplacer("\n", `\n`, "\r", `\r`).Replace(s)
}

// keyLine finds the line that defines key, for an error message: the TOML
// library keeps positions of unknown keys to itself. It follows [table] and
// [[array]] headers and matches "name =" or "name." within the key's table.
func keyLine(data []byte, key toml.Key) int {
	parent := strings.Join(key[:len(key)-1], ".")
	last := key[len(key)-1]
	table := ""
	for i, line := range strings.Split(string(data), "\n") {
		t := strings.TrimSpace(line)
		if strings.HasPrefix(t, "[") {
			h := strings.Trim(strings.SplitN(t, "#", 2)[0], "[] \t")
			if h == key.String() {
				return i + 1
			}
			table = h
			continue
		}
		if table != parent {
			continue
		}
		for _, name := range []string{last, `"` + last + `"`} {
			if rest, ok := strings.CutPrefix(t, name); ok {
				rest = strings.TrimSpace(rest)
				if strings.HasPrefix(rest, "=") || strings.HasPrefix(rest, ".") {
					return i + 1
				}
			}
		}
	}
	return 0
}
