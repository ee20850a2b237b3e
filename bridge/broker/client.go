package broker

import (
	"cmp"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/glbridge/glbridge/bridge"
	"github.com/glbridge/glbridge/internal/fdutil"
)

// Client is a connection to the broker. It is safe for concurrent use: each
// request gets its own request id, writes are serialised, and one reader
// goroutine hands every reply (and the fds it carries) to the goroutine
// waiting for it, so slow and fast requests from different goroutines
// overlap on one connection: an AcquireSync waiting for its key holds up
// nothing else.
//
// Every reference the connection holds is released when it closes, by
// Close, by process exit, or by a crash. A Client from a Dialer with
// Reconnect survives the broker instead: see Dialer.
type Client struct {
	path string
	dial Dialer
	mu   sync.Mutex
	// conn is the connection now (nil while reconnecting); gen counts
	// connections, so that a request written on one that has since broken
	// is sent again on the next, and only once.
	conn *msgConn
	gen  uint64
	next uint32
	wait map[uint32]*pendingCall
	// down is when the connection broke (zero while connected), for how
	// long calls wait for the next one; unavailable says that wait
	// passed, so calls fail at once until the broker is back.
	down        time.Time
	unavailable bool
	closing     bool
	err         error // why the client ended; set once, under mu
	done        chan struct{}
	// held is what this connection holds, kept with Reconnect only:
	// what it would restore to a new broker.
	held heldTable
}

// pendingCall is a request waiting for its reply. q and fds (the caller's,
// open until the call returns) are kept to send it again on a new
// connection; gen is the connection it was last written on.
type pendingCall struct {
	q        request
	fds      []int
	ch       chan clientReply
	gen      uint64
	deadline time.Time // acquire-sync's, to send the time left again
}

type clientReply struct {
	h       header
	payload []byte
	fds     []int
}

// Resource is a resource as OpenKMT, OpenName and Query return it: the
// allocation record and private data, and for opens an fd ready for
// glimport or a Vulkan import.
type Resource struct {
	// Handle is the handle the call was about: for an open, the handle
	// this connection now holds and must CloseHandle (the KMT handle for
	// OpenKMT, a new NT handle for OpenName).
	Handle bridge.Handle
	// KMT is the resource's global handle.
	KMT bridge.Handle
	// Access is what Handle grants (KMT handles grant read and write).
	Access bridge.Access
	// Allocation is the record the creator registered, all an importer
	// needs to import FD (description, sizes, UUIDs).
	Allocation bridge.Allocation
	// Data is the private runtime data; the caller may keep it.
	Data []byte
	// FD is the memory fd, owned by the caller: close it, or give it to an
	// import that takes ownership (glImportMemoryFdEXT,
	// vkAllocateMemory with VkImportMemoryFdInfoKHR). It is -1 from Query.
	// Each open returns a new fd for the same memory.
	FD int
	// Syncs are the resource's semaphores, in the order they were given
	// at create and attached. From an open each FD is a new fd owned by
	// the caller, like FD (close it, or give it to an import that takes
	// it: glImportSemaphoreFdEXT, vkImportSemaphoreFdKHR); from Query
	// they are -1.
	Syncs []SyncFD
	// ServiceAllocated says the broker allocated the memory (Allocate),
	// rather than its creator.
	ServiceAllocated bool
}

// SyncFD is a semaphore fd that travels with a resource: an opaque fd as
// VK_EXTERNAL_SEMAPHORE_HANDLE_TYPE_OPAQUE_FD_BIT exports it, binary or
// timeline. The broker does not look inside; it keeps the fd and hands
// dups to openers.
type SyncFD struct {
	// FD is the semaphore's fd, -1 where a call hands out no fds.
	FD int
	// Timeline says the semaphore is a timeline one, which an importer
	// must know to import it (the fd does not say).
	Timeline bool
}

// AcquireResult is what a successful AcquireSync learns.
type AcquireResult struct {
	// Value is the value the last releaser passed to ReleaseSync, the
	// timeline value it signals when done, which the acquirer's GPU work
	// must wait for; 0 if nobody released with a value yet.
	Value uint64
	// Abandoned says a holder went (its process died, or it closed its
	// handle) without releasing, now or at any time before: the caller
	// holds the mutex whatever key it asked for, and the contents may be
	// half written (WAIT_ABANDONED). As on Windows the mutex stays
	// abandoned: every later acquire reports it too.
	Abandoned bool
}

