// Package baseline records what an image looked like and says what changed
// since: rules and path matching, the walker and hashing, the signed
// manifest, and the pure comparison of a manifest with a live tree.
package baseline
