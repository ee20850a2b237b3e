package broker

import (
	"fmt"
	"slices"
	"time"

	"github.com/glbridge/glbridge/bridge"
	"github.com/glbridge/glbridge/internal/fdutil"
)

// This file is what makes a broker restart lose nothing a live process
// holds: the holders keep the truth (each resource's record, private
// data, fds, handles, names and keyed-mutex view), and after a restart
// each sends RESTORE for what it holds (docs/protocol.md, "13 RESTORE").
// A broker with a RestoreWindow accepts restorations for that long after
// it starts, and holds back new handles and names meanwhile, so that no
// new resource takes a number or name a returning one had.

// msgRestore (version 2) re-registers a resource a previous broker handed
// out, under its old KMT handle, names and NT handle values.
const msgRestore msgType = 13

// CodeRestoreRefused (version 2) is the code for a RESTORE the broker
// cannot take: its restore window is closed (or it has none), a
// different resource is live under the handle, or an NT handle value is
// in use on the connection. The resource then lives on in its holders'
// fds but no longer has a handle on the broker.
const CodeRestoreRefused Code = 21

// Flags of a RESTORE request.
const (
	// restoreCreator: this connection's process created the resource (or
	// had the broker allocate it): it may update its data and attach
	// semaphores again, and its private data wins over an opener's.
	restoreCreator = 1 << 0
	// restoreServiceAllocated: a broker allocated the memory (ALLOCATE).
	restoreServiceAllocated = 1 << 1
	// restoreMutexHeld: this connection holds the keyed mutex, through
	// MutexHandle, since an acquire that reported MutexEvents.
	restoreMutexHeld = 1 << 2
	// restoreMutexReleased: this connection's last act on the keyed
	// mutex was a release with MutexKey and MutexValue, the
	// MutexEvents-th event of the mutex.
	restoreMutexReleased = 1 << 3
	// restoreNTNames: each NT handle claim is 12 bytes, the third word
	// naming the object the handle is to (0 none, i+1 the request's name
	// i), so that QUERY_OBJECT reports the same name after the restart.
	// Without it claims are 8 bytes and their handles unnamed, as
	// clients before QUERY_OBJECT send them.
	restoreNTNames = 1 << 4
	// restoreMutexAbandoned: an acquire of this connection was told the
	// keyed mutex is abandoned, which it stays for good.
	restoreMutexAbandoned = 1 << 5
	restoreFlagsKnown     = restoreCreator | restoreServiceAllocated | restoreMutexHeld | restoreMutexReleased | restoreNTNames | restoreMutexAbandoned
)

// restoreFixed is the size of a RESTORE payload before its sync kinds.
const restoreFixed = 56 + allocationSize

// maxRestoreNT bounds the NT handles one RESTORE brings back; a
// connection with more to one resource sends the rest in further
// RESTOREs of it.
const maxRestoreNT = 256

// restoreMutexRefused is bit 31 of a RESTORE reply's refused mask: the
// keyed-mutex claim was not taken (another connection holds it).
const restoreMutexRefused = 1 << 31

// restoreReq is a RESTORE request's body.
type restoreReq struct {
	KMT     bridge.Handle
	Flags   uint32
	KMTRefs uint32
	// MutexHandle is the handle the mutex is held through (MutexHeld).
	MutexHandle bridge.Handle
	// MutexKey and MutexValue: for MutexHeld the key acquired with and
	// the value learnt; for MutexReleased the release's.
	MutexKey, MutexValue uint64
	MutexEvents          uint32
	Alloc                bridge.Allocation
	Kinds                []syncKind
	NT                   []ntClaim
	Names                []nameClaim
	Data                 []byte
	// Fence is restore-fence's claim of the fence's state.
	Fence FenceValue
	// MutexOf and MutexSync are restore-keyed-mutex's: the KMT handles of
	// the mutex's resource and sync object (0 for none).
	MutexOf, MutexSync bridge.Handle
	// Device is a service fence's device (restore-fence with SERVICE).
	Device bridge.DeviceID
}

// ntClaim is an NT handle of the restoring connection, what it grants
// and, with restoreNTNames, the name of its object: 0 for none, i+1 for
// the request's Names[i].
type ntClaim struct {
	Handle bridge.Handle
	Access bridge.Access
	Name   uint32
}

