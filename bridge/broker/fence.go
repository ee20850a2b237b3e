package broker

import (
	"fmt"
	"slices"
	"time"

	"github.com/glbridge/glbridge/bridge"
	"github.com/glbridge/glbridge/internal/fdutil"
)

// This file is shared fences (docs/protocol.md, "Fences"): ID3D11Fence,
// ID3D12Fence and D3DKMT synchronization objects shared between
// processes. A fence is an object of the broker's like a resource, in the
// same table: it has a KMT handle of the same shape and index space (as
// D3DKMT global handles name resources and sync objects alike), NT
// handles, names in the same namespace with the same access masks, and
// the same lifetime (the last reference frees it, a dead connection's
// references go). What it has instead of memory is a 64-bit value, kept
// here for drivers without semaphore fds (the fallback path: CPU signals
// and waits through the broker), and optionally a timeline semaphore fd
// its creator exported, handed to every opener (the GPU path, where the
// semaphore holds the value and the broker keeps only what a rewind
// needs: the offset between the D3D value and the semaphore's).
//
// D3D12 lets ID3D12Fence::Signal set a lower value than the current one;
// a timeline semaphore cannot go down. As vkd3d-proton does with its
// "virtual" values, the semaphore's (physical) value is the fence's value
// plus an offset that only grows: a lowering on the GPU path raises the
// offset (SIGNAL_FENCE with REBASE), so that the semaphore stays where it
// is and later values count up from the lowered one. The broker keeps the
// offset and reports it with every value; on the fallback path it stays 0.

// Message types (version 2).
const (
	// msgCreateFence registers a fence: its initial value and optionally
	// its timeline semaphore fd.
	msgCreateFence msgType = 17
	// msgOpenFence opens a fence by KMT handle, by name or by a
	// DUPLICATE's token.
	msgOpenFence msgType = 18
	// msgSignalFence sets the value (a CPU signal, lower values included).
	msgSignalFence msgType = 19
	// msgWaitFence waits until the value reaches a given one.
	msgWaitFence msgType = 20
	// msgGetFence returns the value.
	msgGetFence msgType = 21
	// msgListFences enumerates the live fences, for glshare ls.
	msgListFences msgType = 22
	// msgRestoreFence brings a fence back after a broker restart.
	msgRestoreFence msgType = 23
)

// CodeWrongType (version 2) is the code for a request made of an object of
// the other kind: a fence operation on a resource's handle, a resource
// operation (OPEN_KMT, OPEN_NAME, QUERY, the keyed mutex...) on a fence's,
// as Windows answers STATUS_OBJECT_TYPE_MISMATCH. In a version-1 reply it
// is CodeInvalid (version 1 has no fences, so only a handle a version-2
// client made can bring it about).
const CodeWrongType Code = 22

// objectTypeFence is the type NtQueryObject reports for a fence's NT
// handle, as for a D3DKMT synchronization object on Windows.
const objectTypeFence = "DxgkSharedSyncObject"

// Payload sizes and limits of the fence messages.
const (
	createFenceSize    = 16
	openFenceFixed     = 24
	signalFenceSize    = 24
	waitFenceSize      = 16
	getFenceSize       = 8
	listFencesSize     = 8
	fenceValueSize     = 24
	fenceRecordFixed   = 48
	fenceEntryFixed    = 52
	restoreFenceFixed  = 48
	restoreFenceNTSize = 12
	// maxFenceWaitsPerConn bounds the WAIT_FENCEs one connection has
	// waiting, each a timer and a parked reply in the broker.
	maxFenceWaitsPerConn = 256
	// signalFlagRebase is bit 0 of SIGNAL_FENCE's flags: the request also
	// sets the offset (a lowering on the GPU path).
	signalFlagRebase = 1
	// signalFlagHost is bit 1: the broker signals a service fence's
	// semaphore itself (fenceservice.go), for a client that cannot.
	signalFlagHost = 2
	// Flags of a LIST_FENCES entry.
	fenceEntryCreator  = 1
	fenceEntryTimeline = 2
	fenceEntryService  = 4
	// restoreFenceService is RESTORE_FENCE's flag for a service fence
	// (fenceservice.go): its device's UUIDs follow the fence value, and
	// the broker imports the semaphore on its helper device of them.
	restoreFenceService = 1 << 6
	// restoreFenceFlagsKnown are RESTORE_FENCE's flags.
	restoreFenceFlagsKnown = restoreCreator | restoreFenceService
)

// fenceState is a fence's value as the broker keeps it. signals counts
// the signals (and rebases) it saw, so that after a restart the claim of
// the holder that saw the most is taken as the latest, whatever the
// values (which may have gone down).
type fenceState struct {
	value, signals, offset uint64
	waiters                []*fenceWaiter // in arrival order
	// service is the semaphore of a fence the broker allocated it for
	// (fenceservice.go), nil otherwise.
	service *serviceSemaphore
}

// fenceWaiter is a WAIT_FENCE waiting for its value.
type fenceWaiter struct {
	owner mutexOwner
	value uint64
	req   header
	timer *time.Timer // nil for an infinite wait
}

// FenceValue is a fence's state as every fence reply reports it.
type FenceValue struct {
	// Value is the fence's value (ID3D12Fence::GetCompletedValue on the
	// fallback path, where the broker keeps it).
	Value uint64
	// Signals counts the signals the broker has seen of the fence (mod
	// 2^64): a reconnecting Client restores the value it learnt with the
	// most signals.
	Signals uint64
	// Offset is what the fence's timeline semaphore counts above Value
	// (physical = Value + Offset): 0 until a lowering on the GPU path
	// (RebaseFence). A GPU wait or signal of value v uses v + Offset.
	Offset uint64
}

