// Package overlay reads an overlayfs root as the changes made to it: the
// upper directory (what a container wrote since it started) against the
// lower directories (its image). A whiteout reads as a removal, an opaque
// directory as a directory replaced whole, and a copied-up file as a
// change only where it differs from the image.
package overlay