// InfiniteTimeout makes AcquireSync wait until the key is released to it
// (Windows' INFINITE). Any negative duration does the same.
const InfiniteTimeout time.Duration = -1

// MutexState is a keyed mutex as List reports it.
type MutexState struct {
	// Held says someone holds it: the connection HolderConn of process
	// HolderPID.
	Held       bool
	HolderPID  int32
	HolderConn uint32
	// Abandoned says a holder went without releasing: the mutex is
	// abandoned for good, as on Windows, so every acquirer gets it (when
	// free) with any key and is told so. It may be held meanwhile.
	Abandoned bool
	// LastKey and LastValue are what the last ReleaseSync passed (0, 0
	// initially): a free mutex goes to an acquirer of LastKey.
	LastKey   uint64
	LastValue uint64
	// Waiters is the number of AcquireSync calls waiting.
	Waiters int
}

// ResourceInfo is one resource as List reports it.
type ResourceInfo struct {
	// KMT is the resource's global handle.
	KMT bridge.Handle
	// Names are the names it is shared under, in the order they were
	// given.
	Names []string
	// Allocation is the record its creator registered.
	Allocation bridge.Allocation
	// DataLen is the size of the private runtime data.
	DataLen int
	// CreatorPID is the pid of the creating process; CreatorConnected
	// says whether its connection is still open (only it may UpdateData).
	CreatorPID       int32
	CreatorConnected bool
	// Refs is the number of handle references keeping the resource alive:
	// the sum of Holders' Refs.
	Refs int
	// Holders are the connections holding those references, by
	// connection number.
	Holders []Holder
	// Syncs are the kinds of the resource's semaphores (FD is -1: List
	// hands out no fds).
	Syncs []SyncFD
	// Mutex is the resource's keyed mutex.
	Mutex MutexState
	// NTHandles counts the NT handles to the resource on every
	// connection (each also one of Refs); Duplicates the duplicates of
	// them not yet opened (each one of Refs, of no holder).
	NTHandles, Duplicates int
	// AllocatedOn names the broker's device that allocated the memory
	// (Allocate): a Vulkan device's name, or "host memory". It is empty
	// for memory a client made and registered (Create).
	AllocatedOn string
}

// Holder is a connection holding references to a resource.
type Holder struct {
	// PID and UID are the peer's as the kernel vouched for them when it
	// connected (SO_PEERCRED), not as it claimed.
	PID int32
	UID uint32
	// Conn is the broker's connection number, which tells apart several
	// connections of one process.
	Conn uint32
	// Refs is the number of references the connection holds.
	Refs int
}

// Dial connects to the broker listening at path (DefaultSocketPath() for
// the usual one). The Client ends with its connection; see Dialer for one
// that outlives a broker restart.
func Dial(path string) (*Client, error) {
	return (&Dialer{}).Dial(path)
}

// dialConn opens one protocol connection to path.
func dialConn(path string) (*msgConn, error) {
	uc, err := net.DialUnix("unixpacket", nil, &net.UnixAddr{Name: path, Net: "unixpacket"})
	if err != nil {
		return nil, err
	}
	return &msgConn{uc: uc}, nil
}

// Close closes the connection, which releases every handle it holds.
// Pending calls fail with bridge.ErrClosed. Close is idempotent.
func (c *Client) Close() error {
	c.mu.Lock()
	c.closing = true
	conn := c.conn
	c.mu.Unlock()
	if conn != nil {
		conn.uc.Close()
	}
	<-c.done
	return nil
}