func appendFenceValue(b []byte, v FenceValue) []byte {
	b = le.AppendUint64(b, v.Value)
	b = le.AppendUint64(b, v.Signals)
	return le.AppendUint64(b, v.Offset)
}

func decodeFenceValue(p []byte) (FenceValue, error) {
	if len(p) != fenceValueSize {
		return FenceValue{}, perr(CodeBadMessage, "fence value reply of %d bytes, want %d", len(p), fenceValueSize)
	}
	return FenceValue{Value: le.Uint64(p), Signals: le.Uint64(p[8:]), Offset: le.Uint64(p[16:])}, nil
}

func (f *fenceState) valueReply() []byte {
	return appendFenceValue(nil, FenceValue{Value: f.value, Signals: f.signals, Offset: f.offset})
}

// fenceRecord is an OPEN_FENCE reply: the new handle, what it grants and
// was made with, the object's name path, whether a timeline semaphore fd
// comes with it, and the value.
type fenceRecord struct {
	Handle, KMT  bridge.Handle
	Access, Mask bridge.Access
	Kind         syncKind // 0 or syncTimeline
	// Service says the broker holds the semaphore (a service fence).
	Service bool
	Path    string
	FenceValue
}

// fenceRecordService is the bit of a fence record's sync-kind word that
// says the broker allocated, and holds, the semaphore.
const fenceRecordService = 1 << 16

func appendFenceRecord(b []byte, r fenceRecord) []byte {
	kind := uint32(r.Kind)
	if r.Service {
		kind |= fenceRecordService
	}
	for _, v := range [...]uint32{uint32(r.Handle), uint32(r.KMT), uint32(r.Access), uint32(r.Mask), kind, uint32(len(r.Path))} {
		b = le.AppendUint32(b, v)
	}
	b = appendFenceValue(b, r.FenceValue)
	return append(b, r.Path...)
}

func decodeFenceRecord(p []byte) (fenceRecord, error) {
	r := rd{b: p}
	f := fenceRecord{Handle: bridge.Handle(r.u32()), KMT: bridge.Handle(r.u32()), Access: bridge.Access(r.u32()), Mask: bridge.Access(r.u32())}
	kind := r.u32()
	f.Kind, f.Service = syncKind(kind&^fenceRecordService), kind&fenceRecordService != 0
	n := r.u32()
	f.Value, f.Signals, f.Offset = r.u64(), r.u64(), r.u64()
	if r.bad || (f.Kind != 0 && f.Kind != syncTimeline) || f.Service && f.Kind == 0 || n > maxObjectPath || int(n) != r.rest() || !f.Access.Valid() {
		return f, perr(CodeBadMessage, "fence record: kind %d, path of %d bytes in %d", f.Kind, n, len(p))
	}
	f.Path = string(r.take(int(n)))
	return f, nil
}

// fenceEntry is one fence in a LIST_FENCES reply.
type fenceEntry struct {
	KMT           bridge.Handle
	CreatorPID    int32
	Refs          uint32
	NTHandles     uint32
	Waiters       uint32
	CreatorActive bool
	Timeline      bool
	Service       bool
	FenceValue
	Names []string
}

func appendFenceEntry(b []byte, e fenceEntry) []byte {
	var flags uint32
	if e.CreatorActive {
		flags |= fenceEntryCreator
	}
	if e.Timeline {
		flags |= fenceEntryTimeline
	}
	if e.Service {
		flags |= fenceEntryService
	}
	for _, v := range [...]uint32{uint32(e.KMT), uint32(e.CreatorPID), e.Refs, e.NTHandles, e.Waiters, flags} {
		b = le.AppendUint32(b, v)
	}
	b = appendFenceValue(b, e.FenceValue)
	b = le.AppendUint16(b, uint16(len(e.Names)))
	b = le.AppendUint16(b, 0)
	for _, s := range e.Names {
		b = le.AppendUint16(b, uint16(len(s)))
		b = append(b, s...)
	}
	return b
}

func decodeFenceList(p []byte) (next uint32, entries []fenceEntry, err error) {
	r := rd{b: p}
	next = r.u32()
	count := r.u32()
	if r.bad || uint64(count)*fenceEntryFixed > uint64(r.rest()) {
		return 0, nil, perr(CodeBadMessage, "fence list: %d entries in %d bytes", count, len(p))
	}
	for range count {
		e := fenceEntry{KMT: bridge.Handle(r.u32()), CreatorPID: int32(r.u32()), Refs: r.u32(), NTHandles: r.u32(), Waiters: r.u32()}
		flags := r.u32()
		e.Value, e.Signals, e.Offset = r.u64(), r.u64(), r.u64()
		nn, res := r.u16(), r.u16()
		if r.bad || flags&^(fenceEntryCreator|fenceEntryTimeline|fenceEntryService) != 0 || flags&fenceEntryService != 0 && flags&fenceEntryTimeline == 0 ||
			res != 0 || nn > maxNamesPerResource {
			return 0, nil, perr(CodeBadMessage, "fence list: bad entry")
		}
		e.CreatorActive, e.Timeline, e.Service = flags&fenceEntryCreator != 0, flags&fenceEntryTimeline != 0, flags&fenceEntryService != 0
		for range nn {
			l := r.u16()
			e.Names = append(e.Names, string(r.take(int(l))))
		}
		if r.bad {
			return 0, nil, perr(CodeBadMessage, "fence list truncated")
		}
		entries = append(entries, e)
	}
	if r.rest() != 0 {
		return 0, nil, perr(CodeBadMessage, "fence list has %d stray bytes", r.rest())
	}
	return next, entries, nil
}

