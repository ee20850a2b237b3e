package broker

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/glbridge/glbridge/bridge"
)

// keyedMutexInfo is kmt's entry in ListKeyedMutexes.
func keyedMutexInfo(t testing.TB, c *Client, kmt bridge.Handle) (KeyedMutexInfo, bool) {
	t.Helper()
	l, err := c.ListKeyedMutexes()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range l {
		if m.KMT == kmt {
			return m, true
		}
	}
	return KeyedMutexInfo{}, false
}

func wantCode(t testing.TB, what string, err error, code Code) {
	t.Helper()
	if !errors.Is(err, code) {
		t.Fatalf("%s: %v, want %v", what, err, code)
	}
}

// TestKeyedMutexObjectStandalone follows D3DKMT's test of keyed mutexes
// (d3dkmt.c, test_D3DKMTCreateKeyedMutex): a keyed mutex made on its own
// has a global handle of the D3DKMT shape; another process's open of it
// gets its private runtime data; it is a mutex across connections; it is
// no resource and has no NT handles; and its global handle dies with its
// last reference.
func TestKeyedMutexObjectStandalone(t *testing.T) {
	path := testBroker(t, &Broker{})
	a, bc := dial(t, path), dial(t, path)

	data := []byte{1, 2, 3, 4, 5, 6}
	m, err := a.CreateKeyedMutex(0, 0, data)
	if err != nil {
		t.Fatal(err)
	}
	if uint32(m.KMT)&0xc000003f != 0x40000002 || m.Resource != 0 || m.Sync != 0 || !bytes.Equal(m.Data, data) {
		t.Fatalf("CreateKeyedMutex = %+v", m)
	}
	o, err := bc.OpenKeyedMutex(m.KMT)
	if err != nil || o.KMT != m.KMT || !bytes.Equal(o.Data, data) {
		t.Fatalf("OpenKeyedMutex = %+v, %v", o, err)
	}

	if _, err := a.AcquireSync(m.KMT, 0, 0); err != nil {
		t.Fatal(err)
	}
	_, err = bc.AcquireSync(m.KMT, 0, 0)
	wantCode(t, "acquire of a held mutex with timeout 0", err, CodeTimeout)
	if info, ok := keyedMutexInfo(t, bc, m.KMT); !ok || !info.Mutex.Held || info.Refs != 2 || !info.CreatorActive {
		t.Fatalf("ListKeyedMutexes: %+v, %v; want held, 2 references", info, ok)
	}
	if err := a.ReleaseSync(m.KMT, 3, 9); err != nil {
		t.Fatal(err)
	}
	if ar, err := bc.AcquireSync(m.KMT, 3, time.Second); err != nil || ar.Value != 9 || ar.Abandoned {
		t.Fatalf("AcquireSync(key 3) = %+v, %v; want value 9", ar, err)
	}

	// It is not a resource, and D3DKMT shares it by global handle only.
	_, err = bc.OpenKMT(m.KMT)
	wantCode(t, "OPEN_KMT of a keyed mutex", err, CodeWrongType)
	_, err = a.Query(m.KMT)
	wantCode(t, "QUERY of a keyed mutex", err, CodeWrongType)
	_, err = a.Share(m.KMT, bridge.AccessReadWrite, "")
	wantCode(t, "SHARE of a keyed mutex", err, CodeWrongType)
	_, err = a.OpenFenceKMT(m.KMT)
	wantCode(t, "OPEN_FENCE of a keyed mutex", err, CodeWrongType)
	if l := mustList(t, a); len(l) != 0 {
		t.Fatalf("LIST lists %d resources, want none: a keyed mutex is not one", len(l))
	}

	// The holder's close abandons it; then the global handle goes with
	// the last reference.
	if err := bc.CloseHandle(m.KMT); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		ar, err := a.AcquireSync(m.KMT, 77, 0)
		if err != nil || !ar.Abandoned {
			t.Fatalf("acquire %d after the holder closed: %+v, %v; want abandoned", i, ar, err)
		}
		if err := a.ReleaseSync(m.KMT, 0, 0); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.CloseHandle(m.KMT); err != nil {
		t.Fatal(err)
	}
	_, err = bc.OpenKeyedMutex(m.KMT)
	wantCode(t, "open after the last reference", err, CodeNotFound)
}

