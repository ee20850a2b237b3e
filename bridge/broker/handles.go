package broker

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/glbridge/glbridge/bridge"
	"github.com/glbridge/glbridge/internal/fdutil"
)

// This file makes NT handles behave as Windows handles do beyond naming a
// resource (docs/protocol.md, "14 DUPLICATE", "15 OPEN_DUPLICATE", "16
// QUERY_OBJECT"): DuplicateHandle into another process, and NtQueryObject's
// type and name.
//
// DuplicateHandle names its target process; a broker connection cannot
// put a handle into another connection's table unasked, since that
// client would not know it holds it (and could not restore it after a
// broker restart). So a DUPLICATE makes a transfer: a one-shot,
// unguessable token that holds a reference to the resource, which the
// target (the process the source named, or any if it named none) turns
// into an NT handle of its own with OPEN_DUPLICATE, receiving the fds as
// OPEN_NAME does. A transfer outlives its source's connection, as a
// duplicated handle outlives its source process, until it is redeemed or
// its DuplicateTimeout passes.

// Message types (version 2).
const (
	// msgDuplicate makes a transfer of one of the connection's NT handles.
	msgDuplicate msgType = 14
	// msgOpenDuplicate redeems a transfer for an NT handle and the fds.
	msgOpenDuplicate msgType = 15
	// msgQueryObject answers NtQueryObject: an NT handle's object type,
	// name and access.
	msgQueryObject msgType = 16
)

// DUPLICATE options, DuplicateHandle's values.
const (
	// duplicateCloseSource is DUPLICATE_CLOSE_SOURCE: the source handle
	// is closed (as CLOSE would) once the transfer is made.
	duplicateCloseSource = 1
	// duplicateSameAccess is DUPLICATE_SAME_ACCESS: the new handle has the
	// source's access mask, and the request's is ignored.
	duplicateSameAccess   = 2
	duplicateOptionsKnown = duplicateCloseSource | duplicateSameAccess
)

// Limits on transfers, which a client could otherwise make without end.
const (
	// DefaultDuplicateTimeout is how long a transfer waits to be redeemed
	// when Broker.DuplicateTimeout is zero.
	DefaultDuplicateTimeout = 30 * time.Second
	// maxTransfersPerConn bounds the transfers one connection has made
	// that are not redeemed yet; maxTransfers those of the whole broker.
	maxTransfersPerConn = 64
	maxTransfers        = 4096
)

// Payload sizes of the new messages.
const (
	duplicateReqSize   = 16
	duplicateReplySize = 16
	openDuplicateSize  = 8
	queryObjectFixed   = 24
	openDuplicateFixed = 8
)

// objectTypeResource is the type NtQueryObject reports for a shared
// resource's NT handle (ObjectTypeInformation), as Wine's tests check.
const objectTypeResource = "DxgkSharedResource"

// transfer is a duplicated handle waiting for its target.
type transfer struct {
	token     uint64
	res       *resource
	access    bridge.Access
	mask      bridge.Access
	name      objectName
	from      *brokerConn
	targetPID int32
	timer     *time.Timer
}

// duplicateReply is a DUPLICATE reply: the token to redeem and what the
// new handle will grant.
type duplicateReply struct {
	Token  uint64
	Access bridge.Access
	Mask   bridge.Access
}

func appendDuplicateReply(b []byte, r duplicateReply) []byte {
	b = le.AppendUint64(b, r.Token)
	b = le.AppendUint32(b, uint32(r.Access))
	return le.AppendUint32(b, uint32(r.Mask))
}

func decodeDuplicateReply(p []byte) (duplicateReply, error) {
	if len(p) != duplicateReplySize {
		return duplicateReply{}, perr(CodeBadMessage, "duplicate reply of %d bytes, want %d", len(p), duplicateReplySize)
	}
	r := duplicateReply{Token: le.Uint64(p), Access: bridge.Access(le.Uint32(p[8:])), Mask: bridge.Access(le.Uint32(p[12:]))}
	if r.Token == 0 || !r.Access.Valid() {
		return r, perr(CodeBadMessage, "duplicate reply: token %#x, access %#x", r.Token, uint32(r.Access))
	}
	return r, nil
}

// objectInfo is a QUERY_OBJECT reply.
type objectInfo struct {
	Handle bridge.Handle
	KMT    bridge.Handle
	Access bridge.Access
	Mask   bridge.Access
	Type   string
	Name   string
}

func appendObjectInfo(b []byte, o objectInfo) []byte {
	for _, v := range [...]uint32{uint32(o.Handle), uint32(o.KMT), uint32(o.Access), uint32(o.Mask), uint32(len(o.Type)), uint32(len(o.Name))} {
		b = le.AppendUint32(b, v)
	}
	b = append(b, o.Type...)
	return append(b, o.Name...)
}