// readLoop reads conn's replies until it breaks, then ends the client or,
// with Reconnect, starts again on a new connection.
func (c *Client) readLoop(conn *msgConn) {
	buf, oob := make([]byte, maxMessageSize), make([]byte, oobSize)
	var err error
	final := false
	for {
		msg, fds, trunc, ctrunc, eof, rerr := readMsg(conn.uc, buf, oob)
		if rerr != nil || eof {
			fdutil.CloseAll(fds)
			err = rerr
			break
		}
		h, herr := decodeHeader(msg)
		if herr != nil || trunc || ctrunc || int(h.NumFDs) != len(fds) || h.Version != protocolVersion {
			// A broker that breaks the protocol cannot be trusted with
			// the rest of the conversation either.
			fdutil.CloseAll(fds)
			err = fmt.Errorf("broker: malformed reply from broker (%v, truncated=%v, fds %d/%d)", herr, trunc || ctrunc, len(fds), h.NumFDs)
			final = true
			break
		}
		if h.Type == msgFatal {
			fdutil.CloseAll(fds)
			err = &Error{Code: h.Status, Detail: "broker dropped the connection: " + string(msg[headerSize:])}
			final = true
			break
		}
		r := clientReply{h: h, payload: append([]byte(nil), msg[headerSize:]...), fds: fds}
		c.mu.Lock()
		p, ok := c.wait[h.ID]
		delete(c.wait, h.ID)
		if ok && c.dial.Reconnect {
			c.track(p, r)
		}
		c.mu.Unlock()
		if !ok {
			fdutil.CloseAll(fds)
			continue
		}
		p.ch <- r
	}
	conn.uc.Close()
	c.mu.Lock()
	if c.dial.Reconnect && !final && !c.closing {
		c.conn, c.down = nil, time.Now()
		c.mu.Unlock()
		c.logger().Warn("broker connection lost; reconnecting", "socket", c.path, "err", err)
		go c.reconnect()
		return
	}
	if err == nil {
		err = bridge.ErrClosed
	} else if !errors.Is(err, bridge.ErrClosed) {
		err = fmt.Errorf("%w: %w", bridge.ErrClosed, err)
	}
	c.endLocked(err)
	c.mu.Unlock()
}

// endLocked ends the client for good with err: pending calls fail, what
// it held for restoring is closed. c.mu is held.
func (c *Client) endLocked(err error) {
	c.err = err
	c.conn = nil
	for id, p := range c.wait {
		delete(c.wait, id)
		close(p.ch)
	}
	c.held.closeAll()
	close(c.done)
}

// roundTrip sends q (with fds, which stay the caller's) and waits for the
// reply. A successful reply's fds belong to the caller; an error reply's
// are closed.
func (c *Client) roundTrip(op string, q request, fds []int) (clientReply, error) {
	p := &pendingCall{q: q, fds: fds, ch: make(chan clientReply, 1)}
	if (q.Type == msgAcquireSync || q.Type == msgWaitFence) && q.TimeoutMS != infiniteTimeoutMS {
		p.deadline = time.Now().Add(time.Duration(q.TimeoutMS) * time.Millisecond)
	}
	c.mu.Lock()
	if c.err != nil || c.unavailable {
		err := c.err
		if err == nil {
			err = c.unavailableErr()
		}
		c.mu.Unlock()
		return clientReply{}, fmt.Errorf("broker: %s: %w", op, err)
	}
	c.next++
	p.q.ID = c.next
	p.gen = c.gen
	c.wait[p.q.ID] = p
	conn := c.conn
	c.mu.Unlock()

	// While reconnecting (conn nil) the request waits to be sent on the
	// next connection; a write on a connection that broke meanwhile is
	// sent again there too.
	if conn != nil {
		if err := conn.write(encodeRequest(p.q), fds); err != nil && !c.dial.Reconnect {
			c.mu.Lock()
			delete(c.wait, p.q.ID)
			c.mu.Unlock()
			// A broker that dropped the connection usually said why first:
			// prefer the reader's account (which wraps bridge.ErrClosed and the
			// broker's reason) to the bare EPIPE.
			if errors.Is(err, net.ErrClosed) || errors.Is(err, unix.EPIPE) || errors.Is(err, unix.ECONNRESET) {
				err = fmt.Errorf("%w: %w", bridge.ErrClosed, err)
				select {
				case <-c.done:
					c.mu.Lock()
					err = c.err
					c.mu.Unlock()
				case <-time.After(time.Second):
				}
			}
			return clientReply{}, fmt.Errorf("broker: %s: send: %w", op, err)
		}
	}
	r, ok := <-p.ch
	if !ok {
		c.mu.Lock()
		err := c.err
		if err == nil {
			err = c.unavailableErr()
		}
		c.mu.Unlock()
		return clientReply{}, fmt.Errorf("broker: %s: %w", op, err)
	}
	if r.h.Status != 0 || r.h.Type != q.Type|replyBit {
		fdutil.CloseAll(r.fds)
		if r.h.Status == 0 {
			return r, &Error{Op: op, Code: CodeBadMessage, Detail: fmt.Sprintf("reply type %v to %v", r.h.Type, q.Type)}
		}
		return r, &Error{Op: op, Code: r.h.Status, Detail: string(r.payload)}
	}
	return r, nil
}

