package broker

import (
	"fmt"
	"slices"

	"github.com/glbridge/glbridge/bridge"
)

// This file is keyed mutexes as objects of their own (docs/protocol.md,
// "24 CREATE_KEYED_MUTEX"), as wineserver keeps D3DKMT keyed mutexes: an
// object with its own global (KMT) handle and private runtime data, made
// by D3DKMTCreateKeyedMutex2 and opened by D3DKMTOpenKeyedMutex2, whose
// handle (and its sync object's) a D3D11 resource's DXGI runtime
// descriptor records, so that an opener of the resource opens its mutex
// through them, as DXVK's OpenSharedResource does.
//
// A keyed-mutex object lives in the resources' table like a fence. Bound
// to a resource (the resource whose mutex it is), it holds the mutex's
// state for both: an ACQUIRE_SYNC through the resource's handles and one
// through the mutex's own are the same mutex. A resource without one keeps
// its state itself, as before there were mutex objects. The resource
// holds a reference to its mutex object, and the mutex object one to its
// sync object (a fence, whose value the broker raises with each release
// where the fence has no semaphore), so that neither goes while what
// names it lives.

// Message types (version 2).
const (
	// msgCreateKeyedMutex makes a keyed-mutex object, optionally bound to
	// a resource and with a sync object.
	msgCreateKeyedMutex msgType = 24
	// msgOpenKeyedMutex opens one by its KMT handle.
	msgOpenKeyedMutex msgType = 25
	// msgRestoreKeyedMutex brings one back after a broker restart.
	msgRestoreKeyedMutex msgType = 26
)

// Payload sizes of the keyed-mutex messages.
const (
	createKeyedMutexFixed  = 16
	openKeyedMutexSize     = 8
	keyedMutexRecordFixed  = 16
	restoreKeyedMutexFixed = 48
	mutexEntrySize         = 64
	// listFencesFlagKeyedMutexes is bit 0 of LIST_FENCES' flags: list the
	// keyed-mutex objects instead of the fences.
	listFencesFlagKeyedMutexes = 1
	// mutexEntryCreatorActive is a mutex entry's flag: its creator's
	// connection is live.
	mutexEntryCreatorActive = 1
	// restoreKeyedMutexFlagsKnown are RESTORE_KEYED_MUTEX's flags.
	restoreKeyedMutexFlagsKnown = restoreCreator | restoreMutexHeld | restoreMutexReleased | restoreMutexAbandoned
)

// mutexObject is what makes a table entry a keyed-mutex object: the
// resource whose mutex it is (nil for one of its own, as
// D3DKMTCreateKeyedMutex makes) and its sync object (nil for none), and
// their KMT handles. A restored mutex object may have a handle whose
// object is not back yet (another client restores it): it waits in
// b.awaitingBind, and is bound when that object's restore comes.
type mutexObject struct {
	of, sync       *resource
	ofKMT, syncKMT bridge.Handle
}

// mutexHome is the entry whose mutex field is res's keyed mutex: its
// mutex object's, once it has one.
func (res *resource) mutexHome() *resource {
	if res.boundMutex != nil {
		return res.boundMutex
	}
	return res
}

// kindName names res's kind, for errors.
func (res *resource) kindName() string {
	switch {
	case res.fence != nil:
		return "a fence"
	case res.km != nil:
		return "a keyed mutex"
	}
	return "a resource"
}

// KeyedMutex is a keyed-mutex object as CreateKeyedMutex made it or
// OpenKeyedMutex opened it.
type KeyedMutex struct {
	// KMT is its global handle, the handle this connection holds it
	// through: acquire and release through it, close it with CloseHandle.
	KMT bridge.Handle
	// Resource is the KMT handle of the resource whose mutex it is (0 for
	// a keyed mutex of its own); acquiring through any handle of that
	// resource is acquiring this mutex.
	Resource bridge.Handle
	// Sync is the KMT handle of its sync object, a fence (0 for none).
	Sync bridge.Handle
	// Data is its private runtime data.
	Data []byte
}