// fenceKindFDs is the number of fds a fence of kind k travels with.
func fenceKindFDs(k syncKind) uint32 {
	if k == syncTimeline {
		return 1
	}
	return 0
}

// checkFenceKind refuses a sync kind a fence cannot have: a fence is a
// timeline, so its semaphore is one or there is none.
func checkFenceKind(k syncKind) error {
	if k != 0 && k != syncTimeline {
		return perr(CodeInvalid, "sync kind %d: a fence has a timeline semaphore (2) or none (0)", k)
	}
	return nil
}

// decodeFenceRequest decodes the payload of the messages of this file into
// q; r is past the header. It reports false for another type.
func decodeFenceRequest(q *request, r *rd) (bool, error) {
	if q.Type < msgCreateFence || q.Type > msgRestoreFence {
		return false, nil
	}
	if q.Version < protocolVersion {
		return true, perr(CodeUnknownType, "%v is version %d's; the request is version %d", q.Type, protocolVersion, q.Version)
	}
	reserved := func(v uint32) error {
		if !r.bad && v != 0 {
			return perr(CodeBadMessage, "reserved field is %#x, must be 0", v)
		}
		return nil
	}
	switch q.Type {
	case msgCreateFence:
		q.FenceFlags = r.u32()
		q.Kind, q.Value = syncKind(r.u32()), r.u64()
		if err := reserved(q.FenceFlags &^ createFenceService); err != nil {
			return true, err
		}
		if r.bad {
			break
		}
		if err := checkFenceKind(q.Kind); err != nil {
			return true, err
		}
		q.SyncCount = fenceKindFDs(q.Kind)
		if q.FenceFlags&createFenceService != 0 {
			// The broker makes the semaphore: none comes with the
			// request, and the device to make it on follows.
			if q.Kind != syncTimeline {
				return true, perr(CodeInvalid, "a service fence is a timeline semaphore: sync kind %d", q.Kind)
			}
			copy(q.Device.Driver[:], r.take(16))
			copy(q.Device.Device[:], r.take(16))
			q.SyncCount = 0
		}
	case msgOpenFence:
		q.Handle, q.Access = bridge.Handle(r.u32()), bridge.Access(r.u32())
		nlen, res := r.u32(), r.u32()
		q.Token = r.u64()
		if r.bad {
			break
		}
		if err := reserved(res); err != nil {
			return true, err
		}
		if err := checkNameLen(int(nlen)); err != nil {
			return true, err
		}
		q.Name = string(r.take(int(nlen)))
		ways := 0
		for _, set := range []bool{q.Handle != 0, nlen != 0, q.Token != 0} {
			if set {
				ways++
			}
		}
		switch {
		case ways != 1:
			return true, perr(CodeInvalid, "OPEN_FENCE names %d ways to open (kmt, name, token): exactly one", ways)
		case nlen == 0 && q.Access != 0:
			return true, perr(CodeInvalid, "access %#x: only an open by name asks for access", uint32(q.Access))
		}
	case msgSignalFence:
		q.Handle, q.FenceFlags, q.Value, q.Offset = bridge.Handle(r.u32()), r.u32(), r.u64(), r.u64()
		if r.bad {
			break
		}
		if q.FenceFlags&^(signalFlagRebase|signalFlagHost) != 0 {
			return true, perr(CodeBadMessage, "unknown signal flags %#x", q.FenceFlags&^(signalFlagRebase|signalFlagHost))
		}
		if q.FenceFlags == signalFlagRebase|signalFlagHost {
			return true, perr(CodeInvalid, "REBASE and HOST together: with HOST the broker sets the offset")
		}
		if q.FenceFlags&signalFlagRebase == 0 && q.Offset != 0 {
			return true, perr(CodeBadMessage, "offset %d without REBASE", q.Offset)
		}
	case msgWaitFence:
		q.Handle, q.TimeoutMS, q.Value = bridge.Handle(r.u32()), r.u32(), r.u64()
	case msgGetFence:
		q.Handle = bridge.Handle(r.u32())
		if err := reserved(r.u32()); err != nil {
			return true, err
		}
	case msgListFences:
		q.Cursor, q.ListFlags = r.u32(), r.u32()
		if err := reserved(q.ListFlags &^ listFencesFlagKeyedMutexes); err != nil {
			return true, err
		}
	case msgRestoreFence:
		var err error
		if q.Restore, err = r.restoreFence(); err != nil {
			return true, err
		}
		q.SyncCount = uint32(len(q.Restore.Kinds))
	}
	return true, nil
}

