package broker

import (
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"time"

	"github.com/glbridge/glbridge/bridge"
	"github.com/glbridge/glbridge/internal/fdutil"
)

// This file is the client's side of surviving a broker restart: a Client
// dialled with Reconnect keeps, for every resource it holds, what a new
// broker needs to bring it back (its record, private data, a dup of each
// of its fds, this connection's handles and names, its view of the keyed
// mutex), and when the connection breaks it dials again with backoff,
// sends a RESTORE for each, and then sends again the requests that were
// waiting for replies.

// Default reconnection timing, used where a Dialer's fields are zero.
const (
	// DefaultCallWait is how long a call waits for the broker to come
	// back before it fails: long enough for a service manager to restart
	// a crashed broker, short enough that a renderer notices a broker
	// that is gone.
	DefaultCallWait = 10 * time.Second
	// DefaultMaxBackoff caps the wait between dial attempts.
	DefaultMaxBackoff = 500 * time.Millisecond
)

// Dialer dials the broker with options. The zero Dialer is Dial.
type Dialer struct {
	// Reconnect makes the Client outlive its connection: when the broker
	// crashes or restarts, the Client dials it again (backing off up to
	// MaxBackoff) and restores every resource it holds under the same
	// KMT handle, NT handle values and names, with its record, private
	// data and fds, its semaphores and its keyed-mutex state, as long as
	// the new broker takes restorations (Broker.RestoreWindow; glshare
	// serve after a crash). Calls made meanwhile wait for the new
	// connection, up to CallWait, and calls in flight when it broke are
	// sent again (a RELEASE_SYNC or CLOSE in flight counts as done: the
	// new broker learns the result from the restore). Keeping the fds
	// costs one dup of each fd of each resource held.
	Reconnect bool
	// CallWait bounds how long a call waits for a lost connection to come
	// back before it fails with an error wrapping bridge.ErrClosed (the
	// Client keeps trying; later calls succeed once the broker is back).
	// Zero takes DefaultCallWait.
	CallWait time.Duration
	// MaxBackoff caps the wait between dial attempts; zero takes
	// DefaultMaxBackoff.
	MaxBackoff time.Duration
	// Logger receives reconnection events; nil means slog.Default().
	Logger *slog.Logger
	// OnReconnect, if set, is called (on a goroutine of the Client's)
	// after each reconnection, once the restores are done and before the
	// calls that waited are sent again.
	OnReconnect func(ReconnectEvent)
}

// ReconnectEvent reports a reconnection.
type ReconnectEvent struct {
	// Restored is the number of objects (resources, fences, keyed
	// mutexes) the new broker took back; Refused the number it refused
	// (its restore window had closed, or another object had the handle):
	// those live on in the fds their holders have, without a handle on
	// the broker.
	Restored, Refused int
	// Down is how long the connection was lost.
	Down time.Duration
}

// Dial connects to the broker listening at path.
func (d *Dialer) Dial(path string) (*Client, error) {
	conn, err := dialConn(path)
	if err != nil {
		return nil, fmt.Errorf("broker: dial broker %s: %w", path, err)
	}
	c := &Client{path: path, dial: *d, conn: conn, wait: map[uint32]*pendingCall{}, done: make(chan struct{})}
	c.held.init()
	go c.readLoop(conn)
	return c, nil
}

func (c *Client) logger() *slog.Logger {
	if c.dial.Logger != nil {
		return c.dial.Logger
	}
	return slog.Default()
}

// unavailableErr is why a call fails while the broker is away.
func (c *Client) unavailableErr() error {
	return fmt.Errorf("%w: the broker at %s is unavailable (reconnecting since %s)", bridge.ErrClosed, c.path, c.down.Format(time.TimeOnly))
}

// heldTable is what a reconnecting Client holds, by KMT handle and by NT
// handle.
type heldTable struct {
	byKMT map[bridge.Handle]*heldResource
	byNT  map[bridge.Handle]*heldResource
	// session is what SET_SESSION set, nil for the default: a new
	// connection is set to it before it restores (the names are the
	// session's).
	session *uint32
}