// KeyedMutexInfo is one keyed-mutex object in a ListKeyedMutexes reply.
type KeyedMutexInfo struct {
	// KMT, Resource and Sync are as in KeyedMutex.
	KMT, Resource, Sync bridge.Handle
	CreatorPID          int32
	CreatorActive       bool
	// Refs counts every reference, the bound resource's included.
	Refs    uint32
	DataLen uint32
	// Events counts the mutex's releases and abandonments.
	Events uint32
	// Mutex is the mutex's state: holder, last release, waiters.
	Mutex MutexState
}

func decodeKeyedMutexRequest(q *request, r *rd) (bool, error) {
	switch q.Type {
	case msgCreateKeyedMutex, msgOpenKeyedMutex, msgRestoreKeyedMutex:
		if q.Version < protocolVersion {
			return true, perr(CodeUnknownType, "%v is version %d's; the request is version %d", q.Type, protocolVersion, q.Version)
		}
	default:
		return false, nil
	}
	switch q.Type {
	case msgCreateKeyedMutex:
		q.Handle, q.Sync = bridge.Handle(r.u32()), bridge.Handle(r.u32())
		dlen, res := r.u32(), r.u32()
		if r.bad {
			break
		}
		if res != 0 {
			return true, perr(CodeBadMessage, "reserved field is %#x, must be 0", res)
		}
		if err := checkDataLen(int(dlen)); err != nil {
			return true, err
		}
		q.Data = r.take(int(dlen))
	case msgOpenKeyedMutex:
		q.Handle = bridge.Handle(r.u32())
		if res := r.u32(); !r.bad && res != 0 {
			return true, perr(CodeBadMessage, "reserved field is %#x, must be 0", res)
		}
	case msgRestoreKeyedMutex:
		x := &q.Restore
		x.KMT, x.Flags, x.KMTRefs = bridge.Handle(r.u32()), r.u32(), r.u32()
		x.MutexOf, x.MutexSync = bridge.Handle(r.u32()), bridge.Handle(r.u32())
		dlen := r.u32()
		x.MutexEvents = r.u32()
		res := r.u32()
		x.MutexKey, x.MutexValue = r.u64(), r.u64()
		if r.bad {
			break
		}
		switch {
		case res != 0:
			return true, perr(CodeBadMessage, "reserved field is %#x, must be 0", res)
		case x.Flags&^restoreKeyedMutexFlagsKnown != 0:
			return true, perr(CodeBadMessage, "unknown restore-keyed-mutex flags %#x", x.Flags&^restoreKeyedMutexFlagsKnown)
		}
		if err := checkDataLen(int(dlen)); err != nil {
			return true, err
		}
		x.Data = r.take(int(dlen))
		// The only handle a keyed-mutex object is held through is its KMT
		// handle.
		x.MutexHandle = x.KMT
	}
	return true, nil
}

func appendKeyedMutexRequest(p []byte, q request) ([]byte, bool) {
	switch q.Type {
	case msgCreateKeyedMutex:
		p = le.AppendUint32(p, uint32(q.Handle))
		p = le.AppendUint32(p, uint32(q.Sync))
		p = le.AppendUint32(p, uint32(len(q.Data)))
		p = le.AppendUint32(p, 0)
		p = append(p, q.Data...)
	case msgOpenKeyedMutex:
		p = le.AppendUint32(p, uint32(q.Handle))
		p = le.AppendUint32(p, 0)
	case msgRestoreKeyedMutex:
		x := q.Restore
		for _, v := range [...]uint32{uint32(x.KMT), x.Flags, x.KMTRefs, uint32(x.MutexOf), uint32(x.MutexSync), uint32(len(x.Data)), x.MutexEvents, 0} {
			p = le.AppendUint32(p, v)
		}
		p = le.AppendUint64(p, x.MutexKey)
		p = le.AppendUint64(p, x.MutexValue)
		p = append(p, x.Data...)
	default:
		return p, false
	}
	return p, true
}

func appendKeyedMutexRecord(p []byte, m KeyedMutex) []byte {
	for _, v := range [...]uint32{uint32(m.KMT), uint32(m.Resource), uint32(m.Sync), uint32(len(m.Data))} {
		p = le.AppendUint32(p, v)
	}
	return append(p, m.Data...)
}

