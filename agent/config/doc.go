// Package config is driftd's config file: the sections each package owns
// put together, the embedded default, and strict decoding with errors that
// name the file, the line and the key.
package config
