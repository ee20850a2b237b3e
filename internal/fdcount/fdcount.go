// Package fdcount counts a process's open file descriptors, for the tests
// that prove glbridge leaks none.
package fdcount

import (
	"os"
	"strconv"
)

// Count returns the number of open fds of process pid (0 for this one),
// not counting the descriptor used to read the directory.
func Count(pid int) (int, error) {
	dir := "/proc/self/fd"
	if pid != 0 {
		dir = "/proc/" + strconv.Itoa(pid) + "/fd"
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return 0, err
	}
	// ReadDir's own descriptor is listed while it reads, then closed.
	return len(ents) - 1, nil
}

// IsOpen reports whether fd is an open descriptor of this process.
func IsOpen(fd int) bool {
	_, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(fd))
	return err == nil
}