func decodeKeyedMutexRecord(p []byte) (KeyedMutex, error) {
	r := rd{b: p}
	m := KeyedMutex{KMT: bridge.Handle(r.u32()), Resource: bridge.Handle(r.u32()), Sync: bridge.Handle(r.u32())}
	n := r.u32()
	switch {
	case r.bad:
		return m, perr(CodeBadMessage, "keyed-mutex record of %d bytes", len(p))
	case n > MaxPrivateData || int(n) != r.rest():
		return m, perr(CodeBadMessage, "keyed-mutex record: %d bytes of data in %d", n, r.rest())
	}
	m.Data = slices.Clone(r.take(int(n)))
	return m, nil
}

func appendMutexEntry(p []byte, e KeyedMutexInfo) []byte {
	var flags uint32
	if e.CreatorActive {
		flags |= mutexEntryCreatorActive
	}
	m := e.Mutex
	state := uint32(mutexFree)
	switch {
	case m.Held:
		state = mutexHeld
	case m.Abandoned:
		state = mutexAbandoned
	}
	for _, v := range [...]uint32{uint32(e.KMT), uint32(e.Resource), uint32(e.Sync), uint32(e.CreatorPID), e.Refs, uint32(m.Waiters),
		state, uint32(m.HolderPID), m.HolderConn, e.Events, e.DataLen, flags} {
		p = le.AppendUint32(p, v)
	}
	p = le.AppendUint64(p, m.LastKey)
	return le.AppendUint64(p, m.LastValue)
}

func decodeMutexList(p []byte) (next uint32, out []KeyedMutexInfo, err error) {
	r := rd{b: p}
	next, count := r.u32(), r.u32()
	if r.bad || int(count)*mutexEntrySize != r.rest() {
		return 0, nil, perr(CodeBadMessage, "keyed-mutex list of %d bytes", len(p))
	}
	for range count {
		e := KeyedMutexInfo{KMT: bridge.Handle(r.u32()), Resource: bridge.Handle(r.u32()), Sync: bridge.Handle(r.u32()),
			CreatorPID: int32(r.u32()), Refs: r.u32()}
		waiters, state, holder := r.u32(), r.u32(), int32(r.u32())
		holderConn := r.u32()
		e.Events, e.DataLen = r.u32(), r.u32()
		flags := r.u32()
		lastKey, lastValue := r.u64(), r.u64()
		// A holder is named only while the mutex is held (the entry has
		// one encoding).
		if state > mutexAbandoned || flags&^mutexEntryCreatorActive != 0 || state != mutexHeld && (holder != 0 || holderConn != 0) {
			return 0, nil, perr(CodeBadMessage, "keyed-mutex entry with state %d, holder %d/%d, flags %#x", state, holder, holderConn, flags)
		}
		e.CreatorActive = flags&mutexEntryCreatorActive != 0
		e.Mutex = MutexState{Held: state == mutexHeld, Abandoned: state == mutexAbandoned, LastKey: lastKey, LastValue: lastValue, Waiters: int(waiters)}
		if e.Mutex.Held {
			e.Mutex.HolderPID, e.Mutex.HolderConn = holder, holderConn
		}
		out = append(out, e)
	}
	return next, out, nil
}

// createKeyedMutex is CREATE_KEYED_MUTEX: a new keyed-mutex object of
// c's with q.Data, bound to the resource q.Handle names and with the sync
// object q.Sync names, each if not 0. Only a resource's creator may give
// it a mutex object, and only before its mutex was used, so that no
// holder's view of the mutex changes under it.
func (b *Broker) createKeyedMutex(c *brokerConn, q request) (*resource, error) {
	var of, sync *resource
	if q.Handle != 0 {
		res, have, err := b.lookup(c, q.Handle, false)
		switch {
		case err != nil:
			return nil, err
		case res.fence != nil || res.km != nil:
			return nil, perr(CodeWrongType, "%v is %s; a keyed mutex belongs to a resource", q.Handle, res.kindName())
		case res.creator != c:
			return nil, perr(CodeAccessDenied, "only the creator of %v may give it a keyed mutex", res.kmt)
		case res.boundMutex != nil:
			return nil, perr(CodeInvalid, "%v already has keyed mutex %v", res.kmt, res.boundMutex.kmt)
		case res.mutex.held || res.mutex.events != 0 || len(res.mutex.waiters) > 0:
			return nil, perr(CodeInvalid, "the keyed mutex of %v was used already", res.kmt)
		}
		if err := needWrite(q.Handle, have, "CREATE_KEYED_MUTEX"); err != nil {
			return nil, err
		}
		of = res
	}
	if q.Sync != 0 {
		res, _, err := b.lookup(c, q.Sync, false)
		if err != nil {
			return nil, err
		}
		if res.fence == nil {
			return nil, perr(CodeWrongType, "sync object %v is %s, not a fence", q.Sync, res.kindName())
		}
		sync = res
	}
	if err := b.roomForResource(c, 0); err != nil {
		return nil, err
	}
	mo := b.register(c, bridge.Allocation{}, -1, nil, q.Data)
	mo.gl = glSection{}
	b.bindMutex(mo, of, sync)
	return mo, nil
}

