// Package textdiff keeps the baked content of small text files and shows a
// change to one as a unified diff.
//
// At bake, Keep reads each regular file that a diff rule marks, that is
// valid UTF-8 and no larger than the limit, and stores it compressed in
// the manifest. At check, Annotate puts the diff of each content change to
// such a file on its finding; a file a nodiff rule (diff = false) marks
// never shows content, only that it changed.
package textdiff
