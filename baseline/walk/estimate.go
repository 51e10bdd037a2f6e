package walk

import (
	"golang.org/x/sys/unix"
)

// Estimate is a guess at a tree's size before walking it, for a progress
// line: the used inodes and bytes of the filesystem it is on (a tree that
// is part of a larger filesystem is overestimated).
type Estimate struct {
	Entries, Bytes int64
}

// EstimateTree guesses the size of the tree at root from its filesystem.
func EstimateTree(root string) Estimate {
	var st unix.Statfs_t
	if err := unix.Statfs(root, &st); err != nil {
		return Estimate{}
	}
	return Estimate{Entries: int64(st.Files - st.Ffree), Bytes: int64(st.Blocks-st.Bfree) * st.Bsize}
}