// heldResource is one resource as this connection holds it: all a new
// broker needs to bring it back.
type heldResource struct {
	kmt     bridge.Handle
	alloc   bridge.Allocation
	kinds   []syncKind
	data    []byte
	creator bool
	service bool
	kmtRefs int
	nt      map[bridge.Handle]ntHeld
	names   map[string]bridge.Access
	// fds are dups of the memory fd and then each sync fd, owned by the
	// Client; nil if a dup failed, and then it cannot be restored.
	fds   []int
	mutex mutexView
	// fence is, for a fence, the latest state this connection learnt
	// (the one with the most signals); nil for a resource. fenceDevice is
	// the device of a service fence this connection created, which a new
	// broker imports its semaphore on.
	fence       *FenceValue
	fenceDevice *bridge.DeviceID
	// mutexOf and mutexSync are, for a keyed-mutex object (isMutex), the
	// KMT handles of its resource and sync object.
	isMutex            bool
	mutexOf, mutexSync bridge.Handle
}

// restoreRank orders the restores: a keyed-mutex object's resource and
// sync object must be back before it.
func (hr *heldResource) restoreRank() int {
	switch {
	case hr.isMutex:
		return 2
	case hr.fence != nil:
		return 1
	}
	return 0
}

// addKeyedMutex tracks a keyed-mutex object a create or open replied
// with: one more reference through its KMT handle.
func (t *heldTable) addKeyedMutex(p []byte) *heldResource {
	m, err := decodeKeyedMutexRecord(p)
	if err != nil {
		return nil
	}
	hr := t.add(resourceRecord{KMT: m.KMT, Data: m.Data}, nil)
	hr.isMutex, hr.mutexOf, hr.mutexSync = true, m.Resource, m.Sync
	hr.kmtRefs++
	return hr
}

// noteFence keeps v if it is at least as recent as what hr knows.
func (hr *heldResource) noteFence(v FenceValue) {
	if hr.fence == nil {
		hr.fence = &FenceValue{}
	}
	if v.Signals >= hr.fence.Signals {
		*hr.fence = v
	}
}

// ntHeld is an NT handle as this connection holds it: the access mask it
// was made with (as the broker recorded it) and the name of its object,
// one of heldResource.names ("" for none).
type ntHeld struct {
	mask bridge.Access
	name string
}

// recordedMask is the mask the broker records for a handle asked with
// mask that was granted granted (see grant).
func recordedMask(mask, granted bridge.Access) bridge.Access {
	if mask&bridge.AccessMaximumAllowed != 0 {
		return mask&^bridge.AccessMaximumAllowed | granted
	}
	return mask
}

// mutexView is what this connection knows of a keyed mutex: that it holds
// it, or how it last released it (see restoreReq).
type mutexView struct {
	held, released bool
	// abandoned: the broker said the mutex is abandoned (for good).
	abandoned  bool
	via        bridge.Handle
	key, value uint64
	events     uint32
}

func (t *heldTable) init() {
	t.byKMT = map[bridge.Handle]*heldResource{}
	t.byNT = map[bridge.Handle]*heldResource{}
}

// find is the resource handle h of this connection names.
func (t *heldTable) find(h bridge.Handle) *heldResource {
	if r := t.byKMT[h]; r != nil {
		return r
	}
	return t.byNT[h]
}

// drop forgets hr and closes its fds.
func (t *heldTable) drop(hr *heldResource) {
	delete(t.byKMT, hr.kmt)
	for h := range hr.nt {
		delete(t.byNT, h)
	}
	fdutil.CloseAll(hr.fds)
}

func (t *heldTable) closeAll() {
	for _, hr := range t.byKMT {
		t.drop(hr)
	}
}

// dupAll dups fds for the Client to keep; nil if one fails (the resource
// then works but cannot be restored, which restore logs).
func dupAll(fds []int) []int {
	out, _, err := fdutil.DupAll(fds)
	if err != nil {
		return nil
	}
	return out
}

// add returns the resource a record names, made from it (with dups of
// fds) the first time.
func (t *heldTable) add(rec resourceRecord, fds []int) *heldResource {
	if hr := t.byKMT[rec.KMT]; hr != nil {
		return hr
	}
	hr := &heldResource{
		kmt: rec.KMT, alloc: rec.Alloc, kinds: slices.Clone(rec.Kinds), data: slices.Clone(rec.Data),
		service: rec.ServiceAllocated, nt: map[bridge.Handle]ntHeld{}, names: map[string]bridge.Access{},
		fds: dupAll(fds),
	}
	t.byKMT[rec.KMT] = hr
	return hr
}

