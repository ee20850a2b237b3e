package testenv

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// runtimeOwned reports whether the descriptor linking to target belongs to
// the Go runtime rather than to the code under test: since Go 1.25 the
// runtime keeps the cgroup CPU-limit files open (cpu.max, or
// cpu.cfs_quota_us and cpu.cfs_period_us) to follow GOMAXPROCS, and opens
// them at a time of its own choosing, which made fd counts around it flaky.
func runtimeOwned(target string) bool {
	return strings.HasPrefix(target, "/sys/fs/cgroup/")
}

// fdDir is the /proc directory of process pid's fds (0 for this one).
func fdDir(pid int) string {
	if pid == 0 {
		return "/proc/self/fd"
	}
	return "/proc/" + strconv.Itoa(pid) + "/fd"
}

// eachFD calls f with the /proc path and link target of every open fd of
// process pid (0 for this one). The directory's own descriptor is gone by
// the time its link is read, and an fd closed meanwhile reads as an error
// too: neither is passed to f.
func eachFD(pid int, f func(path, target string)) error {
	dir := fdDir(pid)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		path := dir + "/" + e.Name()
		if target, err := os.Readlink(path); err == nil {
			f(path, target)
		}
	}
	return nil
}

// CountFDs returns the number of open fds of process pid (0 for this one),
// not counting the descriptor used to read the directory nor those the Go
// runtime owns. It counts whatever the whole process holds at that
// instant, which other goroutines change at times of their own; a test of
// particular objects counts the fds of those with CountOpen instead.
func CountFDs(pid int) (int, error) {
	n := 0
	err := eachFD(pid, func(_, target string) {
		if !runtimeOwned(target) {
			n++
		}
	})
	return n, err
}

// FDOpen reports whether fd is an open descriptor of this process.
func FDOpen(fd int) bool {
	_, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(fd))
	return err == nil
}

// File is what an fd refers to: the file, socket or pipe itself, the same
// for every fd of it (dups, and fds passed to another process over a unix
// socket). A leak test counts the fds of the Files it tests with
// CountOpen, whoever holds them, rather than all of a process's fds.
type File struct {
	Dev, Ino uint64
	// ID tells apart the files that share one anonymous inode: it is
	// the "eventfd-id" line of an eventfd's fdinfo, and empty for a file
	// of its own inode. The kernel gives a freed eventfd's id to the next
	// eventfd, so an eventfd's File names it only while it is open: count
	// its fds while the test still holds one.
	ID string
}

// FileOf returns what fd, an open fd of this process, refers to. Anonymous
// inodes other than eventfds (epoll, timerfd...) have no File.
func FileOf(fd int) (File, error) {
	path := "/proc/self/fd/" + strconv.Itoa(fd)
	target, err := os.Readlink(path)
	if err != nil {
		return File{}, err
	}
	return fileAt(path, target)
}

// fileAt returns the File that the /proc fd link at path, which links to
// target, refers to.
func fileAt(path, target string) (File, error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return File{}, err
	}
	f := File{Dev: st.Dev, Ino: st.Ino}
	if !strings.HasPrefix(target, "anon_inode:") {
		return f, nil
	}
	info, err := os.ReadFile(strings.Replace(path, "/fd/", "/fdinfo/", 1))
	if err != nil {
		return File{}, err
	}
	for l := range strings.Lines(string(info)) {
		if strings.HasPrefix(l, "eventfd-id:") {
			f.ID = strings.Join(strings.Fields(l), " ")
			return f, nil
		}
	}
	return File{}, fmt.Errorf("%s (%s) has no identity of its own", path, target)
}

// CountOpen returns how many open fds of process pid (0 for this one)
// refer to one of files.
func CountOpen(pid int, files ...File) (int, error) {
	want := map[File]bool{}
	for _, f := range files {
		want[f] = true
	}
	n := 0
	err := eachFD(pid, func(path, target string) {
		if f, err := fileAt(path, target); err == nil && want[f] {
			n++
		}
	})
	return n, err
}

// Watched is an fd a test hands to code that must not take it (an import,
// an Open): the file it refers to, and how many of this process's fds
// referred to that file when Watch looked.
type Watched struct {
	FD   int
	File File
	N    int
}

// Watch notes what fd refers to, and how many fds of this process refer to
// that file, before fd is handed on.
func Watch(t testing.TB, fd int) Watched {
	t.Helper()
	f, err := FileOf(fd)
	if err != nil {
		t.Fatal(err)
	}
	n, err := CountOpen(0, f)
	if err != nil {
		t.Fatal(err)
	}
	return Watched{FD: fd, File: f, N: n}
}

// Kept fails the test (what names what the fd was handed to) unless the watched fd is still
// open on the same file and as many fds refer to that file as when Watch
// looked: whatever was handed the fd left it to its owner and kept no dup
// of it. It counts the fds of that one file, which nothing else in the
// process opens or closes meanwhile, not the process's.
func (w Watched) Kept(t testing.TB, what string) {
	t.Helper()
	if now, err := FileOf(w.FD); err != nil || now != w.File {
		t.Errorf("%s closed or replaced the caller's fd %d (%v)", what, w.FD, err)
	}
	if n, err := CountOpen(0, w.File); err != nil || n != w.N {
		t.Errorf("%d fds referred to the caller's file before %s, %d after (%v): a duplicate leaked", w.N, what, n, err)
	}
}