// maxObjectPath bounds a path QUERY_OBJECT reports: a leaf of MaxNameLen
// bytes under \Sessions\4294967295\BaseNamedObjects\.
const maxObjectPath = MaxNameLen + 64

func decodeObjectInfo(p []byte) (objectInfo, error) {
	r := rd{b: p}
	o := objectInfo{Handle: bridge.Handle(r.u32()), KMT: bridge.Handle(r.u32()), Access: bridge.Access(r.u32()), Mask: bridge.Access(r.u32())}
	tlen, nlen := r.u32(), r.u32()
	if r.bad || tlen > MaxNameLen || nlen > maxObjectPath || int(tlen)+int(nlen) != r.rest() {
		return o, perr(CodeBadMessage, "query-object reply: type %d and name %d bytes in %d", tlen, nlen, len(p))
	}
	o.Type, o.Name = string(r.take(int(tlen))), string(r.take(int(nlen)))
	return o, nil
}

// openDuplicatePrefix is what an OPEN_DUPLICATE reply carries before its
// resource record: the mask the new handle was made with and the path of
// the object it is a handle to, which the redeemer keeps to restore it.
func appendOpenDuplicatePrefix(b []byte, mask bridge.Access, path string) []byte {
	b = le.AppendUint32(b, uint32(mask))
	b = le.AppendUint32(b, uint32(len(path)))
	return append(b, path...)
}

// decodeOpenDuplicateReply decodes an OPEN_DUPLICATE reply (version 2).
func decodeOpenDuplicateReply(p []byte) (mask bridge.Access, path string, rec resourceRecord, err error) {
	r := rd{b: p}
	mask = bridge.Access(r.u32())
	n := r.u32()
	if r.bad || n > maxObjectPath || int(n) > r.rest() {
		return 0, "", rec, perr(CodeBadMessage, "open-duplicate reply: path of %d bytes in %d", n, len(p))
	}
	path = string(r.take(int(n)))
	rec, err = decodeResourceRecord(p[r.off:], protocolVersion)
	return mask, path, rec, err
}

// decodeHandleRequest decodes the payload of the messages of this file
// into q; r is past the header. It reports false for another type.
func decodeHandleRequest(q *request, r *rd) (bool, error) {
	switch q.Type {
	case msgDuplicate, msgOpenDuplicate, msgQueryObject:
		if q.Version < protocolVersion {
			return true, perr(CodeUnknownType, "%v is version %d's; the request is version %d", q.Type, protocolVersion, q.Version)
		}
	default:
		return false, nil
	}
	switch q.Type {
	case msgDuplicate:
		q.Handle, q.Access, q.Options, q.TargetPID = bridge.Handle(r.u32()), bridge.Access(r.u32()), r.u32(), int32(r.u32())
		if !r.bad && q.Options&^duplicateOptionsKnown != 0 {
			return true, perr(CodeBadMessage, "unknown duplicate options %#x", q.Options&^duplicateOptionsKnown)
		}
	case msgOpenDuplicate:
		q.Token = r.u64()
	case msgQueryObject:
		q.Handle = bridge.Handle(r.u32())
		if res := r.u32(); !r.bad && res != 0 {
			return true, perr(CodeBadMessage, "reserved field is %#x, must be 0", res)
		}
	}
	return true, nil
}

// appendHandleRequest encodes the payload of the messages of this file; it
// reports false for another type.
func appendHandleRequest(p []byte, q request) ([]byte, bool) {
	switch q.Type {
	case msgDuplicate:
		p = le.AppendUint32(p, uint32(q.Handle))
		p = le.AppendUint32(p, uint32(q.Access))
		p = le.AppendUint32(p, q.Options)
		p = le.AppendUint32(p, uint32(q.TargetPID))
	case msgOpenDuplicate:
		p = le.AppendUint64(p, q.Token)
	case msgQueryObject:
		p = le.AppendUint32(p, uint32(q.Handle))
		p = le.AppendUint32(p, 0)
	default:
		return p, false
	}
	return p, true
}

func (b *Broker) duplicateTimeout() time.Duration {
	return limit(b.DuplicateTimeout, DefaultDuplicateTimeout)
}

// ntHandle finds c's NT handle h: the messages of this file take NT
// handles only, as Windows' handle calls do not know D3DKMT handles.
func (b *Broker) ntHandle(c *brokerConn, h bridge.Handle) (ntEntry, error) {
	if !h.IsNT() {
		return ntEntry{}, perr(CodeBadHandle, "%v is not an NT handle", h)
	}
	e, ok := c.nt[h]
	if !ok {
		return ntEntry{}, perr(CodeNotFound, "no NT handle %v on this connection", h)
	}
	return e, nil
}