// track records what a successful reply r to p changed in what this
// connection holds. c.mu is held.
func (c *Client) track(p *pendingCall, r clientReply) {
	if r.h.Status != 0 || r.h.Type != p.q.Type|replyBit {
		return
	}
	t, q := &c.held, p.q
	u32 := func(i int) bridge.Handle {
		if len(r.payload) < 4*(i+1) {
			return 0
		}
		return bridge.Handle(le.Uint32(r.payload[4*i:]))
	}
	switch q.Type {
	case msgCreate:
		hr := t.add(resourceRecord{KMT: u32(0), Alloc: q.Alloc, Kinds: q.Kinds, Data: q.Data}, p.fds)
		hr.creator = true
		hr.kmtRefs++
	case msgAllocate, msgOpenKMT, msgOpenName:
		rec, err := decodeResourceRecord(r.payload, protocolVersion)
		if err != nil || len(r.fds) != 1+len(rec.Kinds) {
			return // the caller gets the error
		}
		hr := t.add(rec, r.fds)
		switch q.Type {
		case msgAllocate:
			hr.creator = true
			hr.kmtRefs++
		case msgOpenKMT:
			hr.kmtRefs++
		case msgOpenName:
			hr.nt[rec.Handle] = ntHeld{mask: recordedMask(q.Access, rec.Access), name: q.Name}
			t.byNT[rec.Handle] = hr
			hr.names[q.Name] |= rec.Access
		}
	case msgOpenDuplicate:
		mask, path, rec, err := decodeOpenDuplicateReply(r.payload)
		if err != nil || len(r.fds) != 1+len(rec.Kinds) {
			return
		}
		hr := t.add(rec, r.fds)
		hr.nt[rec.Handle] = ntHeld{mask: mask, name: path}
		t.byNT[rec.Handle] = hr
		if path != "" {
			hr.names[path] |= rec.Access
		}
	case msgDuplicate:
		if q.Options&duplicateCloseSource != 0 {
			c.trackClose(q.Handle)
		}
	case msgShare:
		if hr := t.find(q.Handle); hr != nil {
			nt, granted := u32(0), bridge.Access(u32(1))
			hr.nt[nt] = ntHeld{mask: recordedMask(q.Access, granted), name: q.Name}
			t.byNT[nt] = hr
			if q.Name != "" {
				hr.names[q.Name] |= granted
			}
		}
	case msgClose:
		c.trackClose(q.Handle)
	case msgUpdateData:
		if hr := t.find(q.Handle); hr != nil {
			hr.data = slices.Clone(q.Data)
		}
	case msgAttachSync:
		if hr := t.find(q.Handle); hr != nil {
			hr.kinds = append(hr.kinds, q.Kind)
			if hr.fds != nil {
				if d := dupAll(p.fds); d != nil {
					hr.fds = append(hr.fds, d...)
				} else {
					fdutil.CloseAll(hr.fds)
					hr.fds = nil
				}
			}
		}
	case msgAcquireSync:
		if hr := t.find(q.Handle); hr != nil {
			if ar, err := decodeAcquireReply(r.payload); err == nil {
				hr.mutex = mutexView{held: true, via: q.Handle, key: q.Key, value: ar.Value, events: ar.Events, abandoned: ar.Abandoned}
			}
		}
	case msgReleaseSync:
		c.trackRelease(q)
	case msgCreateFence:
		var kinds []syncKind
		if q.Kind != 0 {
			kinds = []syncKind{q.Kind}
		}
		fds := p.fds
		if q.FenceFlags&createFenceService != 0 {
			// The broker made the semaphore: the reply carries it.
			fds = r.fds
		}
		hr := t.add(resourceRecord{KMT: u32(0), Kinds: kinds}, fds)
		if q.FenceFlags&createFenceService != 0 {
			dev := q.Device
			hr.fenceDevice = &dev
		}
		hr.noteFence(FenceValue{Value: q.Value})
		hr.creator = true
		hr.kmtRefs++
	case msgOpenFence:
		rec, err := decodeFenceRecord(r.payload)
		if err != nil || len(r.fds) != int(fenceKindFDs(rec.Kind)) {
			return
		}
		var kinds []syncKind
		if rec.Kind != 0 {
			kinds = []syncKind{rec.Kind}
		}
		hr := t.add(resourceRecord{KMT: rec.KMT, Kinds: kinds}, r.fds)
		hr.noteFence(rec.FenceValue)
		if rec.Handle.IsKMT() {
			hr.kmtRefs++
			return
		}
		name := q.Name
		if name == "" {
			name = rec.Path // a duplicate's object
		}
		hr.nt[rec.Handle] = ntHeld{mask: rec.Mask, name: name}
		t.byNT[rec.Handle] = hr
		if name != "" {
			hr.names[name] |= rec.Access
		}
	case msgSetSession:
		s := q.Session
		t.session = &s
	case msgCreateKeyedMutex:
		if hr := t.addKeyedMutex(r.payload); hr != nil {
			hr.creator = true
		}
	case msgOpenKeyedMutex:
		t.addKeyedMutex(r.payload)
	case msgSignalFence, msgWaitFence, msgGetFence:
		if hr := t.find(q.Handle); hr != nil {
			if v, err := decodeFenceValue(r.payload); err == nil {
				hr.noteFence(v)
			}
		}
	}
}