// appendFenceRequest encodes the payload of the messages of this file; it
// reports false for another type. It sets q's SyncCount from the kind, for
// the header's fd count.
func appendFenceRequest(p []byte, q *request) ([]byte, bool) {
	switch q.Type {
	case msgCreateFence:
		p = le.AppendUint32(p, q.FenceFlags)
		p = le.AppendUint32(p, uint32(q.Kind))
		p = le.AppendUint64(p, q.Value)
		q.SyncCount = fenceKindFDs(q.Kind)
		if q.FenceFlags&createFenceService != 0 {
			p = append(p, q.Device.Driver[:]...)
			p = append(p, q.Device.Device[:]...)
			q.SyncCount = 0
		}
	case msgOpenFence:
		p = le.AppendUint32(p, uint32(q.Handle))
		p = le.AppendUint32(p, uint32(q.Access))
		p = le.AppendUint32(p, uint32(len(q.Name)))
		p = le.AppendUint32(p, 0)
		p = le.AppendUint64(p, q.Token)
		p = append(p, q.Name...)
	case msgSignalFence:
		p = le.AppendUint32(p, uint32(q.Handle))
		p = le.AppendUint32(p, q.FenceFlags)
		p = le.AppendUint64(p, q.Value)
		p = le.AppendUint64(p, q.Offset)
	case msgWaitFence:
		p = le.AppendUint32(p, uint32(q.Handle))
		p = le.AppendUint32(p, q.TimeoutMS)
		p = le.AppendUint64(p, q.Value)
	case msgGetFence:
		p = le.AppendUint32(p, uint32(q.Handle))
		p = le.AppendUint32(p, 0)
	case msgListFences:
		p = le.AppendUint32(p, q.Cursor)
		p = le.AppendUint32(p, q.ListFlags)
	case msgRestoreFence:
		p = appendRestoreFence(p, q.Restore)
		q.SyncCount = uint32(len(q.Restore.Kinds))
	default:
		return p, false
	}
	return p, true
}

// appendRestoreFence encodes a RESTORE_FENCE payload. Kinds is empty or
// [syncTimeline].
func appendRestoreFence(p []byte, r restoreReq) []byte {
	var kind syncKind
	if len(r.Kinds) > 0 {
		kind = r.Kinds[0]
	}
	// NT claims always name their object here: the flag RESTORE needs for
	// that is implied, and not on the wire.
	for _, v := range [...]uint32{uint32(r.KMT), r.Flags &^ restoreNTNames, r.KMTRefs, uint32(len(r.NT)), uint32(len(r.Names)), uint32(kind)} {
		p = le.AppendUint32(p, v)
	}
	p = appendFenceValue(p, r.Fence)
	if r.Flags&restoreFenceService != 0 {
		p = append(p, r.Device.Driver[:]...)
		p = append(p, r.Device.Device[:]...)
	}
	for _, n := range r.NT {
		p = le.AppendUint32(p, uint32(n.Handle))
		p = le.AppendUint32(p, uint32(n.Access))
		p = le.AppendUint32(p, n.Name)
	}
	for _, n := range r.Names {
		p = le.AppendUint32(p, uint32(n.Access))
		p = le.AppendUint32(p, uint32(len(n.Name)))
		p = append(p, n.Name...)
	}
	return p
}

func (r *rd) restoreFence() (restoreReq, error) {
	var q restoreReq
	q.KMT, q.Flags, q.KMTRefs = bridge.Handle(r.u32()), r.u32(), r.u32()
	ntCount, nameCount, kind := r.u32(), r.u32(), syncKind(r.u32())
	q.Fence = FenceValue{Value: r.u64(), Signals: r.u64(), Offset: r.u64()}
	if r.bad {
		return q, perr(CodeBadMessage, "restore-fence payload truncated")
	}
	switch {
	case q.Flags&^restoreFenceFlagsKnown != 0:
		return q, perr(CodeBadMessage, "unknown restore-fence flags %#x", q.Flags&^restoreFenceFlagsKnown)
	case ntCount > maxRestoreNT:
		return q, perr(CodeLimit, "%d NT handles in one restore, at most %d", ntCount, maxRestoreNT)
	case nameCount > maxNamesPerResource:
		return q, perr(CodeLimit, "%d names, a fence has at most %d", nameCount, maxNamesPerResource)
	}
	if err := checkFenceKind(kind); err != nil {
		return q, err
	}
	if kind != 0 {
		q.Kinds = []syncKind{kind}
	}
	if q.Flags&restoreFenceService != 0 {
		if kind != syncTimeline {
			return q, perr(CodeInvalid, "a service fence is a timeline semaphore: sync kind %d", kind)
		}
		copy(q.Device.Driver[:], r.take(16))
		copy(q.Device.Device[:], r.take(16))
	}
	var err error
	if q.NT, q.Names, err = r.claims(ntCount, nameCount, true); err != nil {
		return q, err
	}
	// NT claims always carry their name index, so the flag that says so
	// for RESTORE is implied.
	q.Flags |= restoreNTNames
	return q, nil
}

// objectType is what QUERY_OBJECT reports for an NT handle to res.
func (res *resource) objectType() string {
	if res.fence != nil {
		return objectTypeFence
	}
	return objectTypeResource
}

// wrongType refuses q, a request that works on one kind of object, when
// res is of the other kind.
func wrongType(q request, res *resource) error {
	switch q.Type {
	case msgCreateFence, msgOpenFence, msgSignalFence, msgWaitFence, msgGetFence, msgListFences, msgRestoreFence:
		if res.fence == nil {
			return perr(CodeWrongType, "%v is %s, not a fence", res.kmt, res.kindName())
		}
	case msgOpenKeyedMutex, msgRestoreKeyedMutex:
		if res.km == nil {
			return perr(CodeWrongType, "%v is %s, not a keyed mutex", res.kmt, res.kindName())
		}
	case msgAcquireSync, msgReleaseSync:
		// A resource's keyed mutex, or a keyed-mutex object.
		if res.fence != nil {
			return perr(CodeWrongType, "%v is a fence; %v works on keyed mutexes", res.kmt, q.Type)
		}
	default:
		if res.fence != nil || res.km != nil {
			return perr(CodeWrongType, "%v is %s; %v works on resources", res.kmt, res.kindName(), q.Type)
		}
	}
	return nil
}

