package bench

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"golang.org/x/sys/unix"

	"github.com/glbridge/glbridge/bridge"
	"github.com/glbridge/glbridge/bridge/broker"
	"github.com/glbridge/glbridge/internal/testenv"
)

// subAccess picks rights a handle granting have may hand on: read, write
// or both, never more than have.
func subAccess(rng *rand.Rand, have bridge.Access) bridge.Access {
	var can []bridge.Access
	for _, a := range []bridge.Access{bridge.AccessRead, bridge.AccessWrite, bridge.AccessReadWrite} {
		if a&^have == 0 {
			can = append(can, a)
		}
	}
	return can[rng.IntN(len(can))]
}

// share makes an NT handle from one c holds, named if named and the
// resource has a name left.
func (c *loadClient) share(named bool) {
	src := c.held[c.rng.IntN(len(c.held))]
	access := subAccess(c.rng, src.access)
	op, name := opShare, ""
	if named && c.run.reg.reserveName(src.e) {
		c.names++
		op, name = opShareNamed, fmt.Sprintf("glshare-load/%d/%d", c.i, c.names)
	}
	var nt bridge.Handle
	ok := c.call(op, fmt.Sprintf("Share(%v, %v, %q)", src.h, access, name), func() (err error) {
		nt, err = c.c.Share(src.h, access, name)
		return err
	})
	if name != "" {
		c.run.reg.named(src.e, name, ok)
	}
	if !ok {
		return
	}
	if !nt.IsNT() {
		c.wrong(op, fmt.Errorf("Share(%v) returned %v, not an NT handle", src.h, nt))
	}
	c.held = append(c.held, loadHeld{h: nt, e: src.e, access: access, fd: -1, syncFD: -1, name: name, anchor: name != ""})
}

// openKMT opens a listed resource by its KMT handle; false when none is
// listed.
func (c *loadClient) openKMT() bool {
	e := c.run.reg.pin(c.rng, false)
	if e == nil {
		return false
	}
	defer c.run.reg.unpin(e)
	var r broker.Resource
	if c.call(opOpenKMT, "OpenKMT("+e.kmt.String()+")", func() (err error) { r, err = c.c.OpenKMT(e.kmt); return err }) {
		c.opened(opOpenKMT, e, r, bridge.AccessReadWrite)
	}
	return true
}

// openName opens a listed resource by one of its names, asking for any
// rights (a name grants them all, whatever it was shared with); false
// when no listed resource has a name.
func (c *loadClient) openName() bool {
	e := c.run.reg.pin(c.rng, true)
	if e == nil {
		return false
	}
	defer c.run.reg.unpin(e)
	n, ok := c.run.reg.name(c.rng, e)
	if !ok {
		return false
	}
	access := subAccess(c.rng, bridge.AccessReadWrite)
	var r broker.Resource
	if c.call(opOpenName, fmt.Sprintf("OpenName(%q, %v)", n, access), func() (err error) { r, err = c.c.OpenName(n, access); return err }) {
		// The new handle is one more of the named object's.
		c.run.reg.handleOf(e, n, +1)
		c.opened(opOpenName, e, r, access)
		c.held[len(c.held)-1].name = n
	}
	return true
}

// opened checks what an open of e handed over and holds it: the record
// is the creator's, the fds are of e's memory (holding its token) and its
// semaphore, the data is e's. A wrong open is still held, so that its
// reference and fds are closed at the end like the others.
func (c *loadClient) opened(op string, e *loadEntry, r broker.Resource, access bridge.Access) {
	hd := loadHeld{h: r.Handle, e: e, access: r.Access, fd: r.FD, syncFD: -1}
	if len(r.Syncs) > 0 {
		hd.syncFD = r.Syncs[0].FD
	}
	for _, s := range r.Syncs[min(len(r.Syncs), 1):] {
		unix.Close(s.FD)
	}
	c.held = append(c.held, hd)
	if err := c.check(e, r, access); err != nil {
		c.wrong(op, fmt.Errorf("%v: %w", r.Handle, err))
		return
	}
	if err := checkMemory(e, r); err != nil {
		c.wrong(op, fmt.Errorf("%v: %w", r.Handle, err))
	}
}