// duplicate is DUPLICATE: a transfer of c's NT handle q.Handle, with the
// source's access (DUPLICATE_SAME_ACCESS) or q.Access, no more than the
// source grants, for the process q.TargetPID (0: any).
func (b *Broker) duplicate(c *brokerConn, q request, late *[]lateReply) ([]byte, error) {
	if _, known := q.Access.Grants(); !known && q.Options&duplicateSameAccess == 0 {
		return nil, perr(CodeInvalid, "access %#x has bits no shared resource right has", uint32(q.Access))
	}
	e, err := b.ntHandle(c, q.Handle)
	if err != nil {
		return nil, err
	}
	access, mask := e.access, e.mask
	if q.Options&duplicateSameAccess == 0 {
		if access, mask, err = grant(q.Access, e.access); err != nil {
			return nil, err
		}
	}
	switch {
	case c.transfers >= maxTransfersPerConn:
		return nil, perr(CodeLimit, "this connection has %d duplicates not yet opened", c.transfers)
	case len(b.transfers) >= maxTransfers:
		return nil, perr(CodeLimit, "%d duplicates wait to be opened", len(b.transfers))
	}
	var tok [8]byte
	t := &transfer{res: e.res, access: access, mask: mask, name: e.name, from: c, targetPID: q.TargetPID}
	for t.token == 0 || b.transfers[t.token] != nil {
		if _, err := rand.Read(tok[:]); err != nil {
			return nil, perr(CodeInternal, "random token: %v", err)
		}
		t.token = binary.LittleEndian.Uint64(tok[:])
	}
	b.transfers[t.token] = t
	c.transfers++
	e.res.refs++
	// A duplicate not yet opened is a handle of the named object too.
	b.holdName(e.res, t.name)
	t.timer = time.AfterFunc(b.duplicateTimeout(), func() {
		_, unlock := b.lock()
		defer unlock()
		if b.transfers[t.token] == t {
			t.from.log.Debug("duplicate expired unopened", "kmt", t.res.kmt)
			b.dropTransfer(t)
		}
	})
	if q.Options&duplicateCloseSource != 0 {
		if err := b.closeHandle(c, q.Handle, late); err != nil {
			panic(fmt.Sprintf("broker: closing the source of a duplicate: %v", err))
		}
	}
	return appendDuplicateReply(nil, duplicateReply{Token: t.token, Access: access, Mask: mask}), nil
}

// dropTransfer forgets t and releases its reference.
func (b *Broker) dropTransfer(t *transfer) {
	t.timer.Stop()
	delete(b.transfers, t.token)
	t.from.transfers--
	b.dropName(t.name)
	b.unref(t.res)
}

// openDuplicate is OPEN_DUPLICATE: the transfer q.Token becomes an NT
// handle of c, and c receives the resource's fds.
func (b *Broker) openDuplicate(c *brokerConn, q request) ([]byte, []int, error) {
	t, err := b.redeemable(c, q, "OPEN_FENCE redeems it: ")
	if err != nil {
		return nil, nil, err
	}
	nt, fds, err := b.newNTWithFDs(c, t.res, t.access, t.mask, t.name)
	if err != nil {
		return nil, nil, err
	}
	// The new handle holds the resource now: the transfer's reference
	// goes without freeing it.
	b.dropTransfer(t)
	p := appendOpenDuplicatePrefix(nil, t.mask, t.name.path)
	return append(p, t.res.record(nt, t.access, q.Version)...), fds, nil
}

// redeemable is the pending duplicate q's token names, if c may redeem
// it for an object of q's kind (a wrong kind's error gets wrongDetail):
// the checks every redemption makes.
func (b *Broker) redeemable(c *brokerConn, q request, wrongDetail string) (*transfer, error) {
	t := b.transfers[q.Token]
	if t == nil {
		return nil, perr(CodeNotFound, "no duplicate %#x (opened already, expired, or of a broker before a restart)", q.Token)
	}
	if err := wrongType(q, t.res); err != nil {
		return nil, withDetail(err, wrongDetail)
	}
	if t.targetPID != 0 && t.targetPID != c.pid {
		return nil, perr(CodeAccessDenied, "the duplicate is for pid %d, not %d", t.targetPID, c.pid)
	}
	return t, nil
}

// newNTWithFDs makes an NT handle of c to res with the copies of res's
// fds its open reply carries; on failure it makes neither.
func (b *Broker) newNTWithFDs(c *brokerConn, res *resource, access, mask bridge.Access, name objectName) (bridge.Handle, []int, error) {
	fds, err := res.dupFDs()
	if err != nil {
		return 0, nil, err
	}
	nt, err := b.newNT(c, res, access, mask, name)
	if err != nil {
		fdutil.CloseAll(fds)
		return 0, nil, err
	}
	return nt, fds, nil
}

