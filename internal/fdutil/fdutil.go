// Package fdutil holds glbridge's one way of duplicating a file descriptor,
// and of closing a list of them, so that every package that keeps or hands
// on an fd does it the same way: close-on-exec, since glbridge's fds must
// never leak into a program the caller starts.
package fdutil

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// Dup returns a close-on-exec duplicate of fd, owned by the caller. A
// negative fd is refused without a system call. The error names fd and
// the errno.
func Dup(fd int) (int, error) {
	if fd < 0 {
		return -1, fmt.Errorf("invalid fd %d", fd)
	}
	d, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("duplicating fd %d: %w", fd, err)
	}
	return d, nil
}

// DupAll dups every fd of fds, all or none: on failure it closes the
// dups made and reports the index of the fd that failed with Dup's error.
// The result is not nil, even for no fds.
func DupAll(fds []int) (dups []int, failed int, err error) {
	dups = make([]int, 0, len(fds))
	for i, fd := range fds {
		d, err := Dup(fd)
		if err != nil {
			CloseAll(dups)
			return nil, i, err
		}
		dups = append(dups, d)
	}
	return dups, -1, nil
}

// CloseAll closes every fd of fds that is not negative, ignoring errors:
// for fds the caller owns and gives up on, on an error path.
func CloseAll(fds []int) {
	for _, fd := range fds {
		if fd >= 0 {
			unix.Close(fd)
		}
	}
}

// SealedMemfd makes host memory every holder can map safely: a
// close-on-exec memfd of exactly size bytes, sealed against shrinking and
// growing (so that no holder can make another's mapping fault with
// SIGBUS) and against further sealing. The caller owns the fd. name is
// what /proc/PID/fd shows, for people.
func SealedMemfd(name string, size uint64) (int, error) {
	fd, err := unix.MemfdCreate(name, unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return -1, fmt.Errorf("memfd_create: %w", err)
	}
	if err := unix.Ftruncate(fd, int64(size)); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("ftruncate(memfd, %d): %w", size, err)
	}
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, unix.F_SEAL_SHRINK|unix.F_SEAL_GROW|unix.F_SEAL_SEAL); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("sealing the memfd: %w", err)
	}
	return fd, nil
}