// createFence is CREATE_FENCE: a new fence of c's with q.Value, and the
// timeline semaphore fd that came with it, if any (which it owns on
// success).
func (b *Broker) createFence(c *brokerConn, q request, fds []int) (*resource, error) {
	for i := range fds {
		if err := checkFD(fds[i], "fence semaphore"); err != nil {
			return nil, err
		}
	}
	if err := b.roomForResource(c, 0); err != nil {
		return nil, err
	}
	var syncs []syncObj
	for _, fd := range fds {
		syncs = append(syncs, syncObj{fd: fd, kind: syncTimeline})
	}
	res := b.register(c, bridge.Allocation{}, -1, syncs, nil)
	res.gl = glSection{}
	res.fence = &fenceState{value: q.Value}
	return res, nil
}

// fenceLookup finds the fence h names for c.
func (b *Broker) fenceLookup(c *brokerConn, q request) (*resource, bridge.Access, error) {
	res, have, err := b.lookup(c, q.Handle, false)
	if err != nil {
		return nil, 0, err
	}
	if err := wrongType(q, res); err != nil {
		return nil, 0, err
	}
	return res, have, nil
}

// record is the OPEN_FENCE reply for handle h of c's to res.
func (res *resource) fenceRecord(h bridge.Handle, access, mask bridge.Access, path string) []byte {
	f := res.fence
	r := fenceRecord{Handle: h, KMT: res.kmt, Access: access, Mask: mask, Path: path,
		FenceValue: FenceValue{Value: f.value, Signals: f.signals, Offset: f.offset}}
	if len(res.syncs) > 0 {
		r.Kind = syncTimeline
	}
	r.Service = f.service != nil
	return appendFenceRecord(nil, r)
}

// openFence is OPEN_FENCE: by KMT handle (a reference through it), by
// name or by token (a new NT handle); the reply carries the semaphore fd.
func (b *Broker) openFence(c *brokerConn, q request) ([]byte, []int, error) {
	switch {
	case q.Handle != 0:
		res, err := b.openableKMT(c, q)
		if err != nil {
			return nil, nil, err
		}
		fds, err := res.dupFDs()
		if err != nil {
			return nil, nil, err
		}
		b.addKMTRef(c, res)
		return res.fenceRecord(res.kmt, bridge.AccessReadWrite, bridge.AccessReadWrite, ""), fds, nil
	case q.Name != "":
		e, access, mask, err := b.openableName(c, q, "fence")
		if err != nil {
			return nil, nil, err
		}
		return b.openFenceNT(c, e.res, access, mask, e.name)
	}
	t, err := b.redeemable(c, q, "")
	if err != nil {
		return nil, nil, err
	}
	p, fds, err := b.openFenceNT(c, t.res, t.access, t.mask, t.name)
	if err == nil {
		b.dropTransfer(t)
	}
	return p, fds, err
}

func (b *Broker) openFenceNT(c *brokerConn, res *resource, access, mask bridge.Access, name objectName) ([]byte, []int, error) {
	nt, fds, err := b.newNTWithFDs(c, res, access, mask, name)
	if err != nil {
		return nil, nil, err
	}
	return res.fenceRecord(nt, access, mask, name.path), fds, nil
}

// signalFence is SIGNAL_FENCE: the value becomes q.Value, lower or
// higher (D3D12 allows both), and with REBASE the offset q.Offset, which
// may not go down; the waiters the new value reaches are answered.
func (b *Broker) signalFence(c *brokerConn, q request, late *[]lateReply) ([]byte, error) {
	res, have, err := b.fenceLookup(c, q)
	if err != nil {
		return nil, err
	}
	if err := needWrite(q.Handle, have, "SIGNAL_FENCE"); err != nil {
		return nil, err
	}
	f := res.fence
	if q.FenceFlags&signalFlagRebase != 0 {
		if q.Offset < f.offset {
			return nil, perr(CodeInvalid, "offset %d is below the fence's %d: the semaphore cannot go down", q.Offset, f.offset)
		}
		f.offset = q.Offset
	} else if q.FenceFlags&signalFlagHost != 0 {
		if f.service == nil {
			return nil, perr(CodeNoSemaphore, "%v is no service fence: the broker holds no semaphore of it to signal", res.kmt)
		}
		if err := f.signalService(q.Value); err != nil {
			return nil, err
		}
	}
	f.value = q.Value
	f.signals++
	b.wakeFence(res, late)
	return f.valueReply(), nil
}

// wakeFence answers every waiter of res whose value the fence reached.
func (b *Broker) wakeFence(res *resource, late *[]lateReply) {
	f := res.fence
	f.waiters = slices.DeleteFunc(f.waiters, func(w *fenceWaiter) bool {
		if f.value < w.value {
			return false
		}
		w.stop()
		w.owner.c.fenceWaits--
		b.queueLate(late, w.owner.c, replyTo(w.req, 0, f.valueReply(), 0))
		return true
	})
}