// bindMutex makes mo the keyed-mutex object of of and gives it sync, each
// if not nil, with the references that keep them (see the file comment).
// A mutex state of already in of (restored before its mutex object) moves
// to mo.
func (b *Broker) bindMutex(mo, of, sync *resource) {
	if mo.km == nil {
		mo.km = &mutexObject{}
	}
	if of != nil {
		mo.km.of, mo.km.ofKMT = of, of.kmt
		of.boundMutex = mo
		mo.refs++
		if m := &of.mutex; m.held || m.events != 0 || m.abandoned || len(m.waiters) > 0 {
			mo.mutex, of.mutex = of.mutex, keyedMutex{}
		}
	}
	if sync != nil {
		mo.km.sync, mo.km.syncKMT = sync, sync.kmt
		sync.refs++
	}
}

// bindRestored binds res, just restored, to the restored mutex object
// that waits for it, if any.
func (b *Broker) bindRestored(res *resource) {
	mo := b.awaitingBind[res.kmt]
	if mo == nil {
		return
	}
	delete(b.awaitingBind, res.kmt)
	switch {
	case res.fence != nil && mo.km.syncKMT == res.kmt:
		b.bindMutex(mo, nil, res)
	case res.fence == nil && res.km == nil && mo.km.ofKMT == res.kmt && res.boundMutex == nil:
		b.bindMutex(mo, res, nil)
	}
}

// unbindMutex drops the references bindMutex made for res, which is being
// freed.
func (b *Broker) unbindMutex(res *resource) {
	if mo := res.boundMutex; mo != nil {
		// The mutex may outlive its resource, as an open of it holds it.
		res.boundMutex, mo.km.of, mo.km.ofKMT = nil, nil, 0
		b.unref(mo)
	}
	if km := res.km; km != nil {
		for _, h := range []bridge.Handle{km.ofKMT, km.syncKMT} {
			if b.awaitingBind[h] == res {
				delete(b.awaitingBind, h)
			}
		}
		if sync := km.sync; sync != nil {
			km.sync, km.syncKMT = nil, 0
			b.unref(sync)
		}
	}
}

func (mo *resource) keyedMutexRecord() KeyedMutex {
	return KeyedMutex{KMT: mo.kmt, Resource: mo.km.ofKMT, Sync: mo.km.syncKMT, Data: mo.data}
}

// openKeyedMutex is OPEN_KEYED_MUTEX: a reference through the mutex's
// KMT handle, the only way to open one (D3DKMTOpenKeyedMutex); one bound
// to a resource opened through an NT handle is reached through that.
func (b *Broker) openKeyedMutex(c *brokerConn, q request) ([]byte, error) {
	mo, err := b.openableKMT(c, q)
	if err != nil {
		return nil, err
	}
	b.addKMTRef(c, mo)
	return appendKeyedMutexRecord(nil, mo.keyedMutexRecord()), nil
}

// signalMutexSync raises the value of mo's sync object to a release's,
// where the broker keeps that value (a fence without a semaphore): there,
// waiting on the sync object for a release's value is waiting for the
// release. With a semaphore, the releaser signals it on the GPU.
func (b *Broker) signalMutexSync(mo *resource, value uint64, late *[]lateReply) {
	if mo.km == nil || mo.km.sync == nil {
		return
	}
	s := mo.km.sync
	if len(s.syncs) != 0 || value <= s.fence.value {
		return
	}
	s.fence.value = value
	s.fence.signals++
	b.wakeFence(s, late)
}

