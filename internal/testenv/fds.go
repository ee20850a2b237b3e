package testenv

import (
	"os"
	"strconv"
	"strings"
)

// runtimeOwned reports whether the descriptor linking to target belongs to
// the Go runtime rather than to the code under test: since Go 1.25 the
// runtime keeps the cgroup CPU-limit files open (cpu.max, or
// cpu.cfs_quota_us and cpu.cfs_period_us) to follow GOMAXPROCS, and opens
// them at a time of its own choosing, which made fd counts around it flaky.
func runtimeOwned(target string) bool {
	return strings.HasPrefix(target, "/sys/fs/cgroup/")
}

// CountFDs returns the number of open fds of process pid (0 for this one),
// not counting the descriptor used to read the directory nor those the Go
// runtime owns.
func CountFDs(pid int) (int, error) {
	dir := "/proc/self/fd"
	if pid != 0 {
		dir = "/proc/" + strconv.Itoa(pid) + "/fd"
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, e := range ents {
		// The directory's own descriptor is gone by now and reads as
		// an error: it is not counted either.
		target, err := os.Readlink(dir + "/" + e.Name())
		if err != nil || runtimeOwned(target) {
			continue
		}
		n++
	}
	return n, nil
}

// FDOpen reports whether fd is an open descriptor of this process.
func FDOpen(fd int) bool {
	_, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(fd))
	return err == nil
}
