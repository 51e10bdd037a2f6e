// Package imagebaseline reads the driftd baseline baked in a container
// image (`driftd bake` in its Dockerfile): the image's config, read from
// its layers, and the manifest it names, verified, for the container
// monitor and `driftd check --container`.
package imagebaseline