// listKeyedMutexes encodes the keyed-mutex objects from KMT index cursor
// on, as many as fit.
func (b *Broker) listKeyedMutexes(cursor uint32) []byte {
	return b.page(cursor, func(mo *resource) []byte {
		if mo.km == nil {
			return nil
		}
		rec, m := mo.keyedMutexRecord(), &mo.mutex
		e := KeyedMutexInfo{KMT: mo.kmt, Resource: rec.Resource, Sync: rec.Sync, CreatorPID: mo.creatorPID,
			CreatorActive: mo.creator != nil && !mo.creator.dead, Refs: uint32(mo.refs), DataLen: uint32(len(mo.data)), Events: m.events,
			Mutex: MutexState{Held: m.held, Abandoned: m.abandoned, LastKey: m.lastKey, LastValue: m.lastValue, Waiters: len(m.waiters)}}
		if m.held {
			e.Mutex.HolderPID, e.Mutex.HolderConn = m.owner.c.pid, m.owner.c.id
		}
		return appendMutexEntry(nil, e)
	})
}

// restoreKeyedMutex is RESTORE_KEYED_MUTEX: it brings back q's keyed-mutex
// object under its KMT handle, bound again to its resource and sync
// object (at once for those that are back, which a client restores before
// its mutexes, and for the others when another client's restore brings
// them), and gives c back its references and its view of the mutex.
func (b *Broker) restoreKeyedMutex(c *brokerConn, q request, late *[]lateReply) ([]byte, error) {
	r := q.Restore
	if err := b.restorable(r); err != nil {
		return nil, err
	}
	// A keyed mutex is held through its KMT handle alone: the claims'
	// check comes down to c's room for the references.
	if _, err := b.checkRestoreClaims(c, r); err != nil {
		return nil, err
	}
	// find is the live object h names, nil for one not back yet.
	find := func(h bridge.Handle, fence bool, what string) (*resource, error) {
		if h == 0 {
			return nil, nil
		}
		if !h.IsKMT() {
			return nil, perr(CodeBadHandle, "%v: its %s %v is not a KMT handle", r.KMT, what, h)
		}
		res := b.byIndex[h.GlobalIndex()]
		if res == nil {
			return nil, nil
		}
		if res.kmt != h || (res.fence != nil) != fence || res.km != nil {
			return nil, perr(CodeRestoreRefused, "%v: its %s %v is %s of another handle", r.KMT, what, h, res.kindName())
		}
		return res, nil
	}
	of, err := find(r.MutexOf, false, "resource")
	if err != nil {
		return nil, err
	}
	sync, err := find(r.MutexSync, true, "sync object")
	if err != nil {
		return nil, err
	}
	mo := b.byIndex[r.KMT.GlobalIndex()]
	if mo != nil {
		if mo.kmt != r.KMT || mo.km == nil || mo.km.ofKMT != r.MutexOf || mo.km.syncKMT != r.MutexSync {
			return nil, perr(CodeRestoreRefused, "%v names %s, not this keyed mutex", r.KMT, mo.kindName())
		}
		if r.Flags&restoreCreator != 0 && mo.creator != c {
			b.charge(mo.chargeConn, mo.chargeUID, 1, 0, false)
			mo.creator, mo.creatorPID, mo.chargeConn, mo.chargeUID, mo.data = c, c.pid, c, c.uid, slices.Clone(r.Data)
			b.charge(c, c.uid, 1, 0, true)
		}
	} else {
		switch {
		case of != nil && of.boundMutex != nil:
			return nil, perr(CodeRestoreRefused, "%v: resource %v has keyed mutex %v", r.KMT, of.kmt, of.boundMutex.kmt)
		case b.live >= b.maxResources():
			return nil, perr(CodeLimit, "%d resources exist", b.live)
		}
		if err := b.checkQuota(c, 0); err != nil {
			return nil, err
		}
		mo = &resource{kmt: r.KMT, index: r.KMT.GlobalIndex(), memFD: -1, data: slices.Clone(r.Data),
			holders: map[*brokerConn]int{}, chargeConn: c, chargeUID: c.uid}
		if r.Flags&restoreCreator != 0 {
			mo.creator, mo.creatorPID = c, c.pid
		}
		b.charge(c, c.uid, 1, 0, true)
		b.byIndex[mo.index] = mo
		b.live++
		mo.km = &mutexObject{ofKMT: r.MutexOf, syncKMT: r.MutexSync}
		b.bindMutex(mo, of, sync)
		for _, h := range []bridge.Handle{r.MutexOf, r.MutexSync} {
			if h != 0 && b.byIndex[h.GlobalIndex()] == nil {
				if b.awaitingBind == nil {
					b.awaitingBind = map[bridge.Handle]*resource{}
				}
				b.awaitingBind[h] = mo
			}
		}
	}
	for range r.KMTRefs {
		b.addKMTRef(c, mo)
	}
	var refused uint32
	if !b.restoreMutex(c, mo, r, late) {
		refused |= restoreMutexRefused
	}
	b.restored++
	c.log.Debug("keyed mutex restored", "kmt", mo.kmt, "resource", r.MutexOf, "sync", r.MutexSync, "refused", refused)
	return fixedPayload(uint32(mo.kmt), refused), nil
}