// nameClaim is a name of the resource and the access it was shared with
// (as far as the restorer knows it: an opener knows what it was granted).
type nameClaim struct {
	Name   string
	Access bridge.Access
}

func appendRestore(p []byte, r restoreReq) []byte {
	for _, v := range [...]uint32{uint32(r.KMT), r.Flags, r.KMTRefs, uint32(len(r.NT)), uint32(len(r.Names)),
		uint32(len(r.Kinds)), uint32(len(r.Data)), uint32(r.MutexHandle)} {
		p = le.AppendUint32(p, v)
	}
	p = le.AppendUint64(p, r.MutexKey)
	p = le.AppendUint64(p, r.MutexValue)
	p = le.AppendUint32(p, r.MutexEvents)
	p = le.AppendUint32(p, 0)
	p = appendAllocation(p, r.Alloc)
	for _, k := range r.Kinds {
		p = le.AppendUint32(p, uint32(k))
	}
	for _, n := range r.NT {
		p = le.AppendUint32(p, uint32(n.Handle))
		p = le.AppendUint32(p, uint32(n.Access))
		if r.Flags&restoreNTNames != 0 {
			p = le.AppendUint32(p, n.Name)
		}
	}
	for _, n := range r.Names {
		p = le.AppendUint32(p, uint32(n.Access))
		p = le.AppendUint32(p, uint32(len(n.Name)))
		p = append(p, n.Name...)
	}
	return append(p, r.Data...)
}

// restore decodes a RESTORE payload from r. Data and names alias it.
func (r *rd) restore() (restoreReq, error) {
	var q restoreReq
	q.KMT, q.Flags, q.KMTRefs = bridge.Handle(r.u32()), r.u32(), r.u32()
	ntCount, nameCount, syncCount, dlen := r.u32(), r.u32(), r.u32(), r.u32()
	q.MutexHandle = bridge.Handle(r.u32())
	q.MutexKey, q.MutexValue, q.MutexEvents = r.u64(), r.u64(), r.u32()
	res := r.u32()
	if r.bad {
		return q, perr(CodeBadMessage, "restore payload truncated")
	}
	switch {
	case res != 0:
		return q, perr(CodeBadMessage, "reserved field is %#x, must be 0", res)
	case q.Flags&^restoreFlagsKnown != 0:
		return q, perr(CodeBadMessage, "unknown restore flags %#x", q.Flags&^restoreFlagsKnown)
	case syncCount > MaxSyncObjects:
		return q, perr(CodeInvalid, "sync count %d exceeds %d", syncCount, MaxSyncObjects)
	case ntCount > maxRestoreNT:
		return q, perr(CodeLimit, "%d NT handles in one restore, at most %d", ntCount, maxRestoreNT)
	case nameCount > maxNamesPerResource:
		return q, perr(CodeLimit, "%d names, a resource has at most %d", nameCount, maxNamesPerResource)
	case q.Flags&restoreMutexHeld != 0 && q.Flags&restoreMutexReleased != 0:
		return q, perr(CodeInvalid, "a keyed-mutex claim both held and released")
	}
	if err := checkDataLen(int(dlen)); err != nil {
		return q, err
	}
	var err error
	if q.Alloc, err = r.allocation(); err != nil {
		return q, err
	}
	for i := range syncCount {
		k := syncKind(r.u32())
		if !r.bad && !k.valid() {
			return q, perr(CodeInvalid, "sync object %d has unknown kind %d", i, k)
		}
		q.Kinds = append(q.Kinds, k)
	}
	if q.NT, q.Names, err = r.claims(ntCount, nameCount, q.Flags&restoreNTNames != 0); err != nil {
		return q, err
	}
	if dlen > 0 {
		q.Data = r.take(int(dlen))
	}
	return q, nil
}

// claims decodes a restore's NT handle claims (each naming one of its
// names when named) and then its name claims, as RESTORE and
// RESTORE_FENCE carry them.
func (r *rd) claims(ntCount, nameCount uint32, named bool) (nt []ntClaim, names []nameClaim, err error) {
	for range ntCount {
		n := ntClaim{Handle: bridge.Handle(r.u32()), Access: bridge.Access(r.u32())}
		if named {
			if n.Name = r.u32(); !r.bad && n.Name > nameCount {
				return nil, nil, perr(CodeInvalid, "NT handle %v names name %d of %d", n.Handle, n.Name, nameCount)
			}
		}
		nt = append(nt, n)
	}
	for range nameCount {
		access, nlen := bridge.Access(r.u32()), r.u32()
		if r.bad {
			break
		}
		if err := checkNameLen(int(nlen)); err != nil {
			return nil, nil, err
		}
		names = append(names, nameClaim{string(r.take(int(nlen))), access})
	}
	return nt, names, nil
}