// checkFDs fails a reply that carries other than the n fds its kind
// carries; the caller closes them.
func (r clientReply) checkFDs(n int) error {
	if len(r.fds) != n {
		return perr(CodeBadMessage, "%v carries %d fds, want %d", r.h.Type, len(r.fds), n)
	}
	return nil
}

// withOp returns err, an *Error of a decoder or check, naming the client
// operation; a copy, since some such errors are shared values.
func withOp(op string, err error) error {
	e := *err.(*Error)
	e.Op = op
	return &e
}

// fail closes r's fds, which a reply that failed its checks hands to
// nobody, and returns err naming op.
func (r clientReply) fail(op string, err error) error {
	fdutil.CloseAll(r.fds)
	return withOp(op, err)
}

// call is a round trip whose reply carries n little-endian uint32s and no
// fds (see fixedPayload).
func (c *Client) call(op string, q request, fds []int, n int) ([]uint32, error) {
	r, err := c.roundTrip(op, q, fds)
	if err != nil {
		return nil, err
	}
	if err := r.checkFDs(0); err != nil {
		return nil, r.fail(op, err)
	}
	if len(r.payload) != 4*n {
		return nil, r.fail(op, perr(CodeBadMessage, "reply of %d bytes, want %d", len(r.payload), 4*n))
	}
	v := make([]uint32, n)
	for i := range v {
		v[i] = le.Uint32(r.payload[4*i:])
	}
	return v, nil
}

// Create registers a resource: its memory fd, the allocation record and
// private runtime data of at most MaxPrivateData bytes. It returns the
// resource's KMT handle, which this connection holds until CloseHandle.
// Create sends a copy of memFD; the caller still owns memFD and may close
// it once Create returns.
func (c *Client) Create(alloc bridge.Allocation, memFD int, data []byte) (bridge.Handle, error) {
	return c.CreateWithSync(alloc, memFD, data, nil)
}

// CreateWithSync is Create for a resource that comes with its semaphores:
// at most MaxSyncObjects, which every open hands on after the memory fd.
// Like memFD, the sync fds stay the caller's: the broker keeps copies,
// which it closes when the resource is freed.
func (c *Client) CreateWithSync(alloc bridge.Allocation, memFD int, data []byte, syncs []SyncFD) (bridge.Handle, error) {
	op := "create"
	if err := checkDataLen(len(data)); err != nil {
		return 0, withOp(op, err)
	}
	if len(syncs) > MaxSyncObjects {
		return 0, &Error{Op: op, Code: CodeInvalid, Detail: fmt.Sprintf("%d sync objects, at most %d", len(syncs), MaxSyncObjects)}
	}
	if memFD < 0 {
		panic("broker: Create: negative memory fd")
	}
	fds := []int{memFD}
	q := request{header: header{Type: msgCreate}, Alloc: alloc, Data: data, SyncCount: uint32(len(syncs))}
	for _, s := range syncs {
		if s.FD < 0 {
			panic("broker: CreateWithSync: negative sync fd")
		}
		fds = append(fds, s.FD)
		q.Kinds = append(q.Kinds, kindOf(s.Timeline))
	}
	v, err := c.call(op, q, fds, 2)
	if err != nil {
		return 0, err
	}
	return bridge.Handle(v[0]), nil
}

