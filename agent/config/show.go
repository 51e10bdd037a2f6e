package config

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"strings"

	"github.com/BurntSushi/toml"
)

// Show writes the put-together config as TOML, each value and each rule
// marked with the file it came from ("built in" for a value no file set).
func (l *Loaded) Show(w io.Writer) error {
	var buf bytes.Buffer
	if err := toml.NewEncoder(&buf).Encode(l.Config); err != nil {
		return fmt.Errorf("config show: %w", err)
	}
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "# driftd config, put together from: %s\n", strings.Join(l.Layers, ", "))
	table, rule := "", -1
	sc := bufio.NewScanner(&buf)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		t := strings.TrimSpace(line)
		switch {
		case t == "[[rule]]":
			rule++
			table = "rule"
			fmt.Fprintf(bw, "%s  # from %s\n", line, l.origin(fmt.Sprintf("rule.%d", rule)))
		case strings.HasPrefix(t, "["):
			table = strings.Trim(t, "[]")
			fmt.Fprintln(bw, line)
		case t == "" || table == "rule":
			fmt.Fprintln(bw, line)
		default:
			key, _, _ := strings.Cut(t, " =")
			name := key
			if table != "" {
				name = table + "." + key
			}
			fmt.Fprintf(bw, "%s  # from %s\n", line, l.origin(name))
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	return bw.Flush()
}

func (l *Loaded) origin(key string) string {
	if o, ok := l.Origins[key]; ok {
		return o
	}
	return "built in"
}