// restoreWindowOpen says whether b still takes restorations; b.mu is
// held.
func (b *Broker) restoreWindowOpen() bool {
	return !b.restoreUntil.IsZero() && time.Now().Before(b.restoreUntil)
}

// inRestoreWindow is restoreWindowOpen for a caller without b.mu.
func (b *Broker) inRestoreWindow() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.restoreWindowOpen()
}

// holdsBack says whether q must wait for the restore window to close:
// it would make a new handle or name, which could be one a returning
// resource had.
func holdsBack(q request) bool {
	return q.Type == msgCreate || q.Type == msgAllocate || q.Type == msgCreateFence || q.Type == msgCreateKeyedMutex ||
		q.Type == msgShare && q.Name != ""
}

// opens says whether q looks a resource up by handle or name: one not
// found in the restore window may yet be restored, so the broker answers
// it after the window.
func opens(q request) bool {
	return q.Type == msgOpenKMT || q.Type == msgOpenName || q.Type == msgQuery || q.Type == msgOpenFence || q.Type == msgOpenKeyedMutex
}

// awaitRestoreWindow blocks the calling connection until b's restore
// window has closed, or b shuts down.
func (b *Broker) awaitRestoreWindow() {
	b.mu.Lock()
	until, done := b.restoreUntil, b.done
	b.mu.Unlock()
	if d := time.Until(until); d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-done:
		}
	}
}

