package broker

import (
	"errors"
	"os"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/glbridge/glbridge/bridge"
	"github.com/glbridge/glbridge/internal/testenv"
)

// TestHostMemoryChecked: a host-memory record (the copy path) is created
// only with a memfd sealed against shrinking and growing that holds the
// size it declares, since every opener maps it and a mapping of memory
// another holder can shrink dies of SIGBUS. A pipe, /dev/null, an unsealed
// memfd, one sealed against shrinking only and a sealed one smaller than
// declared are refused with CodeBadFDs naming why; nothing is created, the
// broker keeps none of them, and it goes on serving the connection.
func TestHostMemoryChecked(t *testing.T) {
	path := testBroker(t, &Broker{})
	c := dial(t, path)
	const size = 16 * 16 * 4
	host := bridge.Allocation{Desc: bridge.Texture2D(16, 16, bridge.FormatR8G8B8A8Unorm), Size: size, HostMemory: true}
	sealedMemfd := func(n int, seals int) int {
		fd, err := unix.MemfdCreate("glbridge-host-test", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { unix.Close(fd) })
		if err := unix.Ftruncate(fd, int64(n)); err != nil {
			t.Fatal(err)
		}
		if seals != 0 {
			if _, err := unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, seals); err != nil {
				t.Fatal(err)
			}
		}
		return fd
	}
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(p[1])
	null, err := os.Open("/dev/null")
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	for _, tc := range []struct {
		name, want string
		fd         int
	}{
		{"pipe", "not a memfd", p[0]},
		{"/dev/null", "not a memfd", int(null.Fd())},
		{"unsealed memfd", "not sealed", sealedMemfd(size, 0)},
		{"memfd sealed against shrinking only", "not sealed", sealedMemfd(size, unix.F_SEAL_SHRINK)},
		{"sealed memfd of 100 bytes", "holds 100 bytes; the record declares 1024", sealedMemfd(100, unix.F_SEAL_SHRINK|unix.F_SEAL_GROW)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := testenv.Watch(t, tc.fd)
			_, err := c.Create(host, tc.fd, nil)
			if !errors.Is(err, CodeBadFDs) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Create with a %s: %v, want CodeBadFDs saying %q", tc.name, err, tc.want)
			}
			// The broker closes the fd it received after its reply.
			waitFor(t, "the broker to close the refused fd", func() bool { return openCount(t, w.File) == w.N })
			w.Kept(t, "a refused Create")
			if l := mustList(t, c); len(l) != 0 {
				t.Fatalf("a refused Create left %d resources", len(l))
			}
		})
	}
	good := sealedMemfd(size, unix.F_SEAL_SHRINK|unix.F_SEAL_GROW|unix.F_SEAL_SEAL)
	if _, err := c.Create(host, good, nil); err != nil {
		t.Fatalf("Create with a sealed memfd of the declared size: %v", err)
	}
	if l := mustList(t, c); len(l) != 1 || !l[0].Allocation.HostMemory {
		t.Fatalf("broker lists %+v, want the one host-memory resource", l)
	}
}
