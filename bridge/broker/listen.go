package broker

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// DefaultSocketPath is where the broker listens unless told otherwise:
// $XDG_RUNTIME_DIR/glbridge/broker.sock, or /tmp/glbridge-$UID/broker.sock
// when XDG_RUNTIME_DIR is unset.
func DefaultSocketPath() string {
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" {
		return filepath.Join(d, "glbridge", "broker.sock")
	}
	return filepath.Join(os.TempDir(), fmt.Sprintf("glbridge-%d", os.Getuid()), "broker.sock")
}

// Listen creates the broker's SOCK_SEQPACKET socket at path. The directory
// holding it is created with mode 0700 if missing. An existing one is
// never changed (glbridge did not make it): it must be a real directory
// owned by this uid (in a shared /tmp anyone could have made it), and one
// that group or others may write is refused, since whoever can write it
// can replace the broker's socket — except a sticky directory such as
// /tmp itself (a socket given as /tmp/x.sock), where only the owner may
// remove the socket: there the broker relies on its SO_PEERCRED check
// alone. A socket file left by a broker that died is replaced; one a live
// broker answers on is an error.
func Listen(path string) (*net.UnixListener, error) {
	if err := privateDir(filepath.Dir(path)); err != nil {
		return nil, err
	}
	if _, err := os.Lstat(path); err == nil {
		if c, derr := net.Dial("unixpacket", path); derr == nil {
			c.Close()
			return nil, fmt.Errorf("broker: listen %s: a broker is already serving there", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("broker: listen %s: removing stale socket: %w", path, err)
		}
	}
	l, err := net.ListenUnix("unixpacket", &net.UnixAddr{Name: path, Net: "unixpacket"})
	if err != nil {
		return nil, fmt.Errorf("broker: listen %s: %w", path, err)
	}
	return l, nil
}

func privateDir(dir string) error {
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("broker: socket directory %s: %w", dir, err)
	}
	var st unix.Stat_t
	if err := unix.Lstat(dir, &st); err != nil {
		return fmt.Errorf("broker: socket directory %s: lstat: %w", dir, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return fmt.Errorf("broker: socket directory %s is not a directory (mode %#o)", dir, st.Mode)
	}
	if int(st.Uid) != os.Getuid() {
		return fmt.Errorf("broker: socket directory %s is owned by uid %d, not %d", dir, st.Uid, os.Getuid())
	}
	if st.Mode&0o022 != 0 && st.Mode&unix.S_ISVTX == 0 {
		return fmt.Errorf("broker: socket directory %s is writable by group or others (mode %#o), who could replace the broker's socket: make it 0700 (or 0755), or choose another with --socket", dir, st.Mode&0o7777)
	}
	return nil
}

// ActivationListener returns the socket systemd passed by socket
// activation (LISTEN_PID is this process and LISTEN_FDS >= 1: fd 3), or
// nil when there is none. It unsets the variables so that children do not
// take the socket for theirs. The socket must be a SOCK_SEQPACKET unix
// socket (ListenSequentialPacket=).
func ActivationListener() (*net.UnixListener, error) {
	pid, err := strconv.Atoi(os.Getenv("LISTEN_PID"))
	if err != nil || pid != os.Getpid() {
		return nil, nil
	}
	n, err := strconv.Atoi(os.Getenv("LISTEN_FDS"))
	if err != nil || n < 1 {
		return nil, nil
	}
	os.Unsetenv("LISTEN_PID")
	os.Unsetenv("LISTEN_FDS")
	os.Unsetenv("LISTEN_FDNAMES")
	const first = 3 // SD_LISTEN_FDS_START
	for fd := first + 1; fd < first+n; fd++ {
		unix.CloseOnExec(fd)
	}
	unix.CloseOnExec(first)
	typ, err := unix.GetsockoptInt(first, unix.SOL_SOCKET, unix.SO_TYPE)
	if err != nil {
		return nil, fmt.Errorf("broker: activation fd %d: SO_TYPE: %w", first, err)
	}
	if typ != unix.SOCK_SEQPACKET {
		return nil, fmt.Errorf("broker: activation fd %d is socket type %d, want SOCK_SEQPACKET", first, typ)
	}
	f := os.NewFile(first, "systemd-activation")
	l, err := net.FileListener(f)
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("broker: activation fd %d: %w", first, err)
	}
	ul, ok := l.(*net.UnixListener)
	if !ok {
		l.Close()
		return nil, fmt.Errorf("broker: activation fd %d is not a unix socket", first)
	}
	return ul, nil
}