// trackClose is a CLOSE of h done: the reference goes, a hold of the
// mutex through the last of h ends (the broker abandons it), and the
// resource is forgotten with the last reference.
func (c *Client) trackClose(h bridge.Handle) {
	t := &c.held
	hr := t.find(h)
	if hr == nil {
		return
	}
	last := true
	if nh, isNT := hr.nt[h]; isNT {
		delete(hr.nt, h)
		delete(t.byNT, h)
		// A name goes with the last handle to its object: one this
		// connection no longer holds a handle of is not its to restore.
		if nh.name != "" && !slices.ContainsFunc(slices.Collect(maps.Values(hr.nt)), func(o ntHeld) bool { return o.name == nh.name }) {
			delete(hr.names, nh.name)
		}
	} else if hr.kmtRefs--; hr.kmtRefs > 0 {
		last = false
	}
	if last && hr.mutex.held && hr.mutex.via == h {
		hr.mutex = mutexView{events: hr.mutex.events + 1, abandoned: true}
	}
	if hr.kmtRefs == 0 && len(hr.nt) == 0 {
		t.drop(hr)
	}
}

// trackRelease is a RELEASE_SYNC done: the release is the event after
// the acquire that took the mutex.
func (c *Client) trackRelease(q request) {
	if hr := c.held.find(q.Handle); hr != nil && hr.mutex.held {
		hr.mutex = mutexView{released: true, key: q.Key, value: q.Value, events: hr.mutex.events + 1, abandoned: hr.mutex.abandoned}
	}
}

// reconnect dials the broker again until it answers, restores what this
// connection holds, and sends again the calls that wait. It runs on its
// own goroutine from the moment the connection broke until it is back
// or the Client is closed.
func (c *Client) reconnect() {
	log := c.logger()
	maxBackoff := limit(c.dial.MaxBackoff, DefaultMaxBackoff)
	callWait := limit(c.dial.CallWait, DefaultCallWait)
	backoff := 5 * time.Millisecond
	c.mu.Lock()
	down := c.down
	c.settleInFlightLocked()
	c.mu.Unlock()
	for {
		c.mu.Lock()
		if c.closing {
			c.endLocked(bridge.ErrClosed)
			c.mu.Unlock()
			return
		}
		if !c.unavailable && time.Since(down) > callWait {
			// The calls that waited fail; later ones fail at once
			// until the broker is back.
			c.unavailable = true
			for id, p := range c.wait {
				delete(c.wait, id)
				close(p.ch)
			}
			log.Warn("broker still unavailable; failing calls until it is back", "socket", c.path, "waited", callWait)
		}
		c.mu.Unlock()
		conn, err := dialConn(c.path)
		if err == nil {
			var ev ReconnectEvent
			if ev, err = c.restoreAll(conn); err == nil {
				ev.Down = time.Since(down)
				c.resume(conn, ev)
				return
			}
			conn.uc.Close()
			log.Info("restoring to the new broker failed; retrying", "err", err)
		}
		time.Sleep(backoff)
		backoff = min(2*backoff, maxBackoff)
	}
}

// settleInFlightLocked completes the RELEASE_SYNC and CLOSE calls that
// were waiting when the connection broke as done, since the restore
// tells the new broker their outcome. c.mu is held.
func (c *Client) settleInFlightLocked() {
	for id, p := range c.wait {
		if p.q.Type != msgReleaseSync && p.q.Type != msgClose {
			continue
		}
		delete(c.wait, id)
		r := clientReply{h: header{Version: protocolVersion, Type: p.q.Type | replyBit, ID: id}}
		c.track(p, r)
		p.ch <- r
	}
}