// check compares a record the broker returned for e with what its
// creator registered.
func (c *loadClient) check(e *loadEntry, r broker.Resource, access bridge.Access) error {
	switch {
	case r.KMT != e.kmt:
		return fmt.Errorf("record of KMT %v, want %v", r.KMT, e.kmt)
	case r.Access != access:
		return fmt.Errorf("access %v, want %v", r.Access, access)
	case r.Allocation != e.alloc:
		return fmt.Errorf("allocation %+v, want %+v", r.Allocation, e.alloc)
	case len(r.Syncs) != btoi(e.hasSync):
		return fmt.Errorf("%d sync objects, want %d", len(r.Syncs), btoi(e.hasSync))
	case !bytes.HasPrefix(r.Data, []byte(dataPrefix(e)+" v")):
		return fmt.Errorf("private data %.40q..., not r%d's", r.Data, e.id)
	}
	if want, mine := c.data[e]; mine && !bytes.Equal(r.Data, want) {
		return fmt.Errorf("private data of %d bytes (%.30q...), not the %d this client set last (%.30q...)", len(r.Data), r.Data, len(want), want)
	}
	return nil
}

// checkMemory checks that an open's fds are e's: the same memory file
// (and its bytes hold e's token) and the same semaphore file.
func checkMemory(e *loadEntry, r broker.Resource) error {
	f, err := testenv.FileOf(r.FD)
	if err != nil {
		return err
	}
	if f != e.file {
		return fmt.Errorf("memory fd %d is %+v, not r%d's memory %+v", r.FD, f, e.id, e.file)
	}
	if n := e.tokenLen; n > 0 {
		got := make([]byte, n)
		if m, err := unix.Pread(r.FD, got, 0); err != nil || m != n || !bytes.Equal(got, e.token[:n]) {
			return fmt.Errorf("memory of r%d holds % x (%d bytes, %v), want its token % x", e.id, got[:max(m, 0)], m, err, e.token[:n])
		}
	}
	if e.hasSync {
		s, err := testenv.FileOf(r.Syncs[0].FD)
		if err != nil {
			return err
		}
		if s != e.syncFile {
			return fmt.Errorf("sync fd %d is %+v, not r%d's %+v", r.Syncs[0].FD, s, e.id, e.syncFile)
		}
	}
	return nil
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// query asks for a record: through a handle c holds (NT handles are
// this connection's), or by the KMT handle of a listed resource, which
// needs no reference. False when there is nothing to ask about.
func (c *loadClient) query() bool {
	var e *loadEntry
	h, access := bridge.Handle(0), bridge.AccessReadWrite
	if len(c.held) > 0 && c.rng.IntN(2) == 0 {
		hd := c.held[c.rng.IntN(len(c.held))]
		e, h, access = hd.e, hd.h, hd.access
	} else if e = c.run.reg.pin(c.rng, false); e != nil {
		defer c.run.reg.unpin(e)
		h = e.kmt
	} else {
		return false
	}
	var r broker.Resource
	if !c.call(opQuery, "Query("+h.String()+")", func() (err error) { r, err = c.c.Query(h); return err }) {
		return true
	}
	if err := c.check(e, r, access); err != nil {
		c.wrong(opQuery, fmt.Errorf("%v: %w", h, err))
	} else if r.Handle != h || r.FD != -1 || (e.hasSync && r.Syncs[0].FD != -1) {
		c.wrong(opQuery, fmt.Errorf("Query(%v) returned handle %v, fd %d, syncs %+v", h, r.Handle, r.FD, r.Syncs))
	}
	return true
}

// acquire takes a resource's keyed mutex through a handle c holds, with
// the key it was last released with (now and then the other one, which
// may come or time out), checks what the broker says the last release
// passed, and releases it to key 0 or 1. Every holder releases at once,
// so a wait ends within its timeout whatever the others do: TIMEOUT is
// expected, a deadlock impossible.
func (c *loadClient) acquire() {
	hd := c.held[c.rng.IntN(len(c.held))]
	e := hd.e
	key := e.key.Load()
	if c.rng.IntN(8) == 0 {
		key ^= 1
	}
	timeout := []time.Duration{0, time.Millisecond, loadAcquireTimeout}[c.rng.IntN(3)]
	var ar broker.AcquireResult
	if !c.call(opAcquire, fmt.Sprintf("AcquireSync(%v, key %d, %v)", hd.h, key, timeout), func() (err error) {
		ar, err = c.c.AcquireSync(hd.h, key, timeout)
		return err
	}, bridge.ErrTimeout) {
		return
	}
	// The holder stored these before it released, and nobody releases
	// while this client holds the mutex.
	if ar.Abandoned || ar.Value != e.value.Load() || e.key.Load() != key {
		c.wrong(opAcquire, fmt.Errorf("AcquireSync(%v, key %d) of r%d = %+v; the last release was with key %d, value %d", hd.h, key, e.id, ar, e.key.Load(), e.value.Load()))
	}
	next, v := uint64(c.rng.IntN(2)), c.run.nextVal.Add(1)
	e.key.Store(next)
	e.value.Store(v)
	c.call(opRelease, fmt.Sprintf("ReleaseSync(%v, key %d, value %d)", hd.h, next, v), func() error { return c.c.ReleaseSync(hd.h, next, v) })
}

// updateData replaces the private data of one of c's own resources.
func (c *loadClient) updateData() {
	var mine []loadHeld
	for _, hd := range c.held {
		if hd.created {
			mine = append(mine, hd)
		}
	}
	hd := mine[c.rng.IntN(len(mine))]
	data := c.dataFor(hd.e, c.rng.IntN(1<<20))
	if c.call(opUpdateData, fmt.Sprintf("UpdateData(%v, %d bytes)", hd.h, len(data)), func() error { return c.c.UpdateData(hd.h, data) }) {
		c.data[hd.e] = data
	}
}

// closeOne closes a reference c holds; its own creation only once nobody
// is opening it (see loadRegistry). False when c has nothing it may close.
func (c *loadClient) closeOne() bool {
	if len(c.held) == 0 {
		return false
	}
	// What may close now: not a creation or a name's anchor that
	// another client may be opening.
	free := func(hd loadHeld) bool {
		switch {
		case hd.created:
			return c.run.reg.retire(hd.e)
		case hd.anchor:
			return c.run.reg.unname(hd.e, hd.name)
		}
		return true
	}
	i := c.rng.IntN(len(c.held))
	if !free(c.held[i]) {
		i = slices.IndexFunc(c.held, func(hd loadHeld) bool { return !hd.created && !hd.anchor })
		if i < 0 {
			return false
		}
	}
	c.release(i, opClose)
	return true
}

// release closes held reference i (retired already if it is a creation)
// and its fds.
func (c *loadClient) release(i int, op string) {
	hd := c.held[i]
	c.held[i] = c.held[len(c.held)-1]
	c.held = c.held[:len(c.held)-1]
	for _, fd := range []int{hd.fd, hd.syncFD} {
		if fd >= 0 {
			unix.Close(fd)
		}
	}
	if hd.created {
		c.created--
		delete(c.data, hd.e)
		c.run.live.Add(-1)
	}
	c.call(op, "CloseHandle("+hd.h.String()+")", func() error { return c.c.CloseHandle(hd.h) })
	if hd.name != "" {
		// Only once the broker has closed it may the name be gone there.
		c.run.reg.handleOf(hd.e, hd.name, -1)
	}
}

// closeAll closes everything c holds, once every client has made its
// operations: nothing is pinned any more.
func (c *loadClient) closeAll() {
	for len(c.held) > 0 {
		hd := c.held[len(c.held)-1]
		if hd.created && !c.run.reg.retire(hd.e) || hd.anchor && !c.run.reg.unname(hd.e, hd.name) {
			c.wrong(opCloseEnd, fmt.Errorf("r%d is still pinned after every client finished", hd.e.id))
		}
		c.release(len(c.held)-1, opCloseEnd)
	}
}

// summarizeLoad merges the clients' counts and times, a row per kind of
// operation made.
func summarizeLoad(clients []*loadClient) []LoadOpResult {
	var out []LoadOpResult
	for _, op := range loadOps {
		r := LoadOpResult{Op: op}
		var times []time.Duration
		for _, c := range clients {
			r.Count += c.count[op]
			r.Expected += c.exp[op]
			r.Errors += c.bad[op]
			times = append(times, c.times[op]...)
		}
		if r.Count == 0 {
			continue
		}
		r.P50Us, r.P99Us = p50p99(times)
		out = append(out, r)
	}
	return out
}