// TestKeyedMutexObjectOfResource is a D3D11 resource with
// D3D11_RESOURCE_MISC_SHARED_KEYEDMUTEX as wined3d on wineserver makes
// it: a resource, a sync object (a fence) and a keyed mutex bound to
// both. The mutex acquired through the resource's handle and through the
// mutex's own is one mutex; on the fallback path each release raises the
// sync object's value; a resource opened by another process reaches its
// mutex either way; the mutex outlives the resource only while something
// holds it; and a mutex is the resource creator's to give, once, before
// use.
func TestKeyedMutexObjectOfResource(t *testing.T) {
	path := testBroker(t, &Broker{})
	prod, cons, other := dial(t, path), dial(t, path), dial(t, path)

	mem := memfd(t, 4096, 7)
	defer unix.Close(mem)
	kmt, err := prod.Create(testAllocation(4096), mem, nil)
	if err != nil {
		t.Fatal(err)
	}
	sync, err := prod.CreateFence(0, -1)
	if err != nil {
		t.Fatal(err)
	}
	_, err = prod.CreateKeyedMutex(sync, 0, nil)
	wantCode(t, "a keyed mutex of a fence", err, CodeWrongType)
	_, err = prod.CreateKeyedMutex(kmt, kmt, nil)
	wantCode(t, "a resource as sync object", err, CodeWrongType)
	r, err := other.OpenKMT(kmt)
	if err != nil {
		t.Fatal(err)
	}
	unix.Close(r.FD)
	_, err = other.CreateKeyedMutex(kmt, 0, nil)
	wantCode(t, "a keyed mutex of another's resource", err, CodeAccessDenied)

	m, err := prod.CreateKeyedMutex(kmt, sync, []byte("km"))
	if err != nil {
		t.Fatal(err)
	}
	if m.Resource != kmt || m.Sync != sync || m.KMT == kmt || m.KMT == sync {
		t.Fatalf("CreateKeyedMutex = %+v; want the resource %v and sync object %v", m, kmt, sync)
	}
	_, err = prod.CreateKeyedMutex(kmt, 0, nil)
	wantCode(t, "a second keyed mutex", err, CodeInvalid)
	// The creator may close its own references: the resource keeps its
	// mutex, and the mutex its sync object.
	if err := prod.CloseHandle(m.KMT); err != nil {
		t.Fatal(err)
	}
	if err := prod.CloseHandle(sync); err != nil {
		t.Fatal(err)
	}

	// The consumer opens the resource, then its mutex and sync object by
	// the handles a runtime descriptor would carry.
	cr, err := cons.OpenKMT(kmt)
	if err != nil {
		t.Fatal(err)
	}
	unix.Close(cr.FD)
	cm, err := cons.OpenKeyedMutex(m.KMT)
	if err != nil || cm.Resource != kmt || cm.Sync != sync || string(cm.Data) != "km" {
		t.Fatalf("OpenKeyedMutex = %+v, %v", cm, err)
	}
	cs, err := cons.OpenFenceKMT(sync)
	if err != nil {
		t.Fatal(err)
	}

	if _, err := prod.AcquireSync(kmt, 0, 0); err != nil {
		t.Fatal(err)
	}
	_, err = cons.AcquireSync(cm.KMT, 0, 0)
	wantCode(t, "acquire through the mutex while the resource's holder has it", err, CodeTimeout)
	_, err = other.AcquireSync(kmt, 0, 0)
	wantCode(t, "acquire through the resource while it is held", err, CodeTimeout)
	if info, ok := keyedMutexInfo(t, cons, m.KMT); !ok || !info.Mutex.Held || info.Resource != kmt || info.Sync != sync {
		t.Fatalf("ListKeyedMutexes: %+v, %v", info, ok)
	}
	l := mustList(t, cons)
	if len(l) != 1 || l[0].KMT != kmt || !l[0].Mutex.Held {
		t.Fatalf("LIST: %+v; want the resource, its mutex held", l)
	}
	_, err = other.CreateKeyedMutex(0, 0, nil) // any process may make one of its own
	if err != nil {
		t.Fatal(err)
	}

	// A release through the resource's handle wakes a wait through the
	// mutex's, and raises the sync object the broker keeps.
	done := make(chan AcquireResult, 1)
	go func() {
		ar, err := cons.AcquireSync(cm.KMT, 1, patience)
		if err != nil {
			t.Error(err)
		}
		done <- ar
	}()
	waitFor(t, "the acquire to wait", func() bool {
		info, _ := keyedMutexInfo(t, other, m.KMT)
		return info.Mutex.Waiters == 1
	})
	if err := prod.ReleaseSync(kmt, 1, 5); err != nil {
		t.Fatal(err)
	}
	if ar := <-done; ar.Value != 5 {
		t.Fatalf("acquire through the mutex: value %d, want 5", ar.Value)
	}
	if v, err := cons.WaitFence(cs.Handle, 5, patience); err != nil || v.Value != 5 {
		t.Fatalf("the sync object after a release with value 5: %+v, %v", v, err)
	}
	_, err = prod.CreateKeyedMutex(kmt, 0, nil)
	wantCode(t, "a keyed mutex after use", err, CodeInvalid)

	// The consumer dies holding it through the mutex's handle: the
	// producer's next acquires, through the resource, are abandoned.
	cons.Close()
	for i := range 3 {
		ar, err := prod.AcquireSync(kmt, 9, patience)
		if err != nil || !ar.Abandoned {
			t.Fatalf("acquire %d after the holder died: %+v, %v; want abandoned", i, ar, err)
		}
		if err := prod.ReleaseSync(kmt, 2, 6); err != nil {
			t.Fatal(err)
		}
	}

	// With every reference to the resource gone, the mutex and the sync
	// object go too: the resource held the mutex, the mutex the fence.
	hm, err := other.OpenKeyedMutex(m.KMT)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []*Client{prod, other} {
		if err := c.CloseHandle(kmt); err != nil {
			t.Fatal(err)
		}
	}
	if info, ok := keyedMutexInfo(t, other, hm.KMT); !ok || info.Resource != 0 || info.Refs != 1 {
		t.Fatalf("the mutex after its resource went: %+v, %v; want resource 0 and 1 reference", info, ok)
	}
	if err := other.CloseHandle(hm.KMT); err != nil {
		t.Fatal(err)
	}
	_, err = other.OpenKeyedMutex(m.KMT)
	wantCode(t, "the mutex after its last reference", err, CodeNotFound)
	_, err = other.OpenFenceKMT(sync)
	wantCode(t, "the sync object after its mutex", err, CodeNotFound)
}

