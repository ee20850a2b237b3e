package broker

import (
	"bytes"
	"errors"
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/glbridge/glbridge/bridge"
)

// TestHandleMessagesLayout pins the byte offsets docs/protocol.md gives
// for DUPLICATE, OPEN_DUPLICATE and QUERY_OBJECT and their replies, and
// what their decoders refuse.
func TestHandleMessagesLayout(t *testing.T) {
	dup := encodeRequest(request{header: header{Type: msgDuplicate, ID: 3}, Handle: 8, Access: bridge.AccessGenericAll, Options: 3, TargetPID: -2})
	if p := dup[headerSize:]; le.Uint16(dup[6:]) != 14 || len(p) != duplicateReqSize || le.Uint32(p) != 8 || le.Uint32(p[4:]) != 0x10000000 ||
		le.Uint32(p[8:]) != 3 || int32(le.Uint32(p[12:])) != -2 {
		t.Errorf("duplicate request: %x", dup)
	}
	open := encodeRequest(request{header: header{Type: msgOpenDuplicate}, Token: 0x1122334455667788})
	if p := open[headerSize:]; le.Uint16(open[6:]) != 15 || len(p) != openDuplicateSize || le.Uint64(p) != 0x1122334455667788 {
		t.Errorf("open-duplicate request: %x", open)
	}
	qo := encodeRequest(request{header: header{Type: msgQueryObject}, Handle: 12})
	if p := qo[headerSize:]; le.Uint16(qo[6:]) != 16 || len(p) != 8 || le.Uint32(p) != 12 || le.Uint32(p[4:]) != 0 {
		t.Errorf("query-object request: %x", qo)
	}
	for _, c := range []struct {
		name string
		msg  []byte
		edit func([]byte)
		code Code
	}{
		{"duplicate option 4", dup, func(m []byte) { m[headerSize+8] |= 4 }, CodeBadMessage},
		{"duplicate in version 1", dup, func(m []byte) { m[4] = 1; m[headerSize+8] |= 4 }, CodeUnknownType},
		{"open-duplicate in version 1", open, func(m []byte) { m[4] = 1 }, CodeUnknownType},
		{"query-object in version 1", qo, func(m []byte) { m[4] = 1 }, CodeUnknownType},
		{"query-object reserved", qo, func(m []byte) { m[headerSize+4] = 1 }, CodeBadMessage},
		{"duplicate with an fd", dup, func(m []byte) { m[16] = 1 }, CodeBadFDs},
	} {
		m := bytes.Clone(c.msg)
		c.edit(m)
		if _, err := decodeRequest(m, int(le.Uint16(m[16:]))); !errors.Is(err, c.code) {
			t.Errorf("%s: %v, want %v", c.name, err, c.code)
		}
	}

	rep := appendDuplicateReply(nil, duplicateReply{Token: 0xabc, Access: bridge.AccessRead, Mask: bridge.AccessGenericRead})
	if len(rep) != 16 || le.Uint64(rep) != 0xabc || le.Uint32(rep[8:]) != 0x80000000 || le.Uint32(rep[12:]) != 0x80000000 {
		t.Errorf("duplicate reply: %x", rep)
	}
	if _, err := decodeDuplicateReply(rep[:15]); err == nil {
		t.Error("short duplicate reply decoded")
	}
	o := objectInfo{Handle: 4, KMT: bridge.GlobalHandle(9), Access: bridge.AccessReadWrite, Mask: bridge.AccessGenericAll, Type: objectTypeResource, Name: `\BaseNamedObjects\x`}
	b := appendObjectInfo(nil, o)
	if len(b) != queryObjectFixed+18+19 || le.Uint32(b[16:]) != 18 || le.Uint32(b[20:]) != 19 || string(b[24:42]) != "DxgkSharedResource" || string(b[42:]) != `\BaseNamedObjects\x` ||
		le.Uint32(b[12:]) != 0x10000000 || le.Uint32(b[8:]) != 0x80000001 {
		t.Errorf("query-object reply: %x", b)
	}
	if got, err := decodeObjectInfo(b); err != nil || got != o {
		t.Errorf("decodeObjectInfo = %+v, %v", got, err)
	}
	rec := appendResourceRecord(nil, resourceRecord{Handle: 8, KMT: bridge.GlobalHandle(9), Access: bridge.AccessRead, Alloc: testAllocation(64), GL: glSectionOf(testAllocation(64))})
	od := append(appendOpenDuplicatePrefix(nil, bridge.AccessGenericRead, "x"), rec...)
	if le.Uint32(od) != 0x80000000 || le.Uint32(od[4:]) != 1 || od[8] != 'x' || !bytes.Equal(od[9:], rec) {
		t.Errorf("open-duplicate reply: %x", od[:16])
	}
	if m, p, r, err := decodeOpenDuplicateReply(od); err != nil || m != bridge.AccessGenericRead || p != "x" || r.Handle != 8 {
		t.Errorf("decodeOpenDuplicateReply = %v %q %+v %v", m, p, r, err)
	}
}