// CreateKeyedMutex makes a keyed-mutex object with private runtime data
// (D3DKMTCreateKeyedMutex2), held through its KMT handle. With resource
// not 0 (a handle of this connection's to a resource it created, whose
// mutex is unused) it is that resource's keyed mutex; with sync not 0 (a
// handle to a fence) that fence is its sync object. Record both handles
// in the resource's DXGI runtime descriptor before sharing it.
func (c *Client) CreateKeyedMutex(resource, sync bridge.Handle, data []byte) (KeyedMutex, error) {
	if err := checkDataLen(len(data)); err != nil {
		return KeyedMutex{}, withOp("create-keyed-mutex", err)
	}
	q := request{header: header{Type: msgCreateKeyedMutex}, Handle: resource, Sync: sync, Data: data}
	return c.keyedMutex("create-keyed-mutex", q)
}

// keyedMutex sends q, a create or open, and decodes the mutex's record.
func (c *Client) keyedMutex(op string, q request) (KeyedMutex, error) {
	r, err := c.roundTrip(op, q, nil)
	if err != nil {
		return KeyedMutex{}, err
	}
	if err := r.checkFDs(0); err != nil {
		return KeyedMutex{}, r.fail(op, err)
	}
	m, err := decodeKeyedMutexRecord(r.payload)
	if err != nil {
		return KeyedMutex{}, r.fail(op, err)
	}
	return m, nil
}

// OpenKeyedMutex opens the keyed-mutex object kmt names
// (D3DKMTOpenKeyedMutex2): a reference through kmt, with its resource's
// and sync object's handles and its private data.
func (c *Client) OpenKeyedMutex(kmt bridge.Handle) (KeyedMutex, error) {
	return c.keyedMutex("open-keyed-mutex", request{header: header{Type: msgOpenKeyedMutex}, Handle: kmt})
}

// ListKeyedMutexes returns every live keyed-mutex object, with its
// holder, waiters and last release, for glshare ls.
func (c *Client) ListKeyedMutexes() ([]KeyedMutexInfo, error) {
	var out []KeyedMutexInfo
	for cursor := uint32(0); ; {
		q := request{header: header{Type: msgListFences}, Cursor: cursor, ListFlags: listFencesFlagKeyedMutexes}
		r, err := c.roundTrip("list-keyed-mutexes", q, nil)
		if err != nil {
			return nil, err
		}
		next, page, err := decodeMutexList(r.payload)
		if err != nil {
			return nil, r.fail("list-keyed-mutexes", err)
		}
		out = append(out, page...)
		if next == 0 {
			return out, nil
		}
		if next <= cursor {
			return nil, r.fail("list-keyed-mutexes", fmt.Errorf("cursor went from %d to %d", cursor, next))
		}
		cursor = next
	}
}