// restore is RESTORE: it brings back q's resource under its KMT handle,
// registering it from q's record and fds if no other holder restored it
// yet, and gives c back its references, NT handles, names and keyed-mutex
// state. It takes fds: those it does not keep it closes. It checks
// everything before it changes anything, so a refused restore leaves no
// trace.
func (b *Broker) restore(c *brokerConn, q request, fds []int, late *[]lateReply) (payload []byte, err error) {
	keep := make([]bool, len(fds))
	defer func() {
		for i, fd := range fds {
			if !keep[i] {
				fdutil.CloseAll([]int{fd})
			}
		}
		if err == nil {
			b.restored++
		}
	}()
	r := q.Restore
	if err := b.restorable(r); err != nil {
		return nil, err
	}
	if err := r.Alloc.Desc.Validate(); err != nil {
		return nil, perr(CodeInvalidDesc, "%v", err)
	}
	if r.Alloc.Size == 0 || r.Alloc.Offset >= r.Alloc.Size {
		return nil, perr(CodeInvalid, "allocation size %d, offset %d", r.Alloc.Size, r.Alloc.Offset)
	}
	cl, err := b.checkRestoreClaims(c, r)
	if err != nil {
		return nil, err
	}
	if r.Flags&restoreMutexHeld != 0 {
		if h := r.MutexHandle; !(h == r.KMT && r.KMTRefs > 0) && !cl.seenNT[h] {
			return nil, perr(CodeInvalid, "keyed mutex held through %v, which the restore does not bring back", h)
		}
	}

	res := b.byIndex[r.KMT.GlobalIndex()]
	if res != nil {
		if res.kmt != r.KMT || res.alloc != r.Alloc {
			return nil, perr(CodeRestoreRefused, "%v names a different live resource (%v)", r.KMT, res.alloc.Desc)
		}
		have := res.kinds()
		n := min(len(have), len(r.Kinds))
		if !slices.Equal(have[:n], r.Kinds[:n]) {
			return nil, perr(CodeRestoreRefused, "%v: sync objects %v, the restore says %v", r.KMT, have, r.Kinds)
		}
		// A holder that opened before an ATTACH_SYNC lacks the later
		// semaphores; the creator brings them.
		for i := len(have); i < len(r.Kinds); i++ {
			if err := checkFD(fds[1+i], fmt.Sprintf("sync object %d", i)); err != nil {
				return nil, err
			}
		}
		for i := len(have); i < len(r.Kinds); i++ {
			res.syncs = append(res.syncs, syncObj{fd: fds[1+i], kind: r.Kinds[i]})
			keep[1+i] = true
		}
		if r.Flags&restoreCreator != 0 && res.creator != c {
			// The creator's account wins: its data is the latest, and the
			// resource counts against it as before the restart.
			b.charge(res.chargeConn, res.chargeUID, 1, res.charged, false)
			res.creator, res.creatorPID, res.data = c, c.pid, slices.Clone(r.Data)
			res.chargeConn, res.chargeUID = c, c.uid
			b.charge(c, c.uid, 1, res.charged, true)
		}
	} else {
		if err := checkFD(fds[0], "memory"); err != nil {
			return nil, err
		}
		if r.Alloc.HostMemory {
			if err := checkHostMemory(fds[0], r.Alloc.Size); err != nil {
				return nil, err
			}
		}
		for i := range r.Kinds {
			if err := checkFD(fds[1+i], fmt.Sprintf("sync object %d", i)); err != nil {
				return nil, err
			}
		}
		if b.live >= b.maxResources() {
			return nil, perr(CodeLimit, "%d resources exist", b.live)
		}
		if err := b.checkQuota(c, r.Alloc.Size); err != nil {
			return nil, err
		}
		var syncs []syncObj
		for i, k := range r.Kinds {
			syncs = append(syncs, syncObj{fd: fds[1+i], kind: k})
			keep[1+i] = true
		}
		keep[0] = true
		res = &resource{
			kmt: r.KMT, index: r.KMT.GlobalIndex(), alloc: r.Alloc, memFD: fds[0], syncs: syncs,
			data: slices.Clone(r.Data), holders: map[*brokerConn]int{},
			gl: glSectionOf(r.Alloc), chargeConn: c, chargeUID: c.uid, charged: r.Alloc.Size,
		}
		if r.Flags&restoreCreator != 0 {
			res.creator, res.creatorPID = c, c.pid
		}
		if r.Flags&restoreServiceAllocated != 0 {
			res.allocDevice = "an earlier broker"
		}
		b.charge(c, c.uid, 1, r.Alloc.Size, true)
		b.byIndex[res.index] = res
		b.live++
		b.bindRestored(res)
	}

	refused := b.applyRestoreClaims(c, res, r, cl)
	if !b.restoreMutex(c, res, r, late) {
		refused |= restoreMutexRefused
	}
	c.log.Debug("restored", "kmt", res.kmt, "refs", int(r.KMTRefs)+len(r.NT), "names", len(r.Names), "refused", refused)
	return fixedPayload(uint32(res.kmt), refused), nil
}

// restorable refuses a restore of any kind (RESTORE, RESTORE_FENCE,
// RESTORE_KEYED_MUTEX) that no object may take: after the restore window,
// of a handle that is not KMT-shaped, or of no references.
func (b *Broker) restorable(r restoreReq) error {
	switch {
	case !b.restoreWindowOpen():
		return perr(CodeRestoreRefused, "%v: the broker's restore window is closed", r.KMT)
	case !r.KMT.IsKMT():
		return perr(CodeBadHandle, "%v is not a KMT handle", r.KMT)
	case r.KMTRefs == 0 && len(r.NT) == 0:
		return perr(CodeInvalid, "%v: a restore of no references", r.KMT)
	}
	return nil
}

// restoreMutex merges c's view of res's keyed mutex into the broker's:
// the claim with the most events is the latest, and at equal events a
// hold beats the release it followed. It reports false for a hold it
// cannot grant because another connection's hold is already restored. A
// later release's key can make the mutex grantable to an acquire that a
// client which restored earlier has sent again and is waiting: grant
// hands it over then.
func (b *Broker) restoreMutex(c *brokerConn, res *resource, r restoreReq, late *[]lateReply) bool {
	o := b.owner(c, r.MutexHandle, res)
	res = res.mutexHome()
	m := &res.mutex
	// Abandonment is for good: one claim of it is enough.
	if r.Flags&restoreMutexAbandoned != 0 {
		m.abandoned = true
	}
	switch {
	case r.Flags&restoreMutexHeld != 0:
		if m.held && m.owner != o || r.MutexEvents < m.events {
			return false
		}
		m.held, m.owner = true, o
		m.lastKey, m.lastValue, m.events = r.MutexKey, r.MutexValue, r.MutexEvents
	case r.Flags&restoreMutexReleased != 0:
		if !m.held && r.MutexEvents > m.events {
			m.lastKey, m.lastValue, m.events = r.MutexKey, r.MutexValue, r.MutexEvents
		}
	}
	if !m.held {
		b.grant(res, late)
	}
	return true
}