// restoreAll sends a RESTORE for every resource held, on conn, before
// anything else is sent on it, and reads each reply in turn. A resource
// the broker refuses is forgotten (its handles then fail with NOT_FOUND).
func (c *Client) restoreAll(conn *msgConn) (ReconnectEvent, error) {
	var ev ReconnectEvent
	c.mu.Lock()
	held := slices.Collect(maps.Values(c.held.byKMT))
	c.mu.Unlock()
	slices.SortStableFunc(held, func(x, y *heldResource) int { return x.restoreRank() - y.restoreRank() })
	buf, oob := make([]byte, maxMessageSize), make([]byte, oobSize)
	// A broker that takes the connection but never answers must not hold
	// the restore up for ever.
	conn.uc.SetReadDeadline(time.Now().Add(limit(c.dial.CallWait, DefaultCallWait)))
	defer conn.uc.SetReadDeadline(time.Time{})
	id := uint32(0)
	// exchange sends q and reads its reply, which has no fds.
	exchange := func(q request, fds []int, what string) (header, []byte, error) {
		id++
		q.ID = id
		if err := conn.write(encodeRequest(q), fds); err != nil {
			return header{}, nil, fmt.Errorf("%s: send: %w", what, err)
		}
		msg, rfds, _, _, eof, err := readMsg(conn.uc, buf, oob)
		fdutil.CloseAll(rfds)
		if err != nil || eof {
			return header{}, nil, fmt.Errorf("%s: connection lost (%v)", what, err)
		}
		h, err := decodeHeader(msg)
		switch {
		case err != nil || h.ID != id:
			return h, nil, fmt.Errorf("%s: malformed reply (%v)", what, err)
		case h.Type == msgFatal:
			return h, nil, fmt.Errorf("%s: the broker dropped the connection: %v: %s", what, h.Status, msg[headerSize:])
		}
		return h, msg[headerSize:], nil
	}
	c.mu.Lock()
	session := c.held.session
	c.mu.Unlock()
	if session != nil {
		h, p, err := exchange(request{header: header{Type: msgSetSession}, Session: *session}, nil, "set-session")
		if err != nil {
			return ev, err
		}
		if h.Status != 0 {
			return ev, &Error{Op: "set-session", Code: h.Status, Detail: string(p)}
		}
	}
	for _, hr := range held {
		c.mu.Lock()
		reqs := hr.restoreRequests()
		c.mu.Unlock()
		var rerr error
		if hr.fds == nil {
			rerr = fmt.Errorf("no fds kept (a dup failed)")
		}
		for i := 0; rerr == nil && i < len(reqs); i++ {
			what := "restore " + hr.kmt.String()
			h, p, err := exchange(reqs[i], hr.fds, what)
			switch {
			case err != nil:
				return ev, err
			case h.Status != 0:
				rerr = &Error{Op: what, Code: h.Status, Detail: string(p)}
			case len(p) != 8:
				return ev, fmt.Errorf("%s: reply of %d bytes", what, len(p))
			default:
				c.mu.Lock()
				hr.refused(reqs[i].Restore, le.Uint32(p[4:]))
				c.mu.Unlock()
			}
		}
		c.mu.Lock()
		if rerr != nil {
			c.logger().Warn("the broker did not take back a resource; it lives on in this process without a handle", "kmt", hr.kmt, "err", rerr)
			c.held.drop(hr)
			ev.Refused++
		} else {
			ev.Restored++
		}
		c.mu.Unlock()
	}
	return ev, nil
}