// waitFence is WAIT_FENCE: answered at once when the value is q.Value or
// more, TIMEOUT at once for a timeout of 0, and otherwise parked until a
// signal reaches it, its timeout passes or its handle is closed.
func (b *Broker) waitFence(c *brokerConn, q request) ([]byte, bool, error) {
	res, _, err := b.fenceLookup(c, q)
	if err != nil {
		return nil, false, err
	}
	f := res.fence
	f.readService()
	if f.value >= q.Value {
		return f.valueReply(), false, nil
	}
	if q.TimeoutMS == 0 {
		return nil, false, fenceTimeout(res, q.Value)
	}
	if c.fenceWaits >= maxFenceWaitsPerConn {
		return nil, false, perr(CodeLimit, "this connection has %d fence waits waiting", c.fenceWaits)
	}
	w := &fenceWaiter{owner: b.owner(c, q.Handle, res), value: q.Value, req: q.header}
	f.waiters = append(f.waiters, w)
	c.fenceWaits++
	switch {
	case f.service != nil:
		// GPU signals do not pass through the broker: it waits on the
		// semaphore, which answers the timeout too.
		b.waitService(res, w, q.TimeoutMS)
	case q.TimeoutMS != infiniteTimeoutMS:
		w.timer = time.AfterFunc(time.Duration(q.TimeoutMS)*time.Millisecond, func() { b.expireFence(res, w) })
	}
	return nil, true, nil
}

func fenceTimeout(res *resource, want uint64) error {
	return perr(CodeTimeout, "fence %v is at %d, not %d", res.kmt, res.fence.value, want)
}

// expireFence is a fence waiter's timer: TIMEOUT, unless it was answered
// or removed meanwhile.
func (b *Broker) expireFence(res *resource, w *fenceWaiter) {
	late, unlock := b.lock()
	defer unlock()
	if !res.fence.dropWaiter(w) {
		return
	}
	be := fenceTimeout(res, w.value).(*Error)
	b.queueLate(late, w.owner.c, errorReply(w.req, be.Code, be.Detail))
}

// leaveFence ends the waits of the owners gone picks, answered NOT_FOUND
// (a queued reply to a dead connection is dropped), for a handle closed or
// a connection ended.
func (b *Broker) leaveFence(res *resource, gone func(mutexOwner) bool, why string, late *[]lateReply) {
	f := res.fence
	if f == nil {
		return
	}
	f.waiters = slices.DeleteFunc(f.waiters, func(w *fenceWaiter) bool {
		if !gone(w.owner) {
			return false
		}
		w.stop()
		w.owner.c.fenceWaits--
		b.queueLate(late, w.owner.c, errorReply(w.req, CodeNotFound, why+" while waiting"))
		return true
	})
}

func (w *fenceWaiter) stop() {
	if w.timer != nil {
		w.timer.Stop()
	}
}

// getFence is GET_FENCE.
func (b *Broker) getFence(c *brokerConn, q request) ([]byte, error) {
	res, _, err := b.fenceLookup(c, q)
	if err != nil {
		return nil, err
	}
	res.fence.readService()
	return res.fence.valueReply(), nil
}

// listFences encodes the fences from KMT index cursor on, as many as fit.
func (b *Broker) listFences(cursor uint32) []byte {
	return b.page(cursor, func(res *resource) []byte {
		f := res.fence
		if f == nil {
			return nil
		}
		return appendFenceEntry(nil, fenceEntry{KMT: res.kmt, CreatorPID: res.creatorPID, Refs: uint32(res.refs), NTHandles: uint32(res.nts),
			Waiters: uint32(len(f.waiters)), CreatorActive: res.creator != nil && !res.creator.dead, Timeline: len(res.syncs) > 0,
			Service: f.service != nil, FenceValue: FenceValue{Value: f.value, Signals: f.signals, Offset: f.offset}, Names: res.givenNames()})
	})
}