// Share creates an NT handle on this connection to the resource h names
// (a KMT handle this connection holds, or one of its NT handles), granting
// access, which must not exceed what h grants. A non-empty name lets other
// processes OpenName it, with any rights, while a handle to the named
// object lives (this one, those opened by the name, and duplicates of
// them), as on Windows; see ValidName.
func (c *Client) Share(h bridge.Handle, access bridge.Access, name string) (bridge.Handle, error) {
	op := "share " + h.String()
	if err := checkNameLen(len(name)); err != nil {
		return 0, withOp(op, err)
	}
	v, err := c.call(op, request{header: header{Type: msgShare}, Handle: h, Access: access, Name: name}, nil, 2)
	if err != nil {
		return 0, err
	}
	return bridge.Handle(v[0]), nil
}

// resource is a round trip whose reply is a resource record: for an open
// with its fds (memory first, then one per sync object), which the caller
// then owns; for a query without, the FDs being -1.
func (c *Client) resource(op string, q request, open bool) (Resource, error) {
	r, err := c.roundTrip(op, q, nil)
	if err != nil {
		return Resource{FD: -1}, err
	}
	rec, err := decodeResourceRecord(r.payload, protocolVersion)
	if err == nil {
		want := 0
		if open {
			want = 1 + len(rec.Kinds)
		}
		err = r.checkFDs(want)
	}
	if err != nil {
		return Resource{FD: -1}, r.fail(op, err)
	}
	res := Resource{Handle: rec.Handle, KMT: rec.KMT, Access: rec.Access, Allocation: rec.Alloc, Data: rec.Data, FD: -1,
		Syncs: syncFDs(rec.Kinds, nil), ServiceAllocated: rec.ServiceAllocated}
	if open {
		res.FD, res.Syncs = r.fds[0], syncFDs(rec.Kinds, r.fds[1:])
	}
	return res, nil
}

// syncFDs pairs kinds with fds; nil fds give -1s.
func syncFDs(kinds []syncKind, fds []int) []SyncFD {
	var out []SyncFD
	for i, k := range kinds {
		fd := -1
		if fds != nil {
			fd = fds[i]
		}
		out = append(out, SyncFD{FD: fd, Timeline: k == syncTimeline})
	}
	return out
}

// OpenKMT opens a resource by its KMT global handle. The connection then
// holds one more reference through kmt, released by CloseHandle(kmt).
// The returned FD is the caller's.
func (c *Client) OpenKMT(kmt bridge.Handle) (Resource, error) {
	return c.resource("open "+kmt.String(), request{header: header{Type: msgOpenKMT}, Handle: kmt}, true)
}

// OpenName opens the resource shared under name, asking for access (any
// rights: a name grants them all, as a named object's default security
// does on Windows). The result's Handle is a new NT handle of this
// connection, one more handle to the named object. The returned FD is the
// caller's.
func (c *Client) OpenName(name string, access bridge.Access) (Resource, error) {
	op := fmt.Sprintf("open name %q", name)
	if err := checkNameLen(len(name)); err != nil {
		return Resource{FD: -1}, withOp(op, err)
	}
	return c.resource(op, request{header: header{Type: msgOpenName}, Access: access, Name: name}, true)
}

// Query returns a resource's description and private data without an fd
// (FD is -1). h is any KMT handle, or an NT handle of this connection.
func (c *Client) Query(h bridge.Handle) (Resource, error) {
	return c.resource("query "+h.String(), request{header: header{Type: msgQuery}, Handle: h}, false)
}

// UpdateData replaces the resource's private runtime data. Only the
// connection that created the resource may, through any handle it holds.
func (c *Client) UpdateData(h bridge.Handle, data []byte) error {
	op := "update data " + h.String()
	if err := checkDataLen(len(data)); err != nil {
		return withOp(op, err)
	}
	_, err := c.call(op, request{header: header{Type: msgUpdateData}, Handle: h, Data: data}, nil, 0)
	return err
}

// CloseHandle releases one reference this connection holds through h: an
// NT handle, or one create/open of a KMT handle. The last reference to a
// resource, on any connection, frees it. (Close, by contrast, ends the
// connection.)
func (c *Client) CloseHandle(h bridge.Handle) error {
	_, err := c.call("close "+h.String(), request{header: header{Type: msgClose}, Handle: h}, nil, 0)
	return err
}