// queryObject is QUERY_OBJECT: the type, name and access of c's NT handle.
func (b *Broker) queryObject(c *brokerConn, q request) ([]byte, error) {
	e, err := b.ntHandle(c, q.Handle)
	if err != nil {
		return nil, err
	}
	return appendObjectInfo(nil, objectInfo{Handle: q.Handle, KMT: e.res.kmt, Access: e.access, Mask: e.mask,
		Type: e.res.objectType(), Name: e.name.path}), nil
}

// DuplicateOptions are DuplicateHandle's options, with its values.
type DuplicateOptions uint32

// Duplicate options.
const (
	// DuplicateCloseSource closes the source handle (DUPLICATE_CLOSE_SOURCE),
	// as CloseHandle would, once the duplicate is made.
	DuplicateCloseSource DuplicateOptions = duplicateCloseSource
	// DuplicateSameAccess gives the duplicate the source's access mask
	// (DUPLICATE_SAME_ACCESS); the access argument is then ignored.
	DuplicateSameAccess DuplicateOptions = duplicateSameAccess
)

// Duplicated is a duplicate waiting to be opened: the one-shot Token the
// target process passes to OpenDuplicate, and what the handle it gets
// will grant.
type Duplicated struct {
	Token  uint64
	Access bridge.Access
}

// Duplicate duplicates the NT handle h of this connection for another
// process, as DuplicateHandle does: with access (a Windows access mask,
// no more than h grants) or h's own (DuplicateSameAccess), for the
// process targetPID (0: any process the broker admits). The target turns
// the token into an NT handle of its own, with the resource's fds, by
// OpenDuplicate, once, within the broker's DuplicateTimeout; the two
// handles are closed independently. Pass the token to the target by any
// channel of your own.
func (c *Client) Duplicate(h bridge.Handle, access bridge.Access, opts DuplicateOptions, targetPID int) (Duplicated, error) {
	op := "duplicate " + h.String()
	r, err := c.roundTrip(op, request{header: header{Type: msgDuplicate}, Handle: h, Access: access, Options: uint32(opts), TargetPID: int32(targetPID)}, nil)
	if err != nil {
		return Duplicated{}, err
	}
	d, err := decodeDuplicateReply(r.payload)
	if err == nil {
		err = r.checkFDs(0)
	}
	if err != nil {
		return Duplicated{}, r.fail(op, err)
	}
	return Duplicated{Token: d.Token, Access: d.Access}, nil
}

// OpenDuplicate opens a duplicate another connection (or this one) made
// with Duplicate: Resource.Handle is a new NT handle of this connection,
// and FD and the sync fds are the caller's, as after OpenName.
func (c *Client) OpenDuplicate(token uint64) (Resource, error) {
	op := fmt.Sprintf("open duplicate %#x", token)
	r, err := c.roundTrip(op, request{header: header{Type: msgOpenDuplicate}, Token: token}, nil)
	if err != nil {
		return Resource{FD: -1}, err
	}
	_, _, rec, err := decodeOpenDuplicateReply(r.payload)
	if err == nil {
		err = r.checkFDs(1 + len(rec.Kinds))
	}
	if err != nil {
		return Resource{FD: -1}, r.fail(op, err)
	}
	return Resource{Handle: rec.Handle, KMT: rec.KMT, Access: rec.Access, Allocation: rec.Alloc, Data: rec.Data,
		FD: r.fds[0], Syncs: syncFDs(rec.Kinds, r.fds[1:]), ServiceAllocated: rec.ServiceAllocated}, nil
}

// ObjectInfo is what QueryObject learns of an NT handle, as NtQueryObject
// reports it.
type ObjectInfo struct {
	// Handle is the handle asked about, KMT its resource's global handle.
	Handle, KMT bridge.Handle
	// Access is what the handle grants; Mask the access mask it was made
	// with.
	Access, Mask bridge.Access
	// Type is the object type, "DxgkSharedResource"
	// (ObjectTypeInformation).
	Type string
	// Name is the full path of the object's name
	// (ObjectNameInformation), such as
	// \Sessions\1\BaseNamedObjects\X; empty for an unnamed one.
	Name string
}

// QueryObject returns the type, name and access of this connection's NT
// handle h (a KMT handle is CodeBadHandle, as NtQueryObject refuses a
// D3DKMT handle).
func (c *Client) QueryObject(h bridge.Handle) (ObjectInfo, error) {
	op := "query object " + h.String()
	r, err := c.roundTrip(op, request{header: header{Type: msgQueryObject}, Handle: h}, nil)
	if err != nil {
		return ObjectInfo{}, err
	}
	o, err := decodeObjectInfo(r.payload)
	if err == nil {
		err = r.checkFDs(0)
	}
	if err != nil {
		return ObjectInfo{}, r.fail(op, err)
	}
	return ObjectInfo(o), nil
}