// restoreFence is RESTORE_FENCE: as RESTORE, for a fence. The value with
// the most signals claimed is taken (the latest a live holder saw, a
// lowering included), the offset is the largest claimed (it never goes
// down), and waiters sent again meanwhile are answered when it reaches
// theirs.
func (b *Broker) restoreFence(c *brokerConn, q request, fds []int, late *[]lateReply) (payload []byte, err error) {
	kept := false
	defer func() {
		if !kept {
			fdutil.CloseAll(fds)
		}
		if err == nil {
			b.restored++
		}
	}()
	r := q.Restore
	if err := b.restorable(r); err != nil {
		return nil, err
	}
	cl, err := b.checkRestoreClaims(c, r)
	if err != nil {
		return nil, err
	}
	res := b.byIndex[r.KMT.GlobalIndex()]
	if res != nil {
		if res.kmt != r.KMT || res.fence == nil {
			return nil, perr(CodeRestoreRefused, "%v names a live resource, not a fence", r.KMT)
		}
		if (len(res.syncs) > 0) != (len(r.Kinds) > 0) {
			return nil, perr(CodeRestoreRefused, "%v: the live fence and the restore disagree on its semaphore", r.KMT)
		}
		if r.Flags&restoreCreator != 0 && res.creator != c {
			b.charge(res.chargeConn, res.chargeUID, 1, res.charged, false)
			res.creator, res.creatorPID, res.chargeConn, res.chargeUID = c, c.pid, c, c.uid
			b.charge(c, c.uid, 1, res.charged, true)
		}
	} else {
		for _, fd := range fds {
			if err := checkFD(fd, "fence semaphore"); err != nil {
				return nil, err
			}
		}
		if b.live >= b.maxResources() {
			return nil, perr(CodeLimit, "%d resources exist", b.live)
		}
		if err := b.checkQuota(c, 0); err != nil {
			return nil, err
		}
		var syncs []syncObj
		for _, fd := range fds {
			syncs = append(syncs, syncObj{fd: fd, kind: syncTimeline})
		}
		kept = true
		res = &resource{kmt: r.KMT, index: r.KMT.GlobalIndex(), memFD: -1, syncs: syncs, holders: map[*brokerConn]int{},
			chargeConn: c, chargeUID: c.uid, fence: &fenceState{value: r.Fence.Value, signals: r.Fence.Signals, offset: r.Fence.Offset}}
		if r.Flags&restoreCreator != 0 {
			res.creator, res.creatorPID = c, c.pid
		}
		b.charge(c, c.uid, 1, 0, true)
		b.byIndex[res.index] = res
		b.live++
		b.bindRestored(res)
	}
	f := res.fence
	if r.Flags&restoreFenceService != 0 && f.service == nil && len(res.syncs) > 0 {
		b.adoptServiceFence(res, r.Device)
	}
	if r.Fence.Signals > f.signals {
		f.value, f.signals = r.Fence.Value, r.Fence.Signals
	}
	f.offset = max(f.offset, r.Fence.Offset)
	refused := b.applyRestoreClaims(c, res, r, cl)
	b.wakeFence(res, late)
	c.log.Debug("fence restored", "kmt", res.kmt, "value", f.value, "signals", f.signals, "refused", refused)
	return fixedPayload(uint32(res.kmt), refused), nil
}

// Fence is a fence as CreateFence's handle or an open names it.
type Fence struct {
	// Handle is the handle this connection holds: the KMT handle after
	// OpenFenceKMT, a new NT handle after OpenFenceName and
	// OpenFenceDuplicate. Close it with CloseHandle.
	Handle bridge.Handle
	// KMT is the fence's global handle.
	KMT bridge.Handle
	// Access is what Handle grants; Mask the access mask it was made
	// with; Name the path of its object's name ("" for none).
	Access, Mask bridge.Access
	Name         string
	// FD is the fence's timeline semaphore, a new fd owned by the caller
	// (close it, or give it to an import that takes it), or -1 for a
	// fence without one, whose value lives in the broker alone.
	FD int
	// Value is the fence's state when it was opened.
	Value FenceValue
	// Service says the broker allocated the semaphore and holds it
	// (CreateFenceService): SignalFence, WaitFence and GetFence then work
	// on the semaphore, so a process without Vulkan can use FD in GL for
	// its GPU waits and signals and the broker for the CPU's.
	Service bool
}

// FenceInfo is one fence as ListFences reports it.
type FenceInfo struct {
	// KMT is the fence's global handle; Names the names it is shared
	// under.
	KMT   bridge.Handle
	Names []string
	// CreatorPID is the creating process; CreatorConnected whether its
	// connection is open.
	CreatorPID       int32
	CreatorConnected bool
	// Refs counts the references keeping it alive, NTHandles the NT
	// handles among them.
	Refs, NTHandles int
	// Timeline says the fence has a timeline semaphore; Service that the
	// broker allocated it and holds it (CreateFenceService).
	Timeline, Service bool
	// Value is the value the broker keeps (on the GPU path, what CPU
	// signals set: the semaphore holds the GPU's).
	Value FenceValue
	// Waiters counts the WaitFence calls waiting.
	Waiters int
}

// CreateFence registers a fence with value initial and returns its KMT
// handle, which this connection holds until CloseHandle. semFD is the
// fence's timeline semaphore, exported as an opaque fd, which every
// opener receives a copy of; -1 for a fence whose value the broker alone
// keeps (drivers without semaphore fds). semFD stays the caller's.
func (c *Client) CreateFence(initial uint64, semFD int) (bridge.Handle, error) {
	q := request{header: header{Type: msgCreateFence}, Value: initial}
	var fds []int
	if semFD >= 0 {
		q.Kind, fds = syncTimeline, []int{semFD}
	}
	v, err := c.call("create fence", q, fds, 2)
	if err != nil {
		return 0, err
	}
	return bridge.Handle(v[0]), nil
}

func (c *Client) openFence(op string, q request) (Fence, error) {
	r, err := c.roundTrip(op, q, nil)
	if err != nil {
		return Fence{FD: -1}, err
	}
	rec, err := decodeFenceRecord(r.payload)
	if err == nil {
		err = r.checkFDs(int(fenceKindFDs(rec.Kind)))
	}
	if err != nil {
		return Fence{FD: -1}, r.fail(op, err)
	}
	f := Fence{Handle: rec.Handle, KMT: rec.KMT, Access: rec.Access, Mask: rec.Mask, Name: rec.Path, FD: -1, Value: rec.FenceValue, Service: rec.Service}
	if len(r.fds) > 0 {
		f.FD = r.fds[0]
	}
	return f, nil
}

// OpenFenceKMT opens a fence by its KMT handle (D3DKMTOpenSyncObject); the
// connection holds one more reference through kmt.
func (c *Client) OpenFenceKMT(kmt bridge.Handle) (Fence, error) {
	return c.openFence("open fence "+kmt.String(), request{header: header{Type: msgOpenFence}, Handle: kmt})
}