// List returns every live resource, in slot order. It takes several
// round trips when the resources do not fit in one message, so under
// concurrent changes it is a consistent view of each page, not of all.
func (c *Client) List() ([]ResourceInfo, error) {
	var out []ResourceInfo
	cursor := uint32(0)
	for {
		r, err := c.roundTrip("list", request{header: header{Type: msgList}, Cursor: cursor, ListFlags: listFlagSyncState | listFlagHandles}, nil)
		if err != nil {
			return nil, err
		}
		if err := r.checkFDs(0); err != nil {
			return nil, r.fail("list", err)
		}
		next, entries, err := decodeListReplyFlags(r.payload, listFlagSyncState|listFlagHandles, protocolVersion)
		if err != nil {
			return nil, withOp("list", err)
		}
		for _, e := range entries {
			refs := int(e.Refs)
			s, h := e.Sync, e.Handles
			out = append(out, ResourceInfo{
				KMT: e.KMT, Names: e.Names, Allocation: e.Alloc, DataLen: int(e.DataLen),
				CreatorPID: e.CreatorPID, CreatorConnected: e.CreatorActive, Refs: refs, Holders: e.Holders,
				AllocatedOn: e.AllocDevice, NTHandles: int(h.NTHandles), Duplicates: int(h.Transfers),
				Syncs: syncFDs(s.Kinds, nil),
				Mutex: MutexState{
					Held: s.State == mutexHeld, HolderPID: s.HolderPID, HolderConn: s.HolderConn,
					Abandoned: h.MutexFlags&listMutexAbandoned != 0, LastKey: s.LastKey, LastValue: s.LastValue, Waiters: int(s.Waiters),
				},
			})
		}
		if next == 0 {
			return out, nil
		}
		if next <= cursor {
			return nil, &Error{Op: "list", Code: CodeBadMessage, Detail: fmt.Sprintf("list cursor went from %d to %d", cursor, next)}
		}
		cursor = next
	}
}

// AttachSync adds a semaphore to a resource created before it, through a
// handle this connection holds; only the creating connection may, and a
// resource carries at most MaxSyncObjects. Opens from then on hand it on;
// connections that opened earlier get it by opening again. s.FD stays the
// caller's: the broker keeps a copy.
func (c *Client) AttachSync(h bridge.Handle, s SyncFD) error {
	op := "attach sync " + h.String()
	if s.FD < 0 {
		panic("broker: AttachSync: negative sync fd")
	}
	_, err := c.call(op, request{header: header{Type: msgAttachSync}, Handle: h, Kind: kindOf(s.Timeline)}, []int{s.FD}, 2)
	return err
}

// AcquireSync acquires the resource's keyed mutex through h (a handle this
// connection holds) once it is free and was last released with key, as
// IDXGIKeyedMutex::AcquireSync does; a fresh resource counts as released
// with key 0. It waits in the broker for at most timeout (rounded up to a
// millisecond; 0 only tries; InfiniteTimeout or any negative value waits
// for ever) and then fails with an error wrapping CodeTimeout. Other calls
// on c proceed meanwhile.
//
// If a holder went without releasing, the mutex is abandoned for good,
// as on Windows: every later acquirer gets it (once it is free) with any
// key and Abandoned set. The mutex is held by h on this
// connection: release it through h; closing h or the connection abandons
// it. Acquiring through h again while h holds or waits is an error
// (CodeInvalid).
func (c *Client) AcquireSync(h bridge.Handle, key uint64, timeout time.Duration) (AcquireResult, error) {
	op := fmt.Sprintf("acquire sync %v key %d", h, key)
	ms := uint32(infiniteTimeoutMS)
	if timeout >= 0 {
		if v := (timeout + time.Millisecond - 1) / time.Millisecond; v < infiniteTimeoutMS {
			ms = uint32(v)
		}
	}
	r, err := c.roundTrip(op, request{header: header{Type: msgAcquireSync}, Handle: h, Key: key, TimeoutMS: ms}, nil)
	if err != nil {
		return AcquireResult{}, err
	}
	ar, err := decodeAcquireReply(r.payload)
	if err == nil {
		err = r.checkFDs(0)
	}
	if err != nil {
		return AcquireResult{}, r.fail(op, err)
	}
	return AcquireResult{Value: ar.Value, Abandoned: ar.Abandoned}, nil
}