// TestRestoreKeyedMutexObject restarts the broker under two reconnecting
// clients: a resource with its mutex object and sync object, the mutex
// held by the consumer through the mutex's handle. All three come back
// under their handles, bound as before, the mutex still held by the
// consumer, and its release reaches the producer.
func TestRestoreKeyedMutexObject(t *testing.T) {
	b1 := &Broker{}
	path := testBroker(t, b1)
	prod, pev := reconnecting(t, path)
	cons, cev := reconnecting(t, path)

	mem := memfd(t, 4096, 9)
	defer unix.Close(mem)
	kmt, err := prod.Create(testAllocation(4096), mem, nil)
	if err != nil {
		t.Fatal(err)
	}
	sync, err := prod.CreateFence(0, -1)
	if err != nil {
		t.Fatal(err)
	}
	m, err := prod.CreateKeyedMutex(kmt, sync, []byte("mutex data"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := prod.AcquireSync(kmt, 0, 0); err != nil {
		t.Fatal(err)
	}
	if err := prod.ReleaseSync(kmt, 4, 11); err != nil {
		t.Fatal(err)
	}
	cm, err := cons.OpenKeyedMutex(m.KMT)
	if err != nil {
		t.Fatal(err)
	}
	if ar, err := cons.AcquireSync(cm.KMT, 4, 0); err != nil || ar.Value != 11 {
		t.Fatalf("AcquireSync = %+v, %v", ar, err)
	}

	restart(t, b1, path, patience)
	if e := nextEvent(t, pev); e.Restored != 3 || e.Refused != 0 {
		t.Errorf("producer's reconnection %+v, want 3 objects restored", e)
	}
	if e := nextEvent(t, cev); e.Restored != 1 || e.Refused != 0 {
		t.Errorf("consumer's reconnection %+v, want 1 object restored", e)
	}
	obs := dial(t, path)
	info, ok := keyedMutexInfo(t, obs, m.KMT)
	if !ok || info.Resource != kmt || info.Sync != sync || !info.Mutex.Held || info.Refs != 3 || info.DataLen != uint32(len("mutex data")) {
		t.Fatalf("the mutex after the restart: %+v, %v; want bound to %v and %v, held, 3 references", info, ok, kmt, sync)
	}
	_, err = prod.AcquireSync(kmt, 5, 0)
	wantCode(t, "acquire while the consumer holds it", err, CodeTimeout)
	if err := cons.ReleaseSync(cm.KMT, 5, 12); err != nil {
		t.Fatal(err)
	}
	if ar, err := prod.AcquireSync(kmt, 5, patience); err != nil || ar.Value != 12 {
		t.Fatalf("acquire after the restored holder released: %+v, %v", ar, err)
	}
	if v, err := prod.GetFence(sync); err != nil || v.Value != 12 {
		t.Fatalf("sync object: %+v, %v; want 12", v, err)
	}
}

// TestKeyedMutexLayouts pins the byte offsets docs/protocol.md gives for
// CREATE_KEYED_MUTEX, OPEN_KEYED_MUTEX, RESTORE_KEYED_MUTEX, the
// keyed-mutex record and list entry, SET_SESSION and a service
// CREATE_FENCE and RESTORE_FENCE, and what their decoders refuse.
func TestKeyedMutexLayouts(t *testing.T) {
	p := func(q request) []byte { return encodeRequest(q)[headerSize:] }
	cr := p(request{header: header{Type: msgCreateKeyedMutex}, Handle: 0x40000042, Sync: 0x40000082, Data: []byte{1, 2, 3}})
	if len(cr) != createKeyedMutexFixed+3 || le.Uint32(cr) != 0x40000042 || le.Uint32(cr[4:]) != 0x40000082 || le.Uint32(cr[8:]) != 3 ||
		le.Uint32(cr[12:]) != 0 || !bytes.Equal(cr[16:], []byte{1, 2, 3}) {
		t.Errorf("create-keyed-mutex: %x", cr)
	}
	if op := p(request{header: header{Type: msgOpenKeyedMutex}, Handle: 0x400000c2}); len(op) != openKeyedMutexSize || le.Uint32(op) != 0x400000c2 || le.Uint32(op[4:]) != 0 {
		t.Errorf("open-keyed-mutex: %x", op)
	}
	rs := p(request{header: header{Type: msgRestoreKeyedMutex}, Restore: restoreReq{KMT: 0x400000c2, Flags: restoreCreator | restoreMutexHeld, KMTRefs: 2,
		MutexOf: 0x40000042, MutexSync: 0x40000082, MutexEvents: 7, MutexKey: 8, MutexValue: 9, Data: []byte("km")}})
	if len(rs) != restoreKeyedMutexFixed+2 || le.Uint32(rs) != 0x400000c2 || le.Uint32(rs[4:]) != restoreCreator|restoreMutexHeld || le.Uint32(rs[8:]) != 2 ||
		le.Uint32(rs[12:]) != 0x40000042 || le.Uint32(rs[16:]) != 0x40000082 || le.Uint32(rs[20:]) != 2 || le.Uint32(rs[24:]) != 7 || le.Uint32(rs[28:]) != 0 ||
		le.Uint64(rs[32:]) != 8 || le.Uint64(rs[40:]) != 9 || string(rs[48:]) != "km" {
		t.Errorf("restore-keyed-mutex: %x", rs)
	}
	rec := appendKeyedMutexRecord(nil, KeyedMutex{KMT: 0x400000c2, Resource: 0x40000042, Sync: 0x40000082, Data: []byte("d")})
	if len(rec) != keyedMutexRecordFixed+1 || le.Uint32(rec) != 0x400000c2 || le.Uint32(rec[4:]) != 0x40000042 || le.Uint32(rec[8:]) != 0x40000082 ||
		le.Uint32(rec[12:]) != 1 || rec[16] != 'd' {
		t.Errorf("keyed-mutex record: %x", rec)
	}
	e := appendMutexEntry(nil, KeyedMutexInfo{KMT: 1, Resource: 2, Sync: 3, CreatorPID: 4, Refs: 5, Events: 6, DataLen: 7, CreatorActive: true,
		Mutex: MutexState{Held: true, HolderPID: 8, HolderConn: 9, LastKey: 10, LastValue: 11, Waiters: 12}})
	for off, want := range map[int]uint32{0: 1, 4: 2, 8: 3, 12: 4, 16: 5, 20: 12, 24: mutexHeld, 28: 8, 32: 9, 36: 6, 40: 7, 44: mutexEntryCreatorActive} {
		if got := le.Uint32(e[off:]); got != want {
			t.Errorf("keyed-mutex entry: word at %d is %d, want %d", off, got, want)
		}
	}
	if len(e) != mutexEntrySize || le.Uint64(e[48:]) != 10 || le.Uint64(e[56:]) != 11 {
		t.Errorf("keyed-mutex entry: %x", e)
	}
	if ss := p(request{header: header{Type: msgSetSession}, Session: 2}); len(ss) != 8 || le.Uint32(ss) != 2 || le.Uint32(ss[4:]) != 0 {
		t.Errorf("set-session: %x", ss)
	}
	dev := bridge.DeviceID{Driver: [16]byte{1}, Device: [16]byte{2}}
	sf := encodeRequest(request{header: header{Type: msgCreateFence}, FenceFlags: createFenceService, Kind: syncTimeline, Value: 5, Device: dev})
	if b := sf[headerSize:]; len(b) != 48 || le.Uint16(sf[16:]) != 0 || le.Uint32(b) != createFenceService || le.Uint32(b[4:]) != 2 || le.Uint64(b[8:]) != 5 ||
		b[16] != 1 || b[32] != 2 {
		t.Errorf("service create-fence: %x", sf)
	}
	fr := p(request{header: header{Type: msgRestoreFence}, SyncCount: 1, Restore: restoreReq{KMT: 0x40000042, Flags: restoreCreator | restoreFenceService, KMTRefs: 1,
		Kinds: []syncKind{syncTimeline}, Device: dev}})
	if len(fr) != restoreFenceFixed+32 || le.Uint32(fr[4:]) != restoreCreator|restoreFenceService || fr[48] != 1 || fr[64] != 2 {
		t.Errorf("service restore-fence: %x", fr)
	}

	for _, c := range []struct {
		what string
		q    request
		edit func([]byte)
		code Code
	}{
		{"create reserved", request{header: header{Type: msgCreateKeyedMutex}}, func(b []byte) { b[12] = 1 }, CodeBadMessage},
		{"open reserved", request{header: header{Type: msgOpenKeyedMutex}, Handle: 0x40000042}, func(b []byte) { b[4] = 1 }, CodeBadMessage},
		{"restore flags", request{header: header{Type: msgRestoreKeyedMutex}, Restore: restoreReq{KMT: 0x40000042, KMTRefs: 1}}, func(b []byte) { b[4] = 0x10 }, CodeBadMessage},
		{"restore reserved", request{header: header{Type: msgRestoreKeyedMutex}, Restore: restoreReq{KMT: 0x40000042, KMTRefs: 1}}, func(b []byte) { b[28] = 1 }, CodeBadMessage},
		{"session above the limit", request{header: header{Type: msgSetSession}}, func(b []byte) { b[2] = 1 }, CodeInvalid},
		{"session reserved", request{header: header{Type: msgSetSession}}, func(b []byte) { b[4] = 1 }, CodeBadMessage},
		{"service fence of a binary kind", request{header: header{Type: msgCreateFence}, FenceFlags: createFenceService, Kind: syncTimeline, Device: dev},
			func(b []byte) { b[4] = 1 }, CodeInvalid},
	} {
		msg := encodeRequest(c.q)
		c.edit(msg[headerSize:])
		if _, err := decodeRequest(msg, fdsFor(c.q.Type, c.q.SyncCount)); !errors.Is(err, c.code) {
			t.Errorf("%s: %v, want %v", c.what, err, c.code)
		}
	}
	// Version 1 has none of them.
	for _, typ := range []msgType{msgCreateKeyedMutex, msgOpenKeyedMutex, msgRestoreKeyedMutex, msgSetSession} {
		msg := encodeRequest(request{header: header{Type: typ, Version: protocolVersion1}, Restore: restoreReq{KMT: 0x40000042, KMTRefs: 1}})
		if _, err := decodeRequest(msg, 0); !errors.Is(err, CodeUnknownType) {
			t.Errorf("version-1 %v: %v, want CodeUnknownType", typ, err)
		}
	}
}