// restoreRequests are the RESTOREs that bring hr back: one, or more for
// more than maxRestoreNT NT handles. c.mu is held.
func (hr *heldResource) restoreRequests() []request {
	base := restoreReq{KMT: hr.kmt, Alloc: hr.alloc, Kinds: hr.kinds, Data: hr.data}
	if hr.creator {
		base.Flags |= restoreCreator
	}
	if hr.service {
		base.Flags |= restoreServiceAllocated
	}
	nts := slices.Sorted(maps.Keys(hr.nt))
	var out []request
	for i := 0; i == 0 || i < len(nts); i += maxRestoreNT {
		r := base
		// Every request carries the names (merging them again changes
		// nothing), so that each NT handle's claim can name its object.
		names := slices.Sorted(maps.Keys(hr.names))
		for _, n := range names {
			r.Names = append(r.Names, nameClaim{n, hr.names[n]})
		}
		for _, h := range nts[i:min(i+maxRestoreNT, len(nts))] {
			n := ntClaim{Handle: h, Access: hr.nt[h].mask}
			if j, ok := slices.BinarySearch(names, hr.nt[h].name); ok && hr.nt[h].name != "" {
				n.Name = uint32(j) + 1
				r.Flags |= restoreNTNames
			}
			r.NT = append(r.NT, n)
		}
		if i == 0 {
			r.KMTRefs = uint32(hr.kmtRefs)
		}
		m := hr.mutex
		if m.abandoned {
			r.Flags |= restoreMutexAbandoned
		}
		carries := m.held && (m.via == hr.kmt && i == 0 || slices.ContainsFunc(r.NT, func(n ntClaim) bool { return n.Handle == m.via }))
		switch {
		case carries:
			r.Flags |= restoreMutexHeld
			r.MutexHandle, r.MutexKey, r.MutexValue, r.MutexEvents = m.via, m.key, m.value, m.events
		case m.released && i == 0:
			r.Flags |= restoreMutexReleased
			r.MutexKey, r.MutexValue, r.MutexEvents = m.key, m.value, m.events
		}
		if hr.isMutex {
			// A keyed-mutex object: held through its KMT handle alone.
			r.Flags &= restoreCreator | restoreMutexHeld | restoreMutexReleased | restoreMutexAbandoned
			r.Alloc, r.NT, r.Names, r.MutexOf, r.MutexSync = bridge.Allocation{}, nil, nil, hr.mutexOf, hr.mutexSync
			out = append(out, request{header: header{Type: msgRestoreKeyedMutex}, Restore: r})
			continue
		}
		if hr.fence != nil {
			// A fence: its value instead of memory and a keyed mutex;
			// every NT claim names its object, so no flag says so.
			r.Flags &= restoreCreator
			if hr.fenceDevice != nil {
				r.Flags |= restoreFenceService
				r.Device = *hr.fenceDevice
			}
			r.Fence, r.Data = *hr.fence, nil
			out = append(out, request{header: header{Type: msgRestoreFence}, Restore: r})
			continue
		}
		out = append(out, request{header: header{Type: msgRestore}, Restore: r})
	}
	return out
}

// refused forgets what a RESTORE reply says the broker did not take back:
// names another resource has, and a hold of the keyed mutex another
// connection's restore claimed first. c.mu is held.
func (hr *heldResource) refused(r restoreReq, mask uint32) {
	for i, n := range r.Names {
		if mask&(1<<i) != 0 {
			delete(hr.names, n.Name)
		}
	}
	if mask&restoreMutexRefused != 0 && r.Flags&restoreMutexHeld != 0 {
		hr.mutex = mutexView{events: hr.mutex.events, abandoned: hr.mutex.abandoned}
	}
}

// resume makes conn the Client's connection and sends again, on it, the
// calls that waited for it.
func (c *Client) resume(conn *msgConn, ev ReconnectEvent) {
	c.logger().Info("reconnected to the broker", "socket", c.path, "restored", ev.Restored, "refused", ev.Refused, "down", ev.Down)
	if c.dial.OnReconnect != nil {
		c.dial.OnReconnect(ev)
	}
	c.mu.Lock()
	if c.closing {
		conn.uc.Close()
		c.endLocked(bridge.ErrClosed)
		c.mu.Unlock()
		return
	}
	c.gen++
	c.conn, c.down, c.unavailable = conn, time.Time{}, false
	var again []*pendingCall
	for _, p := range c.wait {
		if p.gen != c.gen {
			p.gen = c.gen
			again = append(again, p)
		}
	}
	c.mu.Unlock()
	go c.readLoop(conn)
	slices.SortFunc(again, func(a, b *pendingCall) int { return int(a.q.ID) - int(b.q.ID) })
	for _, p := range again {
		q := p.q
		if !p.deadline.IsZero() {
			q.TimeoutMS = uint32(max(time.Until(p.deadline), 0) / time.Millisecond)
		}
		// A write that fails here means this connection broke too: the
		// next reconnection sends the call again.
		conn.write(encodeRequest(q), p.fds)
	}
}