// TestBrokerDuplicate: DuplicateHandle across processes. The source's NT
// handle becomes a one-shot token; the target pid named redeems it for an
// NT handle and fds of its own, with no more access than the source's;
// the two handles close independently, and the duplicate outlives its
// source's connection.
func TestBrokerDuplicate(t *testing.T) {
	path := testBroker(t, &Broker{})
	src, dst, other := dial(t, path), dial(t, path), dial(t, path)
	fd := memfd(t, 4096, 7)
	defer unix.Close(fd)
	kmt, err := src.Create(testAllocation(4096), fd, []byte("data"))
	if err != nil {
		t.Fatal(err)
	}
	rw, err := src.Share(kmt, bridge.AccessGenericAll, `Global\dup`)
	if err != nil {
		t.Fatal(err)
	}
	ro, err := src.Share(kmt, bridge.AccessRead, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := src.Duplicate(kmt, bridge.AccessRead, 0, 0); !errors.Is(err, CodeBadHandle) {
		t.Errorf("Duplicate of a KMT handle: %v, want CodeBadHandle", err)
	}
	if _, err := src.Duplicate(ro, bridge.AccessGenericAll, 0, 0); !errors.Is(err, CodeAccessDenied) {
		t.Errorf("Duplicate with more access than the source: %v, want CodeAccessDenied", err)
	}
	if _, err := src.Duplicate(ro, 0, 0, 0); !errors.Is(err, CodeAccessDenied) {
		t.Errorf("Duplicate with access 0: %v, want CodeAccessDenied", err)
	}
	if _, err := dst.Duplicate(rw, bridge.AccessRead, 0, 0); !errors.Is(err, CodeNotFound) {
		t.Errorf("Duplicate of another connection's handle: %v, want CodeNotFound", err)
	}

	// For the target's pid only (all three connections are this
	// process, so a pid that is not ours stands for another process).
	d, err := src.Duplicate(rw, bridge.AccessGenericRead, 0, os.Getpid()+1)
	if err != nil || d.Token == 0 || d.Access != bridge.AccessRead {
		t.Fatalf("Duplicate = %+v, %v", d, err)
	}
	if _, err := dst.OpenDuplicate(d.Token); !errors.Is(err, CodeAccessDenied) {
		t.Errorf("OpenDuplicate by another pid: %v, want CodeAccessDenied", err)
	}
	d, err = src.Duplicate(rw, 0, DuplicateSameAccess, os.Getpid())
	if err != nil || d.Access != bridge.AccessReadWrite {
		t.Fatalf("Duplicate(same access) = %+v, %v", d, err)
	}
	r, err := dst.OpenDuplicate(d.Token)
	if err != nil || !r.Handle.IsNT() || r.KMT != kmt || r.Access != bridge.AccessReadWrite || string(r.Data) != "data" {
		t.Fatalf("OpenDuplicate = %+v, %v", r, err)
	}
	if got := readAll(t, r.FD, 4096); !bytes.Equal(got, pattern(4096, 7)) {
		t.Error("the duplicate's fd is other memory")
	}
	closeResource(r)
	if _, err := other.OpenDuplicate(d.Token); !errors.Is(err, CodeNotFound) {
		t.Errorf("second OpenDuplicate: %v, want CodeNotFound (one-shot)", err)
	}
	// The duplicate is the same object: its type, name and the mask.
	for _, c := range []struct {
		c *Client
		h bridge.Handle
	}{{src, rw}, {dst, r.Handle}} {
		o, err := c.c.QueryObject(c.h)
		if err != nil || o.Type != "DxgkSharedResource" || o.Name != `\BaseNamedObjects\dup` || o.KMT != kmt || o.Mask != bridge.AccessGenericAll || o.Access != bridge.AccessReadWrite {
			t.Errorf("QueryObject(%v) = %+v, %v", c.h, o, err)
		}
	}
	// Closed independently: the source's close leaves the duplicate.
	if err := src.CloseHandle(rw); err != nil {
		t.Fatal(err)
	}
	if _, err := dst.Query(r.Handle); err != nil {
		t.Errorf("the duplicate after its source closed: %v", err)
	}
	// DUPLICATE_CLOSE_SOURCE moves the handle; the transfer holds the
	// resource after its source's connection ends.
	d, err = src.Duplicate(ro, bridge.AccessRead, DuplicateCloseSource, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := src.Query(ro); !errors.Is(err, CodeNotFound) {
		t.Errorf("the source after DUPLICATE_CLOSE_SOURCE: %v, want CodeNotFound", err)
	}
	if err := dst.CloseHandle(r.Handle); err != nil {
		t.Fatal(err)
	}
	src.Close()
	waitFor(t, "the source connection to go", func() bool {
		l := mustList(t, other)
		return len(l) == 1 && len(l[0].Holders) == 0
	})
	r, err = other.OpenDuplicate(d.Token)
	if err != nil || r.KMT != kmt || r.Access != bridge.AccessRead {
		t.Fatalf("OpenDuplicate after its source left = %+v, %v", r, err)
	}
	closeResource(r)
	if o, err := other.QueryObject(r.Handle); err != nil || o.Name != "" || o.Mask != bridge.AccessRead {
		t.Errorf("QueryObject of an unnamed handle's duplicate = %+v, %v", o, err)
	}
	if _, err := other.QueryObject(kmt); !errors.Is(err, CodeBadHandle) {
		t.Errorf("QueryObject of a KMT handle: %v, want CodeBadHandle", err)
	}
	if err := other.CloseHandle(r.Handle); err != nil {
		t.Fatal(err)
	}
	// What is left is the duplicate for the other pid, never opened: it
	// holds the resource (its one reference, of no connection) until its
	// timeout.
	if l := mustList(t, other); len(l) != 1 || l[0].Refs != 1 || len(l[0].Holders) != 0 {
		t.Errorf("after the last handle closed: %+v, want the resource held by the unopened duplicate alone", l)
	}
}

// TestBrokerDuplicateLimits: a transfer nobody opens is dropped after the
// broker's DuplicateTimeout, releasing the resource; a connection may
// have 64 waiting, and Shutdown drops those that wait.
func TestBrokerDuplicateLimits(t *testing.T) {
	brk := &Broker{DuplicateTimeout: 50 * time.Millisecond}
	path := testBroker(t, brk)
	c, obs := dial(t, path), dial(t, path)
	fd := memfd(t, 64, 1)
	defer unix.Close(fd)
	kmt, err := c.Create(testAllocation(64), fd, nil)
	if err != nil {
		t.Fatal(err)
	}
	nt, err := c.Share(kmt, bridge.AccessRead, "")
	if err != nil {
		t.Fatal(err)
	}
	d, err := c.Duplicate(nt, bridge.AccessRead, DuplicateCloseSource, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.CloseHandle(kmt); err != nil {
		t.Fatal(err)
	}
	// Only the transfer holds the resource now, until it expires.
	waitFor(t, "the unopened duplicate to expire", func() bool { return len(mustList(t, obs)) == 0 })
	if _, err := obs.OpenDuplicate(d.Token); !errors.Is(err, CodeNotFound) {
		t.Errorf("OpenDuplicate of an expired duplicate: %v, want CodeNotFound", err)
	}

	brk2 := &Broker{}
	path2 := testBroker(t, brk2)
	c2 := dial(t, path2)
	kmt2, err := c2.Create(testAllocation(64), fd, nil)
	if err != nil {
		t.Fatal(err)
	}
	nt2, err := c2.Share(kmt2, bridge.AccessRead, "")
	if err != nil {
		t.Fatal(err)
	}
	for i := range maxTransfersPerConn {
		if _, err := c2.Duplicate(nt2, 0, DuplicateSameAccess, 0); err != nil {
			t.Fatalf("duplicate %d: %v", i, err)
		}
	}
	if _, err := c2.Duplicate(nt2, 0, DuplicateSameAccess, 0); !errors.Is(err, CodeLimit) {
		t.Errorf("duplicate %d: %v, want CodeLimit", maxTransfersPerConn+1, err)
	}
	c2.Close()
	if err := brk2.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := brk2.Live(); n != 0 {
		t.Errorf("%d resources live after Shutdown with duplicates waiting", n)
	}
}

// TestRestoreDuplicateAndObjectName: an NT handle opened from a duplicate,
// and one opened by name, come back after a broker restart with their
// access and object name, which QueryObject reports as before.
func TestRestoreDuplicateAndObjectName(t *testing.T) {
	b1 := &Broker{}
	path := testBroker(t, b1)
	src, sev := reconnecting(t, path)
	dst, dev := reconnecting(t, path)
	fd := memfd(t, 64, 2)
	defer unix.Close(fd)
	kmt, err := src.Create(testAllocation(64), fd, nil)
	if err != nil {
		t.Fatal(err)
	}
	nt, err := src.Share(kmt, bridge.AccessGenericAll, `Local\Obj`)
	if err != nil {
		t.Fatal(err)
	}
	d, err := src.Duplicate(nt, bridge.AccessGenericRead|bridge.AccessSynchronize, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	r, err := dst.OpenDuplicate(d.Token)
	if err != nil {
		t.Fatal(err)
	}
	closeResource(r)
	byName, err := dst.OpenName(`obj`, bridge.AccessMaximumAllowed)
	if err != nil {
		t.Fatal(err)
	}
	closeResource(byName)
	want := map[bridge.Handle]ObjectInfo{}
	for _, h := range []bridge.Handle{r.Handle, byName.Handle} {
		o, err := dst.QueryObject(h)
		if err != nil || o.Name != `\Sessions\1\BaseNamedObjects\Obj` {
			t.Fatalf("QueryObject(%v) = %+v, %v", h, o, err)
		}
		want[h] = o
	}
	restart(t, b1, path, patience)
	for _, ev := range []chan ReconnectEvent{sev, dev} {
		if e := nextEvent(t, ev); e.Restored != 1 || e.Refused != 0 {
			t.Fatalf("reconnection %+v", e)
		}
	}
	for h, w := range want {
		if o, err := dst.QueryObject(h); err != nil || o != w {
			t.Errorf("QueryObject(%v) after the restart = %+v, %v; want %+v", h, o, err, w)
		}
	}
	if o, err := src.QueryObject(nt); err != nil || o.Name != `\Sessions\1\BaseNamedObjects\Obj` || o.Mask != bridge.AccessGenericAll {
		t.Errorf("the sharer's QueryObject after the restart = %+v, %v", o, err)
	}
}