// ReleaseSync releases the keyed mutex held through h, as
// IDXGIKeyedMutex::ReleaseSync does: the next AcquireSync of key gets it,
// and learns value, the timeline value the caller's GPU work signals when
// done (0 for none). Only the holder may release (CodeAccessDenied
// otherwise).
func (c *Client) ReleaseSync(h bridge.Handle, key, value uint64) error {
	_, err := c.call(fmt.Sprintf("release sync %v key %d", h, key), request{header: header{Type: msgReleaseSync}, Handle: h, Key: key, Value: value}, nil, 0)
	return err
}

// SyncRequest is the semaphores an Allocate asks for with the memory.
type SyncRequest int

// Sync requests.
const (
	// NoSync: no semaphores; accesses are ordered on the CPU (the
	// fallback path), as on drivers without semaphore fds.
	NoSync SyncRequest = iota
	// BinarySync: binary semaphores, two by default (one per direction,
	// as a binary hand-off uses them).
	BinarySync
	// TimelineSync: one timeline semaphore, which the keyed mutex's
	// values count on.
	TimelineSync
)

// AllocateRequest is what Allocate allocates.
type AllocateRequest struct {
	// Desc describes the resource; it must pass bridge.Desc.Validate.
	Desc bridge.Desc
	// Device is the driver and device UUIDs of the caller's GL
	// (GL_DRIVER_UUID_EXT, GL_DEVICE_UUID_EXT) or Vulkan device: the
	// broker allocates on its helper device of them, so that the caller
	// imports the memory zero-copy. Unused for host memory.
	Device bridge.DeviceID
	// HostMemory asks for host memory instead: a memfd sealed against
	// shrinking and growing, laid out as bridge.HostLayout says, for a GL
	// without GL_EXT_memory_object_fd (the copy path).
	HostMemory bool
	// Sync and SyncCount are the semaphores wanted (Vulkan memory only).
	// SyncCount 0 takes the default: one timeline semaphore, two binary
	// ones.
	Sync      SyncRequest
	SyncCount int
	// Data is the private runtime data, at most MaxPrivateData bytes.
	Data []byte
}

// Allocate has the broker allocate a resource for this connection and
// register it, in one round trip: the broker allocates exportable memory
// on its helper device of req.Device (opening it on first use; a broker
// nobody asks to allocate never loads Vulkan), or host memory, with
// everything a creator's allocation has (the resting layout, the
// record), and the semaphores asked for. The connection then holds the
// resource through its KMT handle, Resource.Handle, as after Create; the
// memory is freed with the last reference. Resource.FD and the sync fds
// are new fds the caller owns, as after OpenKMT.
//
// Refusals are errors matching bridge.ErrInvalidDesc (a description no
// runtime could make), bridge.ErrNoVulkan (no device of those UUIDs, or
// no Vulkan in the broker), bridge.ErrUnsupportedFormat (a format or
// kind the device cannot export, or host memory of a kind the copy path
// does not carry), bridge.ErrNoExternalSemaphore, and bridge.ErrQuota;
// nothing is allocated then.
func (c *Client) Allocate(req AllocateRequest) (Resource, error) {
	op := "allocate " + req.Desc.String()
	if err := checkDataLen(len(req.Data)); err != nil {
		return Resource{FD: -1}, withOp(op, err)
	}
	q := request{header: header{Type: msgAllocate}, Desc: req.Desc, Device: req.Device, Data: req.Data}
	if req.HostMemory {
		q.AllocFlags |= allocateFlagHostMemory
	}
	switch req.Sync {
	case NoSync:
	case BinarySync:
		q.Kind, q.SyncCount = syncBinary, uint32(cmp.Or(req.SyncCount, MaxSyncObjects))
	case TimelineSync:
		q.Kind, q.SyncCount = syncTimeline, uint32(cmp.Or(req.SyncCount, 1))
	default:
		panic(fmt.Sprintf("broker: Allocate: unknown SyncRequest %d", req.Sync))
	}
	return c.resource(op, q, true)
}