// OpenFenceName opens the fence shared under name with access (any
// rights, as for OpenName), as D3DKMTOpenSyncObjectNtHandleFromName
// does: Handle is a new NT handle.
func (c *Client) OpenFenceName(name string, access bridge.Access) (Fence, error) {
	op := fmt.Sprintf("open fence name %q", name)
	if err := checkNameLen(len(name)); err != nil {
		return Fence{FD: -1}, withOp(op, err)
	}
	return c.openFence(op, request{header: header{Type: msgOpenFence}, Name: name, Access: access})
}

// OpenFenceDuplicate redeems a Duplicate of a fence's NT handle.
func (c *Client) OpenFenceDuplicate(token uint64) (Fence, error) {
	return c.openFence(fmt.Sprintf("open fence duplicate %#x", token), request{header: header{Type: msgOpenFence}, Token: token})
}

func (c *Client) fenceValue(op string, q request) (FenceValue, error) {
	r, err := c.roundTrip(op, q, nil)
	if err != nil {
		return FenceValue{}, err
	}
	v, err := decodeFenceValue(r.payload)
	if err == nil {
		err = r.checkFDs(0)
	}
	if err != nil {
		return FenceValue{}, r.fail(op, err)
	}
	return v, nil
}

// SignalFence sets the fence's value through h (which must grant write),
// as ID3D12Fence::Signal does on the CPU: a lower value than the current
// one is allowed and sets it. Waiters the value reaches return.
func (c *Client) SignalFence(h bridge.Handle, value uint64) (FenceValue, error) {
	return c.fenceValue(fmt.Sprintf("signal fence %v to %d", h, value), request{header: header{Type: msgSignalFence}, Handle: h, Value: value})
}

// HostSignalFence is SignalFence for a process that cannot signal a
// service fence's semaphore itself (it has no Vulkan): the broker signals
// it to value (plus the offset), or for a lower value raises the offset,
// and the value becomes value. A fence that is no service fence is
// CodeNoSemaphore.
func (c *Client) HostSignalFence(h bridge.Handle, value uint64) (FenceValue, error) {
	return c.fenceValue(fmt.Sprintf("host-signal fence %v to %d", h, value),
		request{header: header{Type: msgSignalFence}, Handle: h, FenceFlags: signalFlagHost, Value: value})
}

// RebaseFence is SignalFence for a lowering on the GPU path: the value
// becomes value and the offset offset (physical = value + offset; it may
// not go down), so that the semaphore, which cannot, stays where it is.
func (c *Client) RebaseFence(h bridge.Handle, value, offset uint64) (FenceValue, error) {
	return c.fenceValue(fmt.Sprintf("rebase fence %v to %d+%d", h, value, offset),
		request{header: header{Type: msgSignalFence}, Handle: h, FenceFlags: signalFlagRebase, Value: value, Offset: offset})
}

// WaitFence waits in the broker until the fence's value is value or more,
// for at most timeout (0 only tests; InfiniteTimeout waits for ever), and
// then fails with an error matching bridge.ErrTimeout. Other calls on c
// proceed meanwhile.
func (c *Client) WaitFence(h bridge.Handle, value uint64, timeout time.Duration) (FenceValue, error) {
	return c.fenceValue(fmt.Sprintf("wait fence %v for %d", h, value),
		request{header: header{Type: msgWaitFence}, Handle: h, Value: value, TimeoutMS: timeoutMS(timeout)})
}

// timeoutMS is a timeout as the wire carries it: rounded up to a
// millisecond, infiniteTimeoutMS for a negative or huge one.
func timeoutMS(timeout time.Duration) uint32 {
	ms := uint32(infiniteTimeoutMS)
	if timeout >= 0 {
		if v := (timeout + time.Millisecond - 1) / time.Millisecond; v < infiniteTimeoutMS {
			ms = uint32(v)
		}
	}
	return ms
}

// GetFence returns the fence's state.
func (c *Client) GetFence(h bridge.Handle) (FenceValue, error) {
	return c.fenceValue("get fence "+h.String(), request{header: header{Type: msgGetFence}, Handle: h})
}

// ListFences returns every live fence, in KMT index order.
func (c *Client) ListFences() ([]FenceInfo, error) {
	var out []FenceInfo
	cursor := uint32(0)
	for {
		r, err := c.roundTrip("list fences", request{header: header{Type: msgListFences}, Cursor: cursor}, nil)
		if err != nil {
			return nil, err
		}
		if err := r.checkFDs(0); err != nil {
			return nil, r.fail("list fences", err)
		}
		next, entries, err := decodeFenceList(r.payload)
		if err != nil {
			return nil, withOp("list fences", err)
		}
		for _, e := range entries {
			out = append(out, FenceInfo{KMT: e.KMT, Names: e.Names, CreatorPID: e.CreatorPID, CreatorConnected: e.CreatorActive,
				Refs: int(e.Refs), NTHandles: int(e.NTHandles), Timeline: e.Timeline, Service: e.Service, Value: e.FenceValue, Waiters: int(e.Waiters)})
		}
		if next == 0 {
			return out, nil
		}
		if next <= cursor {
			return nil, &Error{Op: "list fences", Code: CodeBadMessage, Detail: fmt.Sprintf("cursor went from %d to %d", cursor, next)}
		}
		cursor = next
	}
}
