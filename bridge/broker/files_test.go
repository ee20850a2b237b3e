package broker

import (
	"net"
	"testing"

	"github.com/glbridge/glbridge/bridge"
	"github.com/glbridge/glbridge/internal/testenv"
)

// The leak tests count the fds of the objects they test, by what the fds
// refer to (testenv.File): a resource's memory and semaphores, the two
// ends of a connection, whoever holds them (the broker, a client, the
// test). They never compare a count of all of the process's fds with one
// taken earlier: the broker closes the dups an open reply carries only
// after sending it, so the opener may be done, and count, while the
// broker's dup is still open; a count of the process then takes in a dup
// that is about to go (and the Go runtime's files, and whatever else runs
// meanwhile), and a baseline taken at such a moment is never reached
// again.

// fileOf returns what fd refers to.
func fileOf(t testing.TB, fd int) testenv.File {
	t.Helper()
	f, err := testenv.FileOf(fd)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// socketFile returns uc's socket.
func socketFile(t testing.TB, uc *net.UnixConn) testenv.File {
	t.Helper()
	raw, err := uc.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var f testenv.File
	if cerr := raw.Control(func(fd uintptr) { f, err = testenv.FileOf(int(fd)) }); cerr != nil {
		t.Fatal(cerr)
	}
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// openCount returns how many of this process's fds refer to one of files.
func openCount(t testing.TB, files ...testenv.File) int {
	t.Helper()
	n, err := testenv.CountOpen(0, files...)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// resourceFiles returns the memory and semaphores brk keeps for the
// resource kmt names.
func resourceFiles(t testing.TB, brk *Broker, kmt bridge.Handle) []testenv.File {
	t.Helper()
	brk.mu.Lock()
	defer brk.mu.Unlock()
	res, err := brk.resolveKMT(kmt)
	if err != nil {
		t.Fatal(err)
	}
	var files []testenv.File
	for _, fd := range res.fds() {
		files = append(files, fileOf(t, fd))
	}
	return files
}

// brokerEnd returns the socket of brk's end of the one connection match
// picks.
func brokerEnd(t testing.TB, brk *Broker, match func(*brokerConn) bool) testenv.File {
	t.Helper()
	brk.mu.Lock()
	defer brk.mu.Unlock()
	var found []*brokerConn
	for c := range brk.conns {
		if match(c) {
			found = append(found, c)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d of the broker's %d connections match, want 1", len(found), len(brk.conns))
	}
	return socketFile(t, found[0].uc)
}

// connOf picks the connection of process pid.
func connOf(pid int32) func(*brokerConn) bool {
	return func(c *brokerConn) bool { return c.pid == pid }
}

// lastConn returns the number of the connection brk admitted last.
func lastConn(brk *Broker) uint32 {
	brk.mu.Lock()
	defer brk.mu.Unlock()
	return brk.nextConn
}

// admitted returns the socket of brk's end of the connection it admitted
// after connection prev: the caller's, which it made alone.
func admitted(t testing.TB, brk *Broker, prev uint32) testenv.File {
	t.Helper()
	if n := lastConn(brk); n != prev+1 {
		t.Fatalf("the broker admitted %d connections, want 1", n-prev)
	}
	return brokerEnd(t, brk, func(c *brokerConn) bool { return c.id == prev+1 })
}

// dialWatched is dial that also returns the connection's sockets: the
// client's and the broker's end of it.
func dialWatched(t testing.TB, brk *Broker, path string) (*Client, []testenv.File) {
	t.Helper()
	prev := lastConn(brk)
	c := dial(t, path)
	return c, []testenv.File{socketFile(t, c.conn.uc), admitted(t, brk, prev)}
}