// restoreClaims are a RESTORE's (or RESTORE_FENCE's) handle and name
// claims, checked and resolved, for applyRestoreClaims.
type restoreClaims struct {
	seenNT   map[bridge.Handle]bool
	ntGrants []ntEntry
	names    []objectName
}

// checkRestoreClaims checks what r claims of c's handles and names,
// before anything changes: the NT handles' shapes, masks and values (none
// in use on c, none twice), the names and their masks, and c's room for
// the references.
func (b *Broker) checkRestoreClaims(c *brokerConn, r restoreReq) (restoreClaims, error) {
	cl := restoreClaims{seenNT: map[bridge.Handle]bool{}, ntGrants: make([]ntEntry, len(r.NT)),
		names: make([]objectName, len(r.Names))}
	// The claims' masks resolve as at SHARE, against every right: a
	// granted value (what a reply reported) maps to itself.
	for i, n := range r.NT {
		if !n.Handle.IsNT() {
			return cl, perr(CodeBadHandle, "%v is not an NT handle", n.Handle)
		}
		access, mask, err := grant(n.Access, bridge.AccessReadWrite)
		if err != nil {
			return cl, err
		}
		cl.ntGrants[i] = ntEntry{access: access, mask: mask}
		if _, used := c.nt[n.Handle]; used || cl.seenNT[n.Handle] {
			return cl, perr(CodeRestoreRefused, "NT handle %v is in use on this connection", n.Handle)
		}
		cl.seenNT[n.Handle] = true
	}
	for i, n := range r.Names {
		if err := ValidName(n.Name); err != nil {
			return cl, err
		}
		var err error
		if cl.names[i], err = resolveName(n.Name, c.session); err != nil {
			return cl, err
		}
		// What the name was shared with caps nothing (a name grants
		// every right), but a claim must still be a valid mask.
		if _, _, err := grant(n.Access, bridge.AccessReadWrite); err != nil {
			return cl, err
		}
	}
	refs := int(r.KMTRefs) + len(r.NT)
	if c.refs+refs > limit(b.MaxHandlesPerConn, DefaultMaxHandlesPerConn) {
		return cl, perr(CodeLimit, "connection holds %d references; %d more exceed the limit", c.refs, refs)
	}
	return cl, nil
}

// applyRestoreClaims gives c back, on res, the references, NT handles and
// names r claims (checked by checkRestoreClaims), and returns the refused
// mask's name bits: names another object has, or beyond the limit.
func (b *Broker) applyRestoreClaims(c *brokerConn, res *resource, r restoreReq, cl restoreClaims) uint32 {
	for range r.KMTRefs {
		b.addKMTRef(c, res)
	}
	for i, n := range r.NT {
		e := cl.ntGrants[i]
		e.res = res
		c.nt[n.Handle] = e
		res.nts++
		b.addRef(c, res)
		if next := uint32(n.Handle) + 4; next > c.nextNT && next < 0x40000000 {
			c.nextNT = next
		}
	}
	// A name comes back with the NT handles to its object: a claimed
	// name that none of them names, here or in an earlier holder's
	// restore, has no object left (its handles closed before the restart,
	// as a name goes with its last handle) and is dropped.
	var refused uint32
	for i := range r.Names {
		switch e, taken := b.names[cl.names[i].key]; {
		case taken && e.res != res, !taken && len(res.names) >= maxNamesPerResource:
			refused |= 1 << i
		}
	}
	// An NT handle is to the object of its name, as the object has it
	// (in the spelling it was first shared with); a name refused leaves
	// it unnamed.
	for _, n := range r.NT {
		if n.Name == 0 || refused&(1<<(n.Name-1)) != 0 {
			continue
		}
		name := cl.names[n.Name-1]
		if e, ok := b.names[name.key]; ok {
			name = e.name
		} else if len(res.names) >= maxNamesPerResource {
			refused |= 1 << (n.Name - 1)
			continue
		}
		b.holdName(res, name)
		nt := c.nt[n.Handle]
		nt.name = name
		c.nt[n.Handle] = nt
	}
	return refused
}
